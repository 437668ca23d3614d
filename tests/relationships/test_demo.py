"""The demo portfolio gains stakeholder maps that make every relationship view worth opening."""

import datetime

import pytest

from keyplan.accounts.models import Account, Tier
from keyplan.demo.generator import build_demo
from keyplan.relationships import analysis, services
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder

TODAY = datetime.date(2026, 3, 2)


def test_key_accounts_get_maps_with_meaningful_cases(db):
    build_demo(accounts=120, seed=42, today=TODAY)
    key = list(Account.objects.filter(tier=Tier.KEY))
    assert key and all(Stakeholder.objects.filter(account=a).count() >= 14 for a in key)
    assert not Stakeholder.objects.exclude(account__tier=Tier.KEY).exists()
    assert Stakeholder.objects.exclude(external_organisation="").filter(title="Senior Consultant").count() == len(key)
    assert InfluenceLine.objects.filter(polarity="negative").exists()
    urgent = paths = owned = risks = no_path = stale = duplicates = planned = 0
    for account in key:
        targets = services.who_to_win(account, today=TODAY)
        urgent += any(t.urgent for t in targets)
        paths += any(t.paths for t in targets)
        owned += any(t.path_owner for t in targets)
        risks += any(t.risks for t in targets)
        no_path += any(not t.paths for t in targets)
        stale += bool(analysis.stale_relationships(services.people(account, today=TODAY), today=TODAY))
        duplicates += bool(services.duplicate_next_steps(account))
        planned += services.planned_meetings(account, today=TODAY).exists()
        # Every map is a valid hierarchy: the layout places everyone.
        assert len(analysis.map_layout(services.people(account, today=TODAY)).boxes) == Stakeholder.objects.filter(account=account).count()
    assert urgent and risks and no_path and duplicates and owned
    assert paths == len(key) and stale == len(key) and planned == len(key)
    # The case appears: a critical CFO reachable through the head of operations, the auditor against us.
    cfo_cases = [t for a in key for t in services.who_to_win(a, today=TODAY)[:1]
                 if t.person.title == "Chief Financial Officer" and t.person.sentiment == "critic"]
    assert cfo_cases and any(t.best_path.start.title == "Head of Operations" and t.risks[0].source.title == "Lead Auditor"
                             for t in cfo_cases)
    # One key account has a large map.
    assert max(Stakeholder.objects.filter(account=a).count() for a in key) >= 50
    assert Interaction.objects.filter(date__gt=TODAY).exists() and Interaction.objects.exclude(next_step="").exists()


@pytest.mark.django_db(transaction=True)  # flush needs to run outside a test transaction on PostgreSQL
def test_same_seed_same_maps():
    def snapshot():
        return sorted(Stakeholder.objects.values_list("account__external_id", "name", "title", "sentiment", "reports_to__name"))

    build_demo(accounts=60, seed=9, today=TODAY)
    first = snapshot(), Interaction.objects.count(), InfluenceLine.objects.count()
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    build_demo(accounts=60, seed=9, today=TODAY)
    assert (snapshot(), Interaction.objects.count(), InfluenceLine.objects.count()) == first
