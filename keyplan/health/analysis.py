"""The health score, the endangerment rules, the review cadence and the program's numbers: pure
functions over plain values (no database, no Django), so each rule is tested on constructed cases.

The score starts at 100. Each component can cost at most its share of the weights (the weights are
scaled to add up to 100); what it costs is its contribution, always zero or negative, and the score is
100 plus the contributions, so the explanation adds up to the score exactly. A component without data
(no survey answered, no subscription, no plan, no decision maker mapped) costs nothing and says so.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

WINDOW_DAYS = 90  # "this quarter": the score compares the last 90 days with the 90 before
DEFAULT_WEIGHTS = {
    "satisfaction": 25,
    "engagement": 10,
    "mrr_movement": 20,
    "overdue_actions": 10,
    "decision_makers": 5,
    "usage": 10,
    "tickets": 5,
    "onboarding": 5,
    "payments": 10,
}
GREEN_FROM, AMBER_FROM = 70, 40
ENGAGEMENT_TARGET = 6  # interactions per 90 days that count as fully engaged
MRR_DROP_PERCENT = 25  # an MRR drop of this much in 90 days costs the whole weight
OVERDUE_ACTIONS_MAX = 3  # this many overdue plan actions cost the whole weight
LOW_ENGAGEMENT = 2  # at most this many interactions in 90 days is low engagement (a rule)
USAGE_DROP = 0.5  # product usage down by half against the 90 days before costs the whole weight
HIGH_TICKETS_MAX = 2  # this many open high-severity tickets cost the whole weight
ONBOARDING_OVERDUE_MAX = 2  # this many overdue onboarding stages cost the whole weight
PAYMENT_DELAY_MAX = 30  # invoices paid (or still open) this many days late on average cost the whole weight
UPSELL_FROM = 80  # health score from which an account on a lower plan is a premium upsell candidate
DETRACTOR_MAX = 6  # NPS 0–6: detractors
CLOSED_GRACE_DAYS = 30  # a case closed this recently is not reopened by the daily snapshot

RULES = ("red_score", "low_engagement_falling_mrr", "critic_high_power", "nps_detractor", "onboarding_overdue",
         "payments_late")
DEFAULT_RULES = ("red_score", "low_engagement_falling_mrr", "critic_high_power", "onboarding_overdue", "payments_late")
BANDS = ("green", "amber", "red")
CADENCE_MONTHS = {"monthly": 1, "quarterly": 3, "none": None}  # weekly: 7 days


@dataclass(frozen=True)
class Config:
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    green_from: int = GREEN_FROM
    amber_from: int = AMBER_FROM
    engagement_target: int = ENGAGEMENT_TARGET
    mrr_drop_percent: int = MRR_DROP_PERCENT
    overdue_actions_max: int = OVERDUE_ACTIONS_MAX
    low_engagement: int = LOW_ENGAGEMENT
    rules: tuple = DEFAULT_RULES


@dataclass
class Facts:
    """What the score reads of one account (gathered by services.facts())."""

    nps_recent: float | None = None  # average NPS answered in the last 90 days
    nps_before: float | None = None  # … in the 90 days before
    csat_recent: float | None = None
    csat_before: float | None = None
    latest_nps: int | None = None
    interactions_recent: int = 0
    interactions_before: int = 0
    relationships_kept: bool = False  # stakeholders are mapped: the relationship log is kept for this account
    mrr_now: float = 0.0
    mrr_before: float = 0.0  # 90 days ago
    plan: str = ""  # the subscription plan carrying most of the MRR now
    has_plan: bool = False  # an active account plan
    overdue_actions: int = 0
    decision_makers: int = 0
    decision_makers_covered: int = 0
    critics_high_power: int = 0
    usage_change: float | None = None  # relative change of product usage, last 90 days against the 90 before
    has_tickets: bool = False  # support tickets are imported for this account
    open_high_tickets: int = 0  # open tickets of high or critical severity
    onboarding_stages: int = 0  # the account's onboarding stages
    onboarding_done: int = 0
    onboarding_overdue: int = 0  # stages not done whose planned date has passed
    invoices: int = 0  # invoices due in the last 180 days (paid or not)
    invoices_overdue: int = 0  # of them, still unpaid after their due date
    days_late: float | None = None  # average days late of those invoices (unpaid ones: late until today)


@dataclass
class Component:
    name: str
    value: float | None
    contribution: int
    weight: int
    counted: bool
    parts: list[tuple[str, dict]]  # (explanation code, its numbers); services put them in words

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "contribution": self.contribution, "weight": self.weight,
                "counted": self.counted, "parts": [[code, params] for code, params in self.parts]}


@dataclass
class Health:
    score: int
    band: str
    components: list[Component]
    endangered: list[str]  # codes of the rules that fired


def band_of(score: int, *, green_from: int = GREEN_FROM, amber_from: int = AMBER_FROM) -> str:
    return "green" if score >= green_from else "amber" if score >= amber_from else "red"


def _one(value: float) -> str:
    """A number as the explanation shows it: whole when whole, else one decimal."""
    return str(int(round(value))) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _share_lost(name: str, facts: Facts, config: Config) -> tuple[float | None, float, bool, list[tuple[str, dict]]]:
    """(value, share of the weight lost 0..1, counted, explanation parts) of one component."""
    if name == "satisfaction":
        levels, parts = [], []
        if facts.nps_recent is not None:
            levels.append(facts.nps_recent / 10)
            now = _one(facts.nps_recent)
            if facts.nps_before is not None and facts.nps_recent <= facts.nps_before - 0.5:
                parts.append(("nps_fell", {"before": _one(facts.nps_before), "now": now}))
            elif facts.nps_before is not None and facts.nps_recent >= facts.nps_before + 0.5:
                parts.append(("nps_rose", {"before": _one(facts.nps_before), "now": now}))
            else:
                parts.append(("nps", {"now": now}))
        if facts.csat_recent is not None:
            levels.append((facts.csat_recent - 1) / 4)
            now = _one(facts.csat_recent)
            if facts.csat_before is not None and facts.csat_recent <= facts.csat_before - 0.5:
                parts.append(("csat_fell", {"before": _one(facts.csat_before), "now": now}))
            else:
                parts.append(("csat", {"now": now}))
        if not levels:
            return None, 0.0, False, [("no_surveys", {})]
        value = facts.nps_recent if facts.nps_recent is not None else facts.csat_recent
        return round(value, 1), 1 - sum(levels) / len(levels), True, parts
    if name == "engagement":
        n, before = facts.interactions_recent, facts.interactions_before
        if not facts.relationships_kept and not (n or before):
            return None, 0.0, False, [("no_relationships", {})]
        lost = 0.0 if config.engagement_target <= 0 else 1 - min(1.0, n / config.engagement_target)
        return n, lost, True, [("interactions", {"n": n, "before": before})]
    if name == "mrr_movement":
        now, before = facts.mrr_now, facts.mrr_before
        if now <= 0 and before <= 0:
            return None, 0.0, False, [("no_mrr", {})]
        if before <= 0:
            return None, 0.0, True, [("mrr_started", {"now": round(now)})]
        change = (now - before) / before
        lost = min(1.0, max(0.0, -change) * 100 / max(config.mrr_drop_percent, 1))
        numbers = {"percent": abs(round(change * 100)), "before": round(before), "now": round(now)}
        code = "mrr_fell" if change <= -0.005 else "mrr_grew" if change >= 0.005 else "mrr_steady"
        return round(change * 100, 1), lost, True, [(code, numbers)]
    if name == "overdue_actions":
        if not facts.has_plan:
            return None, 0.0, False, [("no_plan", {})]
        n = facts.overdue_actions
        lost = min(1.0, n / max(config.overdue_actions_max, 1))
        return n, lost, True, [("overdue_actions", {"n": n})]
    if name == "decision_makers":
        total, covered = facts.decision_makers, facts.decision_makers_covered
        if total == 0:
            return None, 0.0, False, [("no_decision_makers", {})]
        return round(covered * 100 / total), 1 - covered / total, True, [("decision_makers", {"covered": covered, "total": total})]
    if name == "usage":
        change = facts.usage_change
        if change is None:
            return None, 0.0, False, [("no_usage", {})]
        percent = abs(round(change * 100))
        code = "usage_fell" if change <= -0.005 else "usage_grew" if change >= 0.005 else "usage_steady"
        return round(change * 100, 1), min(1.0, max(0.0, -change) / USAGE_DROP), True, [(code, {"percent": percent})]
    if name == "tickets":
        if not facts.has_tickets:
            return None, 0.0, False, [("no_tickets", {})]
        n = facts.open_high_tickets
        return n, min(1.0, n / HIGH_TICKETS_MAX), True, [("open_high_tickets", {"n": n})]
    if name == "onboarding":
        total, overdue = facts.onboarding_stages, facts.onboarding_overdue
        if total == 0:
            return None, 0.0, False, [("no_onboarding", {})]
        if facts.onboarding_done == total:
            return 0, 0.0, True, [("onboarding_done", {"total": total})]
        parts = [("onboarding_overdue", {"n": overdue, "total": total})] if overdue else [
            ("onboarding_on_track", {"done": facts.onboarding_done, "total": total})]
        return overdue, min(1.0, overdue / ONBOARDING_OVERDUE_MAX), True, parts
    if name == "payments":
        if not facts.invoices or facts.days_late is None:
            return None, 0.0, False, [("no_invoices", {})]
        late = max(0.0, facts.days_late)
        parts = [("days_late", {"days": _one(late), "n": facts.invoices})]
        if facts.invoices_overdue:
            parts.append(("invoices_overdue", {"n": facts.invoices_overdue}))
        return round(late, 1), min(1.0, late / PAYMENT_DELAY_MAX), True, parts
    raise ValueError(f"unknown component {name!r}")


def score(facts: Facts, config: Config = Config()) -> Health:
    """The account's health: 100 plus the components' contributions, its band and the rules that fire."""
    # A component added after the weights were last saved weighs its default.
    weights = {name: max(0, int(config.weights.get(name, DEFAULT_WEIGHTS[name]))) for name in DEFAULT_WEIGHTS}
    total = sum(weights.values()) or 1
    components = []
    for name, weight in weights.items():
        value, lost, counted, parts = _share_lost(name, facts, config)
        points = weight * 100 / total  # the weights are scaled to add up to 100
        contribution = -int(round(points * lost)) if counted else 0
        components.append(Component(name, value, contribution, int(round(points)), counted, parts))
    value = max(0, min(100, 100 + sum(c.contribution for c in components)))
    band = band_of(value, green_from=config.green_from, amber_from=config.amber_from)
    return Health(value, band, components, endangered(facts, band, config))


def endangered(facts: Facts, band: str, config: Config = Config()) -> list[str]:
    """The endangerment rules (of those switched on) that the account meets."""
    fired = {
        "red_score": band == "red",
        "low_engagement_falling_mrr": (facts.relationships_kept and facts.interactions_recent <= config.low_engagement
                                       and facts.mrr_now < facts.mrr_before),
        "critic_high_power": facts.critics_high_power > 0,
        "nps_detractor": facts.latest_nps is not None and facts.latest_nps <= DETRACTOR_MAX,
        "onboarding_overdue": facts.onboarding_overdue >= ONBOARDING_OVERDUE_MAX,
        "payments_late": facts.days_late is not None and facts.days_late >= PAYMENT_DELAY_MAX,
    }
    return [rule for rule in RULES if rule in config.rules and fired[rule]]


# ---------------------------------------------------------------- onboarding

ONBOARDING_STATUSES = ("none", "in_progress", "overdue", "done")
# The stages a new account goes through, per key status: name, days after the start it is planned for, and
# its checklist. The names are English here and put in the starting user's language when the stages are made;
# a KAM lead changes them in the health settings.
DEFAULT_ONBOARDING = {
    "key": [
        {"name": "Kick-off with the customer", "days": 7,
         "checklist": ["Contract and order confirmed", "Account team introduced", "Success criteria agreed"]},
        {"name": "Set-up and integration", "days": 30,
         "checklist": ["Users created", "Data migrated", "Integrations tested"]},
        {"name": "Training", "days": 45, "checklist": ["Key users trained", "Administrators trained"]},
        {"name": "First value review", "days": 90, "checklist": ["Success criteria checked with the sponsor",
                                                                 "Account plan drafted"]},
    ],
    "candidate": [
        {"name": "Kick-off with the customer", "days": 14, "checklist": ["Contract and order confirmed"]},
        {"name": "Set-up and integration", "days": 45, "checklist": ["Users created"]},
        {"name": "First value review", "days": 90, "checklist": []},
    ],
    "standard": [
        {"name": "Set-up and integration", "days": 30, "checklist": ["Users created"]},
    ],
}


def onboarding_status(total: int, done: int, overdue: int) -> str:
    """An account's onboarding status, derived from its stages: none (no stages), done (every stage done),
    overdue (a stage not done is past its planned date), else in progress."""
    if total == 0:
        return "none"
    if done >= total:
        return "done"
    return "overdue" if overdue else "in_progress"


def stage_overdue(planned: datetime.date | None, done_on: datetime.date | None, today: datetime.date) -> bool:
    return done_on is None and planned is not None and planned < today


def days_late(invoices: Iterable[tuple[datetime.date, datetime.date | None]], today: datetime.date) -> float | None:
    """Average days late of invoices (due, paid): a paid one counts the days between due and paid (0 when on
    time), an unpaid one past its due date counts until today, an unpaid one not yet due counts nothing."""
    delays = []
    for due, paid in invoices:
        if paid is not None:
            delays.append(max(0, (paid - due).days))
        elif due < today:
            delays.append((today - due).days)
    return sum(delays) / len(delays) if delays else None


# ---------------------------------------------------------------- the queue and the reviews


def queue_key(mrr_at_risk: float, opened_on: datetime.date, pk: int = 0) -> tuple:
    """The at-risk queue's order: most MRR at risk first, then longest in the queue."""
    return (-float(mrr_at_risk), opened_on, pk)


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_review(last_held: datetime.date | None, cadence: str, *, since: datetime.date) -> datetime.date | None:
    """When the next review is due: a cadence after the last one; ``since`` (e.g. today) when none was held yet;
    None when the cadence is "none"."""
    if cadence == "none":
        return None
    if last_held is None:
        return since
    if cadence == "weekly":
        return last_held + datetime.timedelta(days=7)
    return add_months(last_held, CADENCE_MONTHS[cadence])


# ---------------------------------------------------------------- the program's numbers


@dataclass(frozen=True)
class Row:
    """One account of the day's snapshot, as the dashboard adds it up."""

    account_id: int
    name: str
    tier: str
    plan: str
    mrr: float
    mrr_before: float
    score: int
    band: str
    endangered: bool
    nps: float | None = None
    csat: float | None = None


def premium_plan(plan_amounts: Iterable[tuple[str, float]], chosen: str = "") -> tuple[str, float]:
    """The premium plan (the one named, else the one with the highest typical monthly amount) and its
    typical (median) monthly amount."""
    amounts: dict[str, list[float]] = {}
    for plan, amount in plan_amounts:
        amounts.setdefault(plan, []).append(float(amount))
    if not amounts:
        return chosen, 0.0

    def median(values: list[float]) -> float:
        values = sorted(values)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    typical = {plan: median(values) for plan, values in amounts.items()}
    if chosen:
        return chosen, typical.get(chosen, 0.0)
    plan = max(typical, key=lambda p: (typical[p], p))
    return plan, typical[plan]


def premium_upsell(rows: Sequence[Row], *, plan: str, plan_mrr: float, upsell_from: int, limit: int = 50) -> dict:
    """Accounts on a lower plan whose health suggests the premium plan, with the MRR each would add.

    A candidate is healthy on evidence: green, not endangered, at least ``upsell_from``, and satisfied
    customers said so this quarter (an NPS or CSAT answer); a score that counted no survey is no reason."""
    candidates = []
    for r in rows:
        satisfied = r.nps is not None or r.csat is not None
        if (r.plan and r.plan != plan and r.mrr > 0 and r.score >= upsell_from and r.band == "green"
                and not r.endangered and satisfied):
            added = plan_mrr - r.mrr
            if added > 0:
                candidates.append({"account": {"id": r.account_id, "name": r.name}, "plan": r.plan, "mrr": round(r.mrr, 2),
                                   "score": r.score, "added_mrr": round(added, 2)})
    candidates.sort(key=lambda c: (-c["added_mrr"], c["account"]["name"]))
    return {"plan": plan, "plan_mrr": round(plan_mrr, 2), "count": len(candidates),
            "total_added_mrr": round(sum(c["added_mrr"] for c in candidates), 2), "items": candidates[:limit]}


def program(rows: Sequence[Row], *, tiers: dict[str, int]) -> dict:
    """The dashboard's numbers of one day, from its snapshot rows (all accounts) and the accounts by tier."""
    by_plan: dict[str, float] = {}
    by_plan_before: dict[str, float] = {}
    bands = {band: 0 for band in BANDS}
    key_bands = {band: 0 for band in BANDS}
    nps, csat = [], []
    endangered = 0
    for r in rows:
        if r.plan:
            by_plan[r.plan] = by_plan.get(r.plan, 0.0) + r.mrr
        if r.mrr_before and r.plan:
            by_plan_before[r.plan] = by_plan_before.get(r.plan, 0.0) + r.mrr_before
        bands[r.band] += 1
        if r.tier == "key":
            key_bands[r.band] += 1
        if r.nps is not None:
            nps.append(r.nps)
        if r.csat is not None:
            csat.append(r.csat)
        endangered += r.endangered
    mrr = sum(by_plan.values())
    return {
        "accounts_by_tier": tiers,
        "mrr": round(mrr, 2),
        "arr": round(mrr * 12, 2),
        "mrr_by_plan": {plan: round(v, 2) for plan, v in sorted(by_plan.items(), key=lambda kv: -kv[1])},
        "mrr_by_plan_90_days_ago": {plan: round(v, 2) for plan, v in sorted(by_plan_before.items(), key=lambda kv: -kv[1])},
        "bands": bands,
        "key_account_bands": key_bands,
        "endangered": endangered,
        "satisfaction": {"nps": round(sum(nps) / len(nps), 1) if nps else None, "accounts_with_nps": len(nps),
                         "csat": round(sum(csat) / len(csat), 1) if csat else None, "accounts_with_csat": len(csat)},
    }


# ---------------------------------------------------------------- the back-test


CONTRACTION = 0.10  # MRR down by a tenth or more within the horizon counts as contraction


def outcome(mrr_then: float, mrr_later: float) -> str:
    """What became of an account's MRR: churned (none left), contracted (down 10 % or more) or held."""
    if mrr_later <= 0:
        return "churned"
    if mrr_later <= mrr_then * (1 - CONTRACTION):
        return "contracted"
    return "held"


def backtest(observations: Iterable[tuple[str, str]]) -> dict:
    """Does a red score predict churn or contraction? ``observations``: (band then, outcome later) per
    account and month. Per band: how many, how many lost MRR (churned or contracted) and the rate; the lift
    of red over green; the share of the losses a red score had flagged beforehand."""
    bands = {band: {"observations": 0, "churned": 0, "contracted": 0} for band in BANDS}
    for band, result in observations:
        bands[band]["observations"] += 1
        if result != "held":
            bands[band][result] += 1
    for row in bands.values():
        lost = row["churned"] + row["contracted"]
        row["lost"] = lost
        row["rate"] = round(lost / row["observations"], 3) if row["observations"] else None
    red, green = bands["red"], bands["green"]
    losses = sum(b["lost"] for b in bands.values())
    lift = round(red["rate"] / green["rate"], 2) if red["rate"] is not None and green["rate"] else None
    judged = red["observations"] >= 5 and green["observations"] >= 5
    predicts = judged and red["rate"] > (green["rate"] or 0)
    return {"bands": bands, "lift": lift, "losses": losses,
            "flagged_red": round(red["lost"] / losses, 3) if losses else None,
            "judged": judged, "predicts": predicts}
