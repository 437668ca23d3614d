"""keyplan.core.db: the bulk helpers the imports share."""

from keyplan.accounts.models import Account
from keyplan.core.db import reserve_ids


def test_reserved_ids_are_new_distinct_and_not_given_again(db):
    existing = Account.objects.create(external_id="R-0", name="Before")
    first = reserve_ids(Account, 3)
    assert len(set(first)) == 3 and min(first) > existing.pk
    for pk in first:  # the caller writes its rows with them
        Account.objects.create(pk=pk, external_id=f"R-{pk}", name="Reserved")
    second = reserve_ids(Account, 2)
    assert len(set(second)) == 2 and min(second) > max(first)
    assert reserve_ids(Account, 0) == []
