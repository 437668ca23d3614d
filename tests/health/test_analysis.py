"""The score, each component and each rule on constructed cases (pure functions, no database)."""

import datetime

from keyplan.health import analysis
from keyplan.health.analysis import Config, Facts, Row


def component(health, name):
    return next(c for c in health.components if c.name == name)


def test_nothing_known_costs_nothing_and_says_so():
    health = analysis.score(Facts())
    assert health.score == 100 and not any(c.counted for c in health.components)
    assert component(health, "satisfaction").parts == [("no_surveys", {})]
    assert component(health, "engagement").parts == [("no_relationships", {})]


def test_nps_fall_costs_its_share_and_explains_it():
    health = analysis.score(Facts(nps_recent=5, nps_before=8))
    sat = component(health, "satisfaction")
    assert sat.contribution == -12  # 25 × (1 − 5/10) = 12.5, rounded half to even
    assert sat.parts == [("nps_fell", {"before": "8", "now": "5"})]
    assert sat.value == 5


def test_csat_and_nps_are_averaged():
    health = analysis.score(Facts(nps_recent=10, csat_recent=1))
    assert component(health, "satisfaction").contribution == -12  # (1.0 + 0.0) / 2 → half of 25


def test_engagement_against_the_target():
    config = Config(engagement_target=6)
    full = analysis.score(Facts(interactions_recent=6, relationships_kept=True), config)
    half = analysis.score(Facts(interactions_recent=3, interactions_before=9, relationships_kept=True), config)
    none = analysis.score(Facts(relationships_kept=True), config)
    assert component(full, "engagement").contribution == 0
    assert component(half, "engagement").contribution == -5  # 10 × 1/2
    assert component(half, "engagement").parts == [("interactions", {"n": 3, "before": 9})]
    assert component(none, "engagement").contribution == -10


def test_mrr_drop_scales_to_the_threshold():
    config = Config(mrr_drop_percent=25)
    assert component(analysis.score(Facts(mrr_now=900, mrr_before=1000), config), "mrr_movement").contribution == -8
    fell = component(analysis.score(Facts(mrr_now=500, mrr_before=1000), config), "mrr_movement")
    assert fell.contribution == -20 and fell.parts == [("mrr_fell", {"percent": 50, "before": 1000, "now": 500})]
    assert component(analysis.score(Facts(mrr_now=1200, mrr_before=1000), config), "mrr_movement").contribution == 0
    assert not component(analysis.score(Facts()), "mrr_movement").counted


def test_overdue_actions_and_decision_makers():
    health = analysis.score(Facts(has_plan=True, overdue_actions=2, decision_makers=4, decision_makers_covered=1))
    assert component(health, "overdue_actions").contribution == -7  # 10 × 2/3
    assert component(health, "decision_makers").contribution == -4  # 5 × 3/4
    assert health.score == 100 - 7 - 4  # the rest is not counted (no survey, no subscription, no interactions)
    assert not component(analysis.score(Facts(overdue_actions=5)), "overdue_actions").counted  # no plan


def test_the_explanation_adds_up_to_the_score():
    facts = Facts(nps_recent=4, nps_before=8, interactions_recent=1, relationships_kept=True, mrr_now=600,
                  mrr_before=1000, has_plan=True, overdue_actions=4, decision_makers=2, onboarding_stages=3,
                  onboarding_overdue=2, invoices=4, days_late=15)
    health = analysis.score(facts)
    assert health.score == 100 + sum(c.contribution for c in health.components)
    assert health.band == "red" and health.score < analysis.AMBER_FROM


def test_weights_are_scaled_to_one_hundred():
    config = Config(weights={"satisfaction": 1, "engagement": 0, "mrr_movement": 0, "overdue_actions": 0, "decision_makers": 0,
                             "usage": 0, "tickets": 0, "onboarding": 0, "payments": 0})
    health = analysis.score(Facts(nps_recent=0), config)
    assert health.score == 0 and component(health, "satisfaction").weight == 100


def test_bands_follow_the_thresholds():
    assert analysis.band_of(70) == "green" and analysis.band_of(69) == "amber" and analysis.band_of(39) == "red"
    assert analysis.band_of(50, green_from=50, amber_from=20) == "green"


def test_rules():
    kept = dict(relationships_kept=True)
    assert analysis.endangered(Facts(interactions_recent=1, mrr_now=90, mrr_before=100, **kept), "green") == [
        "low_engagement_falling_mrr"]
    assert analysis.endangered(Facts(interactions_recent=5, mrr_now=90, mrr_before=100, **kept), "green") == []
    assert analysis.endangered(Facts(interactions_recent=0, mrr_now=100, mrr_before=100, **kept), "green") == []
    assert analysis.endangered(Facts(critics_high_power=1), "green") == ["critic_high_power"]
    assert analysis.endangered(Facts(), "red") == ["red_score"]
    # nps_detractor is off by default, and fires when switched on
    assert analysis.endangered(Facts(latest_nps=6), "green") == []
    assert analysis.endangered(Facts(latest_nps=6), "green", Config(rules=("nps_detractor",))) == ["nps_detractor"]
    assert analysis.endangered(Facts(), "red", Config(rules=())) == []


def test_queue_order_most_at_risk_then_longest_waiting():
    day = datetime.date(2026, 1, 1)
    cases = [(100, day, 1), (500, day + datetime.timedelta(days=3), 2), (500, day, 3), (100, day - datetime.timedelta(days=1), 4)]
    assert [c[2] for c in sorted(cases, key=lambda c: analysis.queue_key(*c))] == [3, 2, 4, 1]


def test_review_cadence():
    day = datetime.date(2026, 1, 31)
    assert analysis.next_review(day, "weekly", since=day) == datetime.date(2026, 2, 7)
    assert analysis.next_review(day, "monthly", since=day) == datetime.date(2026, 2, 28)
    assert analysis.next_review(day, "quarterly", since=day) == datetime.date(2026, 4, 30)
    assert analysis.next_review(None, "quarterly", since=day) == day
    assert analysis.next_review(day, "none", since=day) is None


def test_premium_upsell_needs_a_healthy_satisfied_account_on_a_lower_plan():
    plan, typical = analysis.premium_plan([("Basic", 490), ("Premium", 3900), ("Premium", 4100), ("Standard", 1490)])
    assert (plan, typical) == ("Premium", 4000)
    rows = [
        Row(1, "Happy", "key", "Basic", 490, 490, 90, "green", False, nps=9),
        Row(2, "Unknown", "standard", "Basic", 490, 490, 100, "green", False),  # no survey: no evidence
        Row(3, "Endangered", "key", "Standard", 1490, 1490, 85, "green", True, nps=9),
        Row(4, "On premium", "key", "Premium", 4000, 4000, 95, "green", False, nps=10),
        Row(5, "Lukewarm", "key", "Standard", 1490, 1490, 75, "green", False, nps=8),
    ]
    upsell = analysis.premium_upsell(rows, plan=plan, plan_mrr=typical, upsell_from=80)
    assert [c["account"]["name"] for c in upsell["items"]] == ["Happy"]
    assert upsell["total_added_mrr"] == 3510 and upsell["count"] == 1


def test_program_numbers():
    rows = [Row(1, "A", "key", "Premium", 3900, 3900, 90, "green", False, nps=9),
            Row(2, "B", "key", "Basic", 490, 1490, 30, "red", True, nps=4, csat=2),
            Row(3, "C", "standard", "", 0, 0, 100, "green", False)]
    numbers = analysis.program(rows, tiers={"key": 2, "candidate": 0, "standard": 1})
    assert numbers["mrr_by_plan"] == {"Premium": 3900, "Basic": 490} and numbers["mrr"] == 4390 and numbers["arr"] == 52680
    assert numbers["key_account_bands"] == {"green": 1, "amber": 0, "red": 1} and numbers["endangered"] == 1
    assert numbers["satisfaction"]["nps"] == 6.5


def test_outcomes_and_the_backtest_verdict():
    assert analysis.outcome(1000, 0) == "churned"
    assert analysis.outcome(1000, 900) == "contracted" and analysis.outcome(1000, 950) == "held"
    observations = [("red", "churned")] * 3 + [("red", "held")] * 2 + [("green", "contracted")] + [("green", "held")] * 9
    result = analysis.backtest(observations)
    assert result["bands"]["red"]["rate"] == 0.6 and result["bands"]["green"]["rate"] == 0.1
    assert result["lift"] == 6.0 and result["flagged_red"] == 0.75 and result["judged"] and result["predicts"]
    few = analysis.backtest([("red", "churned"), ("green", "held")])
    assert not few["judged"] and not few["predicts"]


def test_onboarding_component_and_status():
    assert analysis.onboarding_status(0, 0, 0) == "none"
    assert analysis.onboarding_status(3, 3, 0) == "done"
    assert analysis.onboarding_status(3, 1, 1) == "overdue"
    assert analysis.onboarding_status(3, 1, 0) == "in_progress"
    none = analysis.score(Facts())
    assert not component(none, "onboarding").counted and component(none, "onboarding").contribution == 0
    one = analysis.score(Facts(onboarding_stages=4, onboarding_done=1, onboarding_overdue=1))
    assert component(one, "onboarding").contribution == -2  # 5 × 1/2, rounded half to even
    assert component(one, "onboarding").parts == [("onboarding_overdue", {"n": 1, "total": 4})]
    two = analysis.score(Facts(onboarding_stages=4, onboarding_overdue=2))
    assert component(two, "onboarding").contribution == -5 and "onboarding_overdue" in two.endangered
    done = analysis.score(Facts(onboarding_stages=2, onboarding_done=2))
    assert component(done, "onboarding").parts == [("onboarding_done", {"total": 2})]
    on_track = analysis.score(Facts(onboarding_stages=2, onboarding_done=1))
    assert component(on_track, "onboarding").parts == [("onboarding_on_track", {"done": 1, "total": 2})]


def test_payment_delays_component_and_rule():
    import datetime

    today = datetime.date(2026, 12, 6)
    d = datetime.timedelta
    # paid 10 days late, paid early (0), unpaid and 20 days past due, unpaid and not yet due (not counted)
    invoices = [(today - d(40), today - d(30)), (today - d(60), today - d(65)), (today - d(20), None), (today + d(5), None)]
    assert analysis.days_late(invoices, today) == 10
    assert analysis.days_late([(today + d(5), None)], today) is None
    late = analysis.score(Facts(invoices=3, invoices_overdue=1, days_late=15))
    payments = component(late, "payments")
    assert payments.contribution == -5 and payments.value == 15  # 10 × 15/30
    assert payments.parts == [("days_late", {"days": "15", "n": 3}), ("invoices_overdue", {"n": 1})]
    assert "payments_late" not in late.endangered
    assert "payments_late" in analysis.score(Facts(invoices=2, days_late=45)).endangered
    assert component(analysis.score(Facts(invoices=2, days_late=45)), "payments").contribution == -10
    assert not component(analysis.score(Facts()), "payments").counted
