"""The review on a constructed portfolio: one criterion predicts growth, another predicts nothing."""

import csv
import datetime

import pytest
from scipy import stats

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier
from keyplan.revenue import services as revenue
from keyplan.scoring import analysis, services

GROWTH = [-0.40, -0.30, -0.20, -0.10, 0.0, 0.05, 0.10, 0.20, 0.30, 0.45, 0.60, 0.80]
PREDICTOR = [1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]  # follows growth
NOISE = [7, 2, 9, 5, 3, 8, 4, 10, 1, 6, 6, 3]        # does not


def _month(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 15)


def test_the_constructed_noise_really_is_noise():
    assert stats.spearmanr(NOISE, GROWTH).pvalue > 0.3
    assert stats.spearmanr(PREDICTOR, GROWTH).statistic > 0.95


@pytest.fixture
def history(lead, make_account, make_user, tmp_path):
    """12 accounts scored in a round a year ago; revenue 6 months before and 6 months after it."""
    today = datetime.date.today()
    round_date = _month(today, -12)
    predictor = services.create_criterion(by=lead, name="Predictor", group="growth", weight=50)
    noise = services.create_criterion(by=lead, name="Noise", group="growth", weight=50)
    fit = services.create_criterion(by=lead, name="Fit", group="harmony", weight=100)
    made = []
    rows = [["line_id", "customer_id", "invoice_date", "net_amount", "cost", "currency"]]
    for i, growth in enumerate(GROWTH):
        account = make_account(f"Account {i:02d}", external_id=f"R-{i:02d}")
        services.set_score(account, by=lead, criterion=predictor, value=PREDICTOR[i])
        services.set_score(account, by=lead, criterion=noise, value=NOISE[i])
        services.set_score(account, by=lead, criterion=fit, value=5 + i % 3)
        before, after = 10_000.0, 10_000.0 * (1 + growth)
        rows.append([f"R-{i}-a", account.external_id, _month(round_date, -6).isoformat(), f"{before:.2f}", f"{before * 0.7:.2f}", "EUR"])
        rows.append([f"R-{i}-b", account.external_id, _month(round_date, 6).isoformat(), f"{after:.2f}", f"{after * 0.7:.2f}", "EUR"])
        made.append(account)
    path = tmp_path / "ledger.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    assert revenue.import_ledger(path, by=lead).error_count == 0
    # The two best scored become key accounts; the worst grower was a key account and stays one.
    accounts.set_tier(made[0], by=lead, tier=Tier.KEY, reason="Historic")
    kam = make_user("kam-r", kam_capacity=2)
    accounts.add_team_member(made[0], by=lead, user=kam, role=TeamRole.KAM)
    selection_round = services.create_round(by=lead, name="FY-last", date=round_date, refresh=False)
    return {"accounts": made, "round": selection_round, "today": today}


def test_review_says_which_criterion_predicted_growth(lead, history):
    review = services.run_review(by=lead, as_of=history["today"])
    findings = review.findings
    assert findings["round"]["name"] == "FY-last" and findings["window"]["months"] == 12
    payoff = {row["name"]: row for row in findings["payoff"]["criteria"]}
    assert payoff["Predictor"]["growth"]["rho"] > 0.95 and payoff["Predictor"]["growth"]["p"] < 0.001
    assert payoff["Predictor"]["pays_off"] is True
    assert abs(payoff["Noise"]["growth"]["rho"]) < 0.3 and payoff["Noise"]["pays_off"] is False
    assert payoff["Predictor"]["growth"]["n"] == 12
    assert findings["payoff"]["predicted_nothing"] == ["Noise", "Fit"]
    # Margin stayed at 30 % everywhere: no spread, nothing to correlate.
    assert payoff["Predictor"]["margin"]["rho"] is None


def test_review_names_rising_and_underperforming_accounts(lead, history):
    findings = services.run_review(by=lead, as_of=history["today"]).findings
    rising = {r["external_id"]: r for r in findings["rising"]}
    assert {"R-10", "R-11"} <= set(rising) and "R-08" not in rising
    assert rising["R-11"]["reasons"][0] == {"code": "growth", "growth": 0.8}
    under = {r["external_id"]: r for r in findings["underperforming"]}
    assert list(under) == ["R-00"]
    assert under["R-00"]["reasons"][0] == {"code": "revenue", "growth": -0.4}


def test_decisions_in_a_review_change_the_tier_with_reason_and_date(lead, history):
    review = services.run_review(by=lead, as_of=history["today"])
    worst, best = history["accounts"][0], history["accounts"][11]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.record_decision(review, by=lead, account=worst, action="demote")
    assert set(error.value.message_dict) == {"note", "effective_date"}
    services.record_decision(review, by=lead, account=worst, action="demote", note="Shrinking for a year",
                             effective_date=history["today"])
    from django.utils import translation

    with translation.override("de"):  # a German lead; the reason Keyplan writes is read in each reader's language
        services.record_decision(review, by=lead, account=best, action="promote", note="")
    worst.refresh_from_db(), best.refresh_from_db()
    assert (worst.tier, best.tier) == (Tier.CANDIDATE, Tier.KEY)
    assert worst.tier_changes.first().reason == "Shrinking for a year"
    promoted = best.tier_changes.first()
    assert promoted.reason_code == "review_promoted" and promoted.reason.startswith("Promoted in the review of ")
    with translation.override("fa"):
        persian = promoted.reason_text
    assert persian != promoted.reason and not any(c.isascii() and c.isdigit() for c in persian), persian
    with translation.override("it"):
        assert promoted.reason_text.startswith("Promosso nella revisione del ")
    assert review.decisions.count() == 2


def test_payoff_pure_function_on_outcomes():
    criteria = [analysis.CriterionSpec(1, "Good", "growth", 1), analysis.CriterionSpec(2, "Bad", "growth", 1)]
    outcomes = [analysis.Outcome(id=i, external_id=f"E{i}", name="", tier="standard", revenue_before=100,
                                 revenue_after=100 * (1 + g), cost_before=50, cost_after=50 * (1 + g),
                                 round_scores={1: PREDICTOR[i], 2: NOISE[i]}, round_total=float(PREDICTOR[i]))
                for i, g in enumerate(GROWTH)]
    result = analysis.criteria_payoff(outcomes, criteria)
    assert [r["pays_off"] for r in result["criteria"]] == [True, False]
    assert result["overall"]["pays_off"] and result["predicted_nothing"] == ["Bad"]
