"""Graph rules hold under concurrent writes, on SQLite and PostgreSQL: two requests at the same moment,
"A reports to B" and "B reports to A" (or "A under B" and "B under A" in the account hierarchy), never
store a cycle. Each write runs in its own thread with its own database connection, as two web requests do."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, close_old_connections, connection

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Stakeholder

ROUNDS = 5


def _race(*writes) -> list[object]:
    """Run the writes at once (a barrier releases them together); what each returned or raised."""
    barrier = threading.Barrier(len(writes))
    results: list[object] = [None] * len(writes)

    def run(index, write):
        try:
            barrier.wait()
            results[index] = write()
        except (ValidationError, OperationalError) as error:  # refused, or busy: either way nothing written
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _refused_for_the_cycle(refused) -> None:
    """PostgreSQL waits for the first writer's lock and then sees the cycle. The tests' SQLite database is
    in memory with a shared cache, whose table locks answer "busy" at once (a file database waits out
    its busy timeout like PostgreSQL): busy is a refusal too, with nothing written (a 503 for a user)."""
    if isinstance(refused, OperationalError) and connection.vendor == "sqlite":
        assert "locked" in str(refused), refused
        return
    assert isinstance(refused, ValidationError) and "cycle" in str(refused), refused


@pytest.mark.django_db(transaction=True)
def test_two_reporting_lines_at_once_never_make_a_cycle(lead, account):
    for round_ in range(ROUNDS):
        a = relationships.create_stakeholder(account, by=lead, data={"name": f"Anna {round_}"})
        b = relationships.create_stakeholder(account, by=lead, data={"name": f"Bert {round_}"})
        results = _race(
            lambda: relationships.update_stakeholder(a, by=lead, changes={"reports_to": Stakeholder.objects.get(pk=b.pk)}),
            lambda: relationships.update_stakeholder(b, by=lead, changes={"reports_to": Stakeholder.objects.get(pk=a.pk)}),
        )
        a.refresh_from_db()
        b.refresh_from_db()
        assert not (a.reports_to_id == b.pk and b.reports_to_id == a.pk), f"cycle stored in round {round_}"
        assert sum(isinstance(r, Stakeholder) for r in results) == 1, results  # one wins, the other is refused
        _refused_for_the_cycle(next(r for r in results if not isinstance(r, Stakeholder)))


@pytest.mark.django_db(transaction=True)
def test_two_parents_at_once_never_make_a_cycle(lead, make_account):
    for round_ in range(ROUNDS):
        a = make_account(f"Alpha {round_}")
        b = make_account(f"Beta {round_}")
        results = _race(
            lambda: accounts.update_account(a, by=lead, changes={"parent": Account.objects.get(pk=b.pk)}),
            lambda: accounts.update_account(b, by=lead, changes={"parent": Account.objects.get(pk=a.pk)}),
        )
        a.refresh_from_db()
        b.refresh_from_db()
        assert not (a.parent_id == b.pk and b.parent_id == a.pk), f"cycle stored in round {round_}"
        assert sum(isinstance(r, Account) for r in results) == 1, results
        _refused_for_the_cycle(next(r for r in results if not isinstance(r, Account)))
