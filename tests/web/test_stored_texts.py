"""Texts Keyplan writes into stored records are read in each reader's language, whoever acted: a German lead's
actions leave no German in an Italian or Persian reader's pages. What a person typed stays as typed."""

import re

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from keyplan.health import onboarding
from keyplan.health import services as health
from keyplan.health.forms import StageForm
from keyplan.health.models import OnboardingStage
from keyplan.planning import services as planning
from keyplan.planning.forms import GoalForm
from keyplan.planning.models import Goal
from keyplan.relationships import services as relationships
from keyplan.relationships.analysis import StaleRule
from keyplan.relationships.templatetags.relationship_tags import watched_text
from keyplan.scoring import services as scoring
from keyplan.scoring.models import Score
from tests.conftest import client_for

LATIN_DIGIT = re.compile(r"[0-9]")


def _save_plan_goal(account, kam, lead) -> Goal:
    with translation.override("de"):
        case = health.open_case(account, by=lead, reason="CFO ging")
        planning.create_plan(account, by=kam, period="FY2027")
        health.add_save_action(case, by=kam, title="Den neuen CFO anrufen")
    case.refresh_from_db()
    return case.plan_goal


def test_a_save_plan_goal_a_german_kam_made_reads_in_each_readers_language(key_account, kam, lead):
    goal = _save_plan_goal(key_account, kam, lead)
    assert goal.text_code == "save_plan"
    assert goal.title.startswith("Keep the account: save plan of the at-risk case of ")  # stored: English, for programs
    assert goal.description == "CFO ging"  # no rule named it: the reason the person gave
    with translation.override("it"):
        italian = goal.label
        assert italian.startswith(gettext("Keep the account: save plan of the at-risk case of %(day)s").split("%")[0])
    assert italian != goal.title
    page = client_for(kam)
    page.cookies["django_language"] = "fa"
    body = page.get(reverse("planning:plan", args=[key_account.pk, goal.plan_id])).content.decode()
    with translation.override("fa"):
        persian = goal.label
    assert persian in body and goal.title not in body
    assert not LATIN_DIGIT.search(persian), persian  # the case's day in the Solar Hijri calendar, Persian digits


def test_a_goal_keyplan_wrote_stays_keyplans_until_someone_rewrites_it(key_account, kam, lead):
    goal = _save_plan_goal(key_account, kam, lead)
    stored = goal.title
    fields = {"horizon": goal.horizon, "metric": goal.metric, "status": "at_risk", "version": goal.version}
    with translation.override("nl"):  # a Dutch KAM changes the status and leaves the title as shown
        form = GoalForm({**fields, "title": goal.label, "description": goal.explanation}, instance=goal, plan=goal.plan)
        assert form.is_valid(), form.errors
        planning.update_goal(goal, by=kam, version=goal.version, changes=form.changes())
    goal.refresh_from_db()
    assert (goal.title, goal.status) == (stored, "at_risk")
    with translation.override("nl"):  # now she writes her own title: it is hers, in every language
        form = GoalForm({**fields, "version": goal.version, "title": "Klant behouden", "description": ""}, instance=goal,
                        plan=goal.plan)
        assert form.is_valid(), form.errors
        planning.update_goal(goal, by=kam, version=goal.version, changes=form.changes())
    goal.refresh_from_db()
    with translation.override("de"):
        assert goal.label == "Klant behouden"


def test_a_library_criterion_a_german_lead_adds_is_stored_in_english(lead):
    with translation.override("de"):
        criterion = scoring.add_suggested_criterion(by=lead, key="product_fit")
    assert (criterion.name, criterion.description) == (
        "Product fit", "How well our products and services solve this customer's problems, today and as they grow.")
    with translation.override("it"):
        assert criterion.label == gettext("Product fit") != "Product fit"


def test_onboarding_from_the_default_template_reads_in_each_language(key_account, kam):
    with translation.override("de"):
        stages = onboarding.start_onboarding(key_account, by=kam)
    assert all(s.name in onboarding.TEMPLATE_TEXTS for s in stages)
    first = OnboardingStage.objects.get(pk=stages[0].pk)
    with translation.override("nl"):
        dutch = first.label
        assert dutch == gettext(first.name) != first.name
        assert [i["item"] for i in first.items] == [gettext(i["item"]) for i in first.checklist]
        # Saved from the form as shown: the template's texts stay English; a line she adds is hers.
        lines = [i["item"] for i in first.items] + ["Eigen punt"]
        form = StageForm({"name": dutch, "checklist": "\n".join(lines), "version": first.version}, account=key_account,
                         stage=first)
        assert form.is_valid(), form.errors
        changes = form.changes()
    assert changes["name"] == first.name
    assert [i["item"] for i in changes["checklist"]] == [i["item"] for i in first.checklist] + ["Eigen punt"]


def test_notes_on_computed_scores_are_read_in_each_language(lead, account):
    with translation.override("de"):
        coverage = scoring.add_suggested_criterion(by=lead, key="existing_relationship")
        relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo", "buying_role": "decision_maker"})
    score = Score.objects.get(account=account, criterion=coverage)
    assert (score.note_code, score.note_params, score.note) == ("coverage", {"n": 1}, "1 stakeholder on the map.")
    with translation.override("fa"):
        assert score.note_text == "۱ ذی‌نفع روی نقشه."
    with translation.override("de"):
        scoring.set_score(account, by=lead, criterion=scoring.create_criterion(
            by=lead, name="Eigenes Kriterium", group="growth"), value=5, note="Eigene Notiz")
    card = client_for(lead)
    card.cookies["django_language"] = "it"
    body = card.get(reverse("scoring:account_card", args=[account.pk])).content.decode()
    assert "1 stakeholder sulla mappa." in body and "Eigene Notiz" in body and "on the map" not in body


def test_a_credit_rating_note_is_a_code(lead, account):
    with translation.override("fa"):
        solvency = scoring.add_suggested_criterion(by=lead, key="solvency")
        scoring.import_credit_ratings([(account.external_id, "bbb")], by=lead)
    score = Score.objects.get(account=account, criterion=solvency)
    assert (score.note, score.note_code, score.note_params) == ("Credit rating BBB", "credit_rating", {"rating": "BBB"})


def test_whom_the_stale_alerts_watch_reads_as_each_language_writes_it():
    rule = StaleRule(days=90, powers=("high",), roles=("decision_maker", "champion"), key_contacts=True)
    with translation.override("de"):
        german = watched_text(rule)
    assert "Entscheidungsträger" in german and "Champions" in german and "hoch" in german, german
    assert "entscheidungsträger" not in german


def test_the_api_names_the_code_of_a_goal_keyplan_wrote(key_account, kam, lead, api_client):
    goal = _save_plan_goal(key_account, kam, lead)
    body = api_client(kam).get(f"/api/v1/accounts/{key_account.pk}/plans/{goal.plan_id}/goals/{goal.pk}").json()
    assert (body["title"], body["text_code"]) == (goal.title, "save_plan")
    assert body["text_params"]["day"] == goal.text_params["day"]


def test_the_api_names_the_code_and_figures_of_a_note_keyplan_wrote_on_a_score(lead, account, api_client):
    solvency = scoring.add_suggested_criterion(by=lead, key="solvency")
    scoring.import_credit_ratings([(account.external_id, "bbb")], by=lead)
    client = api_client(lead)
    [score] = client.get(f"/api/v1/scores/?account_id={account.pk}&criterion_id={solvency.pk}").json()["items"]
    assert (score["note"], score["note_code"], score["note_params"]) == ("Credit rating BBB", "credit_rating", {"rating": "BBB"})
    [latest, *_] = client.get(f"/api/v1/scores/history?account_id={account.pk}&criterion_id={solvency.pk}").json()["items"]
    assert (latest["note_code"], latest["note_params"]) == ("credit_rating", {"rating": "BBB"})
    # A person's note has no code.
    scoring.set_score(account, by=lead, criterion=scoring.create_criterion(by=lead, name="Own", group="growth"), value=5,
                      note="Mine")
    own = [s for s in client.get(f"/api/v1/scores/?account_id={account.pk}").json()["items"] if s["note"] == "Mine"]
    assert [(s["note_code"], s["note_params"]) for s in own] == [("", {})]
