import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier, TierChange
from keyplan.scoring import services
from keyplan.scoring.models import (
    Criterion,
    Proposal,
    RoundAccount,
    RoundScore,
    Score,
    SelectionRound,
)
from tests.conftest import client_for


def totals(user):
    return {a["name"]: (a["growth_total"], a["harmony_total"], a["total"], a["rank"])
            for a in services.scores_payload(user)["accounts"]}


def test_worked_example_totals_and_order(lead, worked_example):
    assert totals(lead) == {
        "Charlie": (6.85, 8.70, 7.78, 1),
        "Alpha": (7.55, 6.90, 7.23, 2),
        "Bravo": (8.50, 4.70, 6.60, 3),
    }
    payload = services.scores_payload(lead)
    assert [a["name"] for a in payload["accounts"]] == ["Charlie", "Alpha", "Bravo"]
    assert payload["accounts"][0]["scores"]["Cultural fit"] == 9


def test_weights_that_do_not_add_up_are_normalised_and_warned(lead, make_account):
    fit = services.create_criterion(by=lead, name="Fit", group="growth", weight=2)
    size = services.create_criterion(by=lead, name="Size", group="growth", weight=1)
    culture = services.create_criterion(by=lead, name="Culture", group="harmony", weight=100)
    account = make_account("Delta")
    services.set_score(account, by=lead, criterion=fit, value=9)
    services.set_score(account, by=lead, criterion=size, value=3)
    services.set_score(account, by=lead, criterion=culture, value=4)
    row = services.scores_payload(lead)["accounts"][0]
    assert (row["growth_total"], row["harmony_total"], row["total"]) == (7.0, 4.0, 5.5)
    codes = {(w["group"], w["code"]) for w in services.configuration_warnings()}
    assert codes == {("growth", "count"), ("growth", "weights"), ("harmony", "count")}
    normalised = next(w for w in services.configuration_warnings() if w["code"] == "weights")["normalised"]
    assert normalised == {"Fit": 66.7, "Size": 33.3}


def test_an_account_scored_in_one_group_only_has_no_rank(lead, criteria, make_account):
    account = make_account("Echo")
    services.set_score(account, by=lead, criterion=criteria[0], value=7)
    row = services.scores_payload(lead)["accounts"][0]
    assert (row["growth_total"], row["harmony_total"], row["total"], row["rank"], row["missing"]) == (7.0, None, None, None, 5)


def test_rescoring_keeps_history(lead, kam, criteria, kam_account):
    services.set_score(kam_account, by=kam, criterion=criteria[0], value=4, note="first look")
    services.set_score(kam_account, by=lead, criterion=criteria[0], value=7, note="after the workshop")
    score = Score.objects.get(account=kam_account, criterion=criteria[0])
    assert (score.value, score.note, score.scored_by) == (7, "after the workshop", lead)
    history = list(score.history.order_by("history_date").values_list("value", "note", "history_user__username"))
    assert history == [(4, "first look", "kam"), (7, "after the workshop", "lead")]
    card = services.account_card(kam_account)
    assert [h["value"] for h in card["history"]] == [7, 4]


@pytest.mark.parametrize("value", [0, 11, -3, "7.5", "ten", None])
def test_score_outside_the_scale_is_refused_and_nothing_written(lead, criteria, account, value):
    with pytest.raises(ValidationError) as error:
        services.set_score(account, by=lead, criterion=criteria[0], value=value)
    assert "value" in error.value.message_dict
    assert not Score.objects.exists()


def test_score_permissions(kam, outsider, viewer, criteria, kam_account):
    services.set_score(kam_account, by=kam, criterion=criteria[0], value=6)
    for user in (outsider, viewer):
        with pytest.raises(PermissionDenied):
            services.set_score(kam_account, by=user, criterion=criteria[0], value=8)
    assert Score.objects.get().value == 6


def test_computed_criteria_take_an_estimate_only_while_the_data_gives_no_score(lead, account):
    trend = services.add_suggested_criterion(by=lead, key="revenue_potential")
    assert services.set_score(account, by=lead, criterion=trend, value=5).estimate  # no revenue yet
    Score.objects.filter(account=account, criterion=trend).update(estimate=False, scored_by=None)  # as computed
    with pytest.raises(ValidationError) as error:
        services.set_score(account, by=lead, criterion=trend, value=6)
    assert "criterion" in error.value.message_dict


@pytest.mark.parametrize("data, field", [
    ({"name": "Fit", "group": "growth", "weight": -1}, "weight"),
    ({"name": "Fit", "group": "", "weight": 10}, "group"),
    ({"name": "Fit", "group": "size", "weight": 10}, "group"),
    ({"name": "  ", "group": "growth", "weight": 10}, "name"),
    ({"name": "Fit", "group": "growth", "weight": "lots"}, "weight"),
])
def test_bad_criteria_are_refused(lead, data, field):
    with pytest.raises(ValidationError) as error:
        services.create_criterion(by=lead, **data)
    assert field in error.value.message_dict
    assert not Criterion.objects.exists()


def test_duplicate_name_is_refused(lead, criteria):
    with pytest.raises(ValidationError) as error:
        services.create_criterion(by=lead, name="product FIT", group="harmony", weight=10)
    assert "already exists" in error.value.message_dict["name"][0]
    assert Criterion.objects.count() == 6


def test_only_leads_configure(kam, viewer):
    for user in (kam, viewer):
        with pytest.raises(PermissionDenied):
            services.create_criterion(by=user, name="Fit", group="growth", weight=10)


def test_removing_a_criterion_used_by_a_round_archives_it_and_the_round_keeps_its_numbers(lead, worked_example, criteria):
    selection_round = services.create_round(by=lead, name="FY2025", date=datetime.date(2025, 1, 15))
    before = dict(RoundAccount.objects.filter(round=selection_round).values_list("account__name", "total"))
    assert services.remove_criterion(criteria[0], by=lead) == "archived"
    criteria[0].refresh_from_db()
    assert criteria[0].is_archived
    assert RoundScore.objects.filter(round=selection_round, criterion=criteria[0]).count() == 3
    assert dict(RoundAccount.objects.filter(round=selection_round).values_list("account__name", "total")) == before
    assert selection_round.criteria.get(criterion=criteria[0]).name == "Product fit"
    # The current matrix no longer uses it: Charlie's growth is now (7×35 + 8×25) / 60.
    assert totals(lead)["Charlie"][0] == 7.42
    # An unused criterion is simply deleted; the name of an archived one can be reused.
    unused = services.create_criterion(by=lead, name="Product fit", group="growth", weight=5)
    assert services.remove_criterion(unused, by=lead) == "deleted"
    assert not Criterion.objects.filter(pk=unused.pk).exists()


def make_kams(make_user, lead, accounts_, capacities):
    kams = []
    for i, (account, capacity) in enumerate(zip(accounts_, capacities, strict=True)):
        kam = make_user(f"kam{i}", kam_capacity=capacity)
        accounts.add_team_member(account, by=lead, user=kam, role=TeamRole.KAM)
        kams.append(kam)
    return kams


def test_capacity_bounds_the_proposals(lead, make_user, worked_example):
    alpha, bravo, charlie = (worked_example[n] for n in ("Alpha", "Bravo", "Charlie"))
    accounts.set_tier(bravo, by=lead, tier=Tier.KEY, reason="Biggest spender")
    make_kams(make_user, lead, [alpha, charlie], [1, 1])  # two KAMs with room for one key account each
    assert services.program_capacity().total == 2
    selection_round = services.create_round(by=lead, name="FY2026")
    proposals = {p.account.name: p for p in Proposal.objects.filter(round=selection_round)}
    assert {n: (p.action, p.rank) for n, p in proposals.items()} == {
        "Charlie": ("promote", 1), "Alpha": ("promote", 2), "Bravo": ("demote", 3)}
    assert float(selection_round.cutoff) == 7.23 and selection_round.capacity == 2
    explanation = proposals["Charlie"].explanation
    assert explanation["cutoff"] == 7.23 and explanation["above_cutoff_by"] == 0.55
    assert explanation["carried_by"][0]["name"] == "Cultural fit"
    assert proposals["Bravo"].explanation["held_back_by"][0]["name"] == "Cultural fit"


def test_too_many_key_accounts_is_a_warning(lead, make_user, worked_example):
    for account in worked_example.values():
        accounts.set_tier(account, by=lead, tier=Tier.KEY, reason="History")
    make_kams(make_user, lead, [worked_example["Alpha"]], [1])
    result = services.selection()
    assert result["over_capacity"] and result["key_accounts"] == 3 and result["capacity"] == 1
    assert [(p["action"]) for p in result["proposals"]] == ["demote", "demote"]


def test_accepting_changes_the_tier_with_history_and_demotion_needs_reason_and_date(lead, make_user, worked_example):
    alpha, bravo, charlie = (worked_example[n] for n in ("Alpha", "Bravo", "Charlie"))
    accounts.set_tier(bravo, by=lead, tier=Tier.KEY, reason="Biggest spender")
    make_kams(make_user, lead, [alpha, charlie], [1, 1])
    selection_round = services.create_round(by=lead, name="FY2026")
    promote = Proposal.objects.get(round=selection_round, account=charlie)
    services.accept_proposal(promote, by=lead)
    charlie.refresh_from_db()
    assert charlie.tier == Tier.KEY
    change = TierChange.objects.filter(account=charlie).first()
    assert (change.from_tier, change.to_tier, change.changed_by) == (Tier.STANDARD, Tier.KEY, lead)
    assert "FY2026" in change.reason and "rank 1" in change.reason
    promote.refresh_from_db()
    assert promote.decision_code == "selected" and promote.decision_params["round"] == "FY2026"
    with translation.override("fa"):
        assert "FY2026" in promote.decision_text and "۱" in promote.decision_text  # the rank in Persian digits
    # The key status history says why in each reader's language too, whoever accepted.
    assert change.reason_code == "selected"
    with translation.override("de"):
        german = change.reason_text
    assert german.startswith("Ausgewählt in Runde FY2026") and german != change.reason, german
    page = client_for(lead)
    page.cookies["django_language"] = "de"
    assert german in page.get(reverse("accounts:detail", args=[charlie.pk])).content.decode()

    demote = Proposal.objects.get(round=selection_round, account=bravo)
    with pytest.raises(ValidationError) as error:
        services.accept_proposal(demote, by=lead)
    assert set(error.value.message_dict) == {"reason", "effective_date"}
    bravo.refresh_from_db()
    assert bravo.tier == Tier.KEY
    services.accept_proposal(demote, by=lead, reason="Low fit with how we work", effective_date=datetime.date(2026, 7, 1))
    bravo.refresh_from_db()
    change = TierChange.objects.filter(account=bravo).first()
    assert (bravo.tier, change.to_tier, change.reason, change.effective_date) == (
        Tier.CANDIDATE, Tier.CANDIDATE, "Low fit with how we work", datetime.date(2026, 7, 1))
    with pytest.raises(ValidationError):
        services.accept_proposal(demote, by=lead, reason="again", effective_date=datetime.date(2026, 7, 1))

    reject = Proposal.objects.get(round=selection_round, account=alpha)
    services.reject_proposal(reject, by=lead, reason="Not this year")
    alpha.refresh_from_db()
    assert alpha.tier == Tier.STANDARD and Proposal.objects.get(pk=reject.pk).status == "rejected"


def test_a_new_round_supersedes_the_undecided_proposals_of_earlier_ones(lead, make_user, worked_example):
    alpha, bravo, charlie = (worked_example[n] for n in ("Alpha", "Bravo", "Charlie"))
    accounts.set_tier(bravo, by=lead, tier=Tier.KEY, reason="Biggest spender")
    make_kams(make_user, lead, [alpha, charlie], [1, 1])
    first = services.create_round(by=lead, name="FY2026")
    decided = Proposal.objects.get(round=first, account=alpha)
    services.reject_proposal(decided, by=lead, reason="Not this year")
    second = services.create_round(by=lead, name="FY2026-Q2")
    old = {p.account.name: p for p in Proposal.objects.filter(round=first).select_related("account")}
    assert old["Alpha"].status == "rejected" and old["Alpha"].decision_reason == "Not this year"
    assert {old["Bravo"].status, old["Charlie"].status} == {"superseded"}
    assert old["Charlie"].decided_by == lead and old["Charlie"].decision_text == "Superseded by round FY2026-Q2."
    # Kept as a code: each reader gets it in their own language, whoever made the round.
    assert old["Charlie"].decision_code == "superseded" and old["Charlie"].decision_reason == ""
    with translation.override("de"):
        german = old["Charlie"].decision_text
    with translation.override("fa"):
        persian = old["Charlie"].decision_text
    assert "FY2026-Q2" in german and german != "Superseded by round FY2026-Q2." and "FY2026-Q2" in persian and persian != german
    assert set(Proposal.objects.filter(round=second).values_list("status", flat=True)) == {"pending"}
    with pytest.raises(ValidationError) as error:
        services.accept_proposal(old["Charlie"], by=lead)
    assert "status" in error.value.message_dict
    charlie.refresh_from_db()
    assert charlie.tier == Tier.STANDARD


def test_round_names_are_unique_and_need_criteria(lead, worked_example):
    services.create_round(by=lead, name="FY2026")
    with pytest.raises(ValidationError) as error:
        services.create_round(by=lead, name="fy2026")
    assert "name" in error.value.message_dict
    assert SelectionRound.objects.count() == 1
