"""The home page: the KAM process as a checklist on a new installation, "this week" for a KAM, the program
at a glance for a lead; and the login page's hint at the demo logins."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier
from keyplan.relationships import services as relationships
from keyplan.scoring import services as scoring
from tests.conftest import client_for
from tests.scoring.conftest import criteria, worked_example  # noqa: F401  (fixtures)


def _steps(html: str) -> dict[str, bool]:
    import re

    return {key: cls == "done" for cls, key in re.findall(r'<li class="(done|)" id="step-(\w+)">', html)}


def test_a_new_installation_gets_the_checklist_with_nothing_ticked(lead):
    html = client_for(lead).get("/").content.decode()
    assert "Getting started" in html and "0 of 8 steps done" in html
    assert list(_steps(html)) == ["import", "criteria", "score", "round", "accept", "team", "stakeholders", "plan"]
    assert not any(_steps(html).values())
    for url in ("/portfolio/imports/", "/selection/criteria/", "/selection/", "/selection/rounds/", "/accounts/workload/",
                "/relationships/", "/plans/"):
        assert f'href="{url}"' in html


def test_the_steps_are_ticked_from_the_data(lead, kam, worked_example, criteria):
    client = client_for(lead)
    assert {k for k, v in _steps(client.get("/").content.decode()).items() if v} == {"criteria", "score"}
    selection_round = scoring.create_round(by=lead, name="FY", capacity=1)
    proposal = selection_round.proposals.get()
    scoring.accept_proposal(proposal, by=lead)
    html = client.get("/").content.decode()
    assert {k for k, v in _steps(html).items() if v} == {"criteria", "score", "round", "accept"}
    assert f'href="/selection/rounds/{selection_round.pk}/"' in html
    assert "0 of 1 key accounts" in html
    key = proposal.account
    accounts.add_team_member(key, by=lead, user=kam, role=TeamRole.KAM)
    relationships.create_stakeholder(key, by=lead, data={"name": "Clara Ceo"})
    html = client.get("/").content.decode()
    assert {k for k, v in _steps(html).items() if v} == {"criteria", "score", "round", "accept", "team", "stakeholders"}
    # Without a planning area the plan step stays open, with its link.
    assert _steps(html)["plan"] is False


def test_a_kam_sees_this_week_for_their_key_accounts(lead, kam, kam_account, make_account):
    accounts.set_tier(kam_account, by=lead, tier=Tier.KEY, reason="Selected")
    today = timezone.localdate()
    cfo = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Frank Finance", "buying_role": "economic_buyer"})
    relationships.log_interaction(kam_account, by=kam, kind="call", date=today - datetime.timedelta(days=100),
                                  summary="Budget talk", stakeholders=[cfo], next_step="Send the offer", next_step_owner=kam,
                                  next_step_due=today - datetime.timedelta(days=2))
    other = make_account("Not mine")
    html = client_for(kam).get("/").content.decode()
    assert 'id="this-week"' in html and "Getting started" not in html  # the checklist is for leads
    week = html[html.index('id="this-week"'):]
    section = week[:week.index("</section>")]
    assert section.count('<article class="todo">') == section.count("</article>") == 1  # each account closes its own
    assert "Acme Manufacturing" in week and "Not mine" not in week
    assert "Frank Finance</bdi> was last contacted 100 days ago." in week
    assert "Send the offer" in week and "overdue" in week
    assert 'id="program"' not in html
    del other


def test_this_week_lists_the_users_overdue_and_due_plan_actions_with_a_link_to_the_plan(lead, kam, kam_account, make_user):
    from keyplan.planning import services as planning

    accounts.set_tier(kam_account, by=lead, tier=Tier.KEY, reason="Selected")
    sales = make_user("sam", first_name="Sam", last_name="Sales")
    accounts.add_team_member(kam_account, by=lead, user=sales, role=TeamRole.SALES)
    today, day = timezone.localdate(), datetime.timedelta(days=1)
    plan = planning.create_plan(kam_account, by=kam, period=f"FY{today.year}")
    goal = planning.add_goal(plan, by=kam, data={"title": "Win finance", "owner": kam})
    late = planning.add_action(goal, by=kam, data={"title": "Book the CFO meeting", "owner": kam, "due": today - 3 * day})
    soon = planning.add_action(goal, by=kam, data={"title": "Send the value proposition", "owner": kam, "due": today + 5 * day})
    planning.add_action(goal, by=kam, data={"title": "Later this quarter", "owner": kam, "due": today + 40 * day})
    planning.add_action(goal, by=kam, data={"title": "Already done", "owner": kam, "due": today - day, "status": "done"})
    planning.add_action(goal, by=kam, data={"title": "Sam's call", "owner": sales, "due": today})
    week = client_for(kam).get("/").content.decode()
    week = week[week.index('id="this-week"'):]
    assert "Book the CFO meeting" in week and "Send the value proposition" in week
    assert "Later this quarter" not in week and "Already done" not in week and "Sam&#x27;s call" not in week
    assert f'href="/accounts/{kam_account.pk}/plans/{plan.pk}/#action-{late.pk}"' in week
    assert week.index("Book the CFO meeting") < week.index("Send the value proposition") and soon.pk
    # A team member who is nobody's KAM sees their own plan actions too.
    other = client_for(sales).get("/").content.decode()
    assert "Sam&#x27;s call" in other[other.index('id="this-week"'):] and "Book the CFO meeting" not in other


def test_a_lead_sees_the_program_at_a_glance(lead, kam, make_user, make_account):
    big = make_account("Big Co")
    accounts.set_tier(big, by=lead, tier=Tier.KEY, reason="Selected")
    busy = make_user("busy", kam_capacity=1)
    for name in ("One", "Two"):
        a = make_account(name)
        accounts.set_tier(a, by=lead, tier=Tier.KEY, reason="Selected")
        accounts.add_team_member(a, by=lead, user=busy, role=TeamRole.KAM)
    html = client_for(lead).get("/").content.decode()
    glance = html[html.index('id="program"'):]
    assert "<strong>3</strong> key accounts" in glance
    assert "1 key account manager carries more key accounts than their capacity." in glance and "(2/1)" in glance
    assert "1 key account has no key account manager." in glance and "Big Co" in glance
    assert "3 key accounts have no executive sponsor." in glance
    assert "No proposal is waiting for a decision." in glance
    assert "Your accounts" not in html  # not on any team: no empty card


def test_the_login_page_hints_at_the_demo_logins_only_when_the_demo_is_loaded(make_user):
    assert "Demo logins" not in Client().get("/login/").content.decode()
    make_user("someone")  # an ordinary installation
    assert "Demo logins" not in Client().get("/login/").content.decode()
    make_user("lead", email="lead@demo.keyplan.invalid")
    html = Client().get("/login/").content.decode()
    assert "Demo logins" in html and "keyplan-demo" in html and "<code>lead</code>" in html


def test_the_key_status_tiles_count_in_the_plural(lead, make_account):
    make_account("Firm A")
    body = client_for(lead).get("/").content.decode()
    labels = re.findall(r'class="tile tier-\w+"[^>]*><span class="tile-value">[^<]*</span><span class="tile-label">([^<]+)<', body)
    assert labels == ["Key accounts", "Candidates", "Standard accounts"], labels


@pytest.mark.parametrize(("language", "comma"), [("en", ", "), ("zh-hans", "、"), ("fa", "،\u200f ")])
def test_lists_of_names_read_as_each_language_writes_a_list(lead, language, comma):
    for name in ("Alpha Corp", "Beta Corp"):
        accounts.create_account(by=lead, data={"name": name, "external_id": name[:4]}, tier="key")  # no sponsor
    client = client_for(lead)
    client.cookies["django_language"] = language
    body = client.get("/").content.decode()
    assert re.search(r"<bdi>(Alpha|Beta) Corp</bdi></a>" + re.escape(comma) + r"<a ", body), body
