"""Fixtures for relationships: stakeholders, lines and interactions made through the services users go through."""

import datetime

import pytest

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.relationships import services


@pytest.fixture
def make_stakeholder(lead):
    def make(account, name: str, *, by=None, **data):
        return services.create_stakeholder(account, by=by or lead, data={"name": name, **data})

    return make


@pytest.fixture
def log(lead, today):
    """Log an interaction ``days_ago`` days ago (negative: planned) with the given stakeholders."""

    def make(account, *people, days_ago: int = 1, kind: str = "meeting", by=None, summary: str = "Quarterly review", **extra):
        return services.log_interaction(
            account, by=by or lead, kind=kind, date=today - datetime.timedelta(days=days_ago), summary=summary,
            stakeholders=people, **extra,
        )

    return make


@pytest.fixture
def sales(make_user, kam_account, lead):
    """A second team member on ``kam_account``."""
    user = make_user("sam", first_name="Sam", last_name="Sales")
    accounts.add_team_member(kam_account, by=lead, user=user, role=TeamRole.SALES)
    return user


@pytest.fixture
def cfo_case(kam_account, kam, make_stakeholder):
    """The issue's case: a critical CFO with high power, a supportive head of operations with a positive
    line to the CFO, and an external auditor with a negative line to the CFO."""
    ceo = make_stakeholder(kam_account, "Clara Ceo", title="CEO", decision_power="high", buying_role="decision_maker",
                           sentiment="neutral", contact_strength="medium", owner=kam)
    cfo = make_stakeholder(kam_account, "Frank Finance", title="CFO", department="Finance", reports_to=ceo,
                           decision_power="high", sentiment="critic", buying_role="economic_buyer", contact_strength="weak")
    ops = make_stakeholder(kam_account, "Olga Operations", title="Head of operations", department="Operations",
                           reports_to=ceo, decision_power="medium", sentiment="supporter", contact_strength="strong",
                           owner=kam, buying_role="champion")
    auditor = make_stakeholder(kam_account, "Arne Audit", title="Auditor", external_organisation="Van Dijk Audit",
                               decision_power="low", sentiment="neutral")
    services.add_influence_line(kam_account, by=kam, source=ops, target=cfo, polarity="positive", strength="strong",
                                note="They play golf")
    services.add_influence_line(kam_account, by=kam, source=auditor, target=cfo, polarity="negative", strength="medium",
                                note="Questions our pricing")
    return {"ceo": ceo, "cfo": cfo, "ops": ops, "auditor": auditor}
