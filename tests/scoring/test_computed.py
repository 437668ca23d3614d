"""Scores computed from data: estimates while the data is missing, recomputed when the data changes,
and a round that never freezes a score older than its data."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from keyplan.accounts import services as accounts
from keyplan.relationships import services as relationships
from keyplan.scoring import services
from keyplan.scoring.models import RoundScore, Score
from tests.conftest import client_for


@pytest.fixture
def coverage(lead):
    return services.add_suggested_criterion(by=lead, key="existing_relationship")


def _score(account, criterion):
    return Score.objects.filter(account=account, criterion=criterion).first()


def test_a_computed_criterion_without_data_takes_an_estimate_with_who_and_when(lead, coverage, account):
    score = services.set_score(account, by=lead, criterion=coverage, value=6, note="Met their CEO at a fair")
    assert score.estimate and score.scored_by == lead and score.scored_at is not None and score.computed_at is None
    # It counts like any score, and says it is an estimate.
    payload = services.scores_payload(lead)
    assert payload["accounts"][0]["scores"] == {"Existing relationship": 6}
    assert payload["accounts"][0]["estimates"] == ["Existing relationship"]
    # A person may revise their estimate.
    assert services.set_score(account, by=lead, criterion=coverage, value=7).value == 7


def test_the_data_replaces_the_estimate_as_soon_as_it_arrives(lead, coverage, account):
    services.set_score(account, by=lead, criterion=coverage, value=6)
    # A stakeholder saved: that account's coverage is recomputed at once, from the map.
    relationships.create_stakeholder(account, by=lead, data={
        "name": "Clara Ceo", "buying_role": "decision_maker", "decision_power": "high", "sentiment": "supporter"})
    score = _score(account, coverage)
    # 1, + 2 for a decision maker known, + 1 as none is a critic, + 1 for a supporter with high power = 5
    assert (score.value, score.estimate, score.scored_by) == (5, False, None)
    assert score.computed_at is not None
    assert score.history.filter(estimate=True, value=6).exists()  # the estimate stays in the history
    # Now the data gives the score: no one overrides it by hand.
    with pytest.raises(ValidationError) as error:
        services.set_score(account, by=lead, criterion=coverage, value=9)
    assert "criterion" in error.value.message_dict
    assert _score(account, coverage).value == 5


def test_an_interaction_recomputes_coverage_with_its_people(lead, coverage, account):
    clara = relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo", "buying_role": "decision_maker"})
    assert _score(account, coverage).value == 4  # 1 + 2 decision maker known + 1 not a critic
    day = timezone.localdate() - datetime.timedelta(days=2)
    relationships.log_interaction(account, by=lead, kind="call", date=day, summary="Intro", stakeholders=[clara])
    relationships.log_interaction(account, by=lead, kind="meeting", date=day, summary="Kick-off", stakeholders=[clara])
    # A call and a meeting (3 points) make the contact medium: + 1 for a contact, + 2 for a decision maker in contact.
    # The interaction's people are set after it is saved: the recompute follows them.
    assert _score(account, coverage).value == 7


def test_accounts_without_stakeholders_get_no_coverage_score_and_keep_their_estimate(lead, coverage, make_account):
    """The finding: taking a round set "existing relationship" to 1 for every account without stakeholders."""
    prospect, other = make_account("Prospect"), make_account("Other")
    services.set_score(prospect, by=lead, criterion=coverage, value=7)
    fit = services.create_criterion(by=lead, name="Product fit", group="growth")
    for a in (prospect, other):
        services.set_score(a, by=lead, criterion=fit, value=5)
    selection_round = services.create_round(by=lead, name="FY", refresh=True)
    assert _score(other, coverage) is None
    assert _score(prospect, coverage).value == 7 and _score(prospect, coverage).estimate
    frozen = dict(RoundScore.objects.filter(round=selection_round, criterion=coverage).values_list("account_id", "value"))
    assert frozen == {prospect.pk: 7}


def test_a_round_recomputes_what_is_older_than_its_data(lead, coverage, account):
    relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo"})
    assert _score(account, coverage).value == 1 + 0  # a stakeholder without contact or role
    # Data written without a save signal (a bulk load): the score is now older than the data.
    from keyplan.relationships.models import Stakeholder

    Stakeholder.objects.filter(account=account).update(buying_role="decision_maker", updated_at=timezone.now())
    assert services.stale_criteria() == [coverage]
    selection_round = services.create_round(by=lead, name="FY", refresh=False)
    assert services.stale_criteria() == []
    frozen = RoundScore.objects.get(round=selection_round, criterion=coverage, account=account)
    assert frozen.value == _score(account, coverage).value == 4  # 1 + 2 decision maker known + 1 not a critic


def test_referrals_are_counted_per_referrer(lead, make_account):
    referrals = services.add_suggested_criterion(by=lead, key="referrals")
    assert referrals.group == "growth" and referrals.source == "referrals"
    hub, a, b = make_account("Hub"), make_account("A"), make_account("B")
    # No referrer recorded anywhere: no data, nothing computed.
    result = services.refresh_computed_scores(by=lead)
    assert result.skipped and not Score.objects.exists()
    accounts.update_account(a, by=lead, changes={"referred_by": hub})
    assert _score(hub, referrals).value == 5  # one referral, recomputed when the referrer was saved
    accounts.update_account(b, by=lead, changes={"referred_by": hub})
    assert _score(hub, referrals).value == 7
    services.refresh_computed_scores(by=lead)
    assert {x.account.name: x.value for x in Score.objects.filter(criterion=referrals)} == {"Hub": 7, "A": 1, "B": 1}
    accounts.update_account(b, by=lead, changes={"referred_by": None})
    assert _score(hub, referrals).value == 5
    with pytest.raises(ValidationError) as error:
        accounts.update_account(hub, by=lead, changes={"referred_by": hub})
    assert "referred_by" in error.value.message_dict


def test_the_suggested_library_follows_the_guides():
    groups = {s["key"]: s["group"] for s in services.SUGGESTED}
    assert groups["channel_partner"] == groups["existing_relationship"] == "harmony"
    assert groups["influence_authority"] == "growth" and groups["referrals"] == "growth"


def test_an_import_has_the_worker_recompute_the_revenue_scores(lead, make_account, run_worker):
    from keyplan.revenue import uploads

    trend = services.add_suggested_criterion(by=lead, key="revenue_potential")
    acme = make_account("Acme", external_id="C-1")
    services.set_score(acme, by=lead, criterion=trend, value=3, note="A guess before the first import")
    day = timezone.localdate().replace(day=1) - datetime.timedelta(days=20)
    csv = f"account_id,date,amount\nC-1,{day.isoformat()},500\n".encode()
    upload = uploads.save_upload(SimpleUploadedFile("l.csv", csv), kind="ledger", by=lead)
    uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
    run_worker()  # runs the import, which queues the recompute, which the worker runs too
    score = _score(acme, trend)
    assert (score.value, score.estimate) == (8, False)  # new revenue without any the year before → 8
    assert score.computed_at is not None


def test_the_matrix_marks_estimates_and_shows_when_scores_were_computed(lead, coverage, make_account):
    prospect, mapped = make_account("Prospect"), make_account("Mapped")
    services.set_score(prospect, by=lead, criterion=coverage, value=6)
    relationships.create_stakeholder(mapped, by=lead, data={"name": "Clara Ceo"})
    html = client_for(lead).get("/selection/").content.decode()
    assert "estimate" in html and "≈6" in html
    assert "Estimate by lead" in html or "Estimate by Lena Lead" in html
    assert "Computed from data" in html
    # The estimate cell opens an editor; the computed one does not.
    assert f"/selection/score/{prospect.pk}/{coverage.pk}/" in html
    assert f"/selection/score/{mapped.pk}/{coverage.pk}/" not in html
