"""Key-account selection as pure computations: weighted totals and ranks, the mappings
from data to scores 1–10, capacity-aware proposals with their explanations, and the
findings of a review (rising accounts, underperforming key accounts, and whether
the criteria paid off).

Plain values in, plain JSON-ready values out: no Django, no database. ``services.py``
loads the tables and writes the results; pages, the API and the CLI show them.

Conventions:

- A group's weighted total is Σ(weightᵢ × scoreᵢ) / Σ weightᵢ over the criteria of
  that group the account has a score on (so it stays on the 1–10 scale however the
  weights add up), computed exactly and rounded half up to two decimals.
- The overall total is the mean of the two group totals (growth potential and
  harmony count the same), from the exact values; an account needs a score in both
  groups to get an overall total and a rank.
- Rank: overall total descending, then growth total descending, then external id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any


GROUPS = ("growth", "harmony")
QUADRANT_SPLIT = 5.5  # the middle of the 1–10 scale
QUADRANTS = {
    (True, True): ("invest", "Invest: key account"),
    (True, False): ("develop", "Develop"),
    (False, True): ("maintain", "Maintain"),
    (False, False): ("deprioritise", "Deprioritise"),
}

# A criterion "pays off" when its rank correlation with an outcome reaches this, at this significance.
PAYOFF_RHO = 0.2
PAYOFF_P = 0.05
# Review thresholds.
RISING_GROWTH = 0.50
UNDERPERFORM_GROWTH = -0.10
UNDERPERFORM_MARGIN_POINTS = 0.05
MIN_RETURN_ON_EFFORT = 1.0


@dataclass(frozen=True)
class CriterionSpec:
    id: int
    name: str
    group: str
    weight: Decimal


def _round2(value: tuple[int, int] | None) -> float | None:
    """numerator / denominator rounded half up (away from zero) to two decimals, exactly, in integers."""
    if value is None:
        return None
    numerator, denominator = value
    hundredths = (200 * abs(numerator) + denominator) // (2 * denominator)
    return math.copysign(hundredths, numerator) / 100


def group_total(criteria: Sequence[CriterionSpec], scores: Mapping[int, int]) -> Fraction | None:
    """Σ wᵢ·sᵢ / Σ wᵢ over the criteria with a score; None without any (or when their weights are all 0)."""
    total = _group_total(_integer_weights(criteria), scores)
    return None if total is None else Fraction(*total)


def _integer_weights(criteria: Sequence[CriterionSpec]) -> list[tuple[int, int]]:
    """(criterion id, weight × the weights' common denominator): the same ratios in integers.

    Decimal weights turned into Fractions for every account and criterion took most of the
    matrix's time (0.3 s at 2,000 accounts); integers keep the totals exact at a tenth of the cost.
    """
    fractions = [(c.id, Fraction(c.weight)) for c in criteria]
    denominator = math.lcm(*(w.denominator for _, w in fractions)) if fractions else 1
    return [(key, int(w * denominator)) for key, w in fractions]


def _group_total(weights: Sequence[tuple[int, int]], scores: Mapping[int, int]) -> tuple[int, int] | None:
    """The group total as (numerator, denominator), not reduced."""
    weighted = total = count = plain = 0
    for key, weight in weights:
        score = scores.get(key)
        if score is not None:
            weighted += weight * score
            total += weight
            count += 1
            plain += score
    if not count:
        return None
    if total == 0:  # every weight 0: the plain mean
        return plain, count
    return weighted, total


def _exact_keys(values: Sequence[tuple[int, int]]) -> list[int]:
    """Integers that order as the fractions do: each numerator over one common denominator.

    Sorting 100,000 accounts on Fraction objects took 6 s; on these integers a fraction of that.
    """
    common = math.lcm(*{denominator for _, denominator in values}) if values else 1
    return [numerator * (common // denominator) for numerator, denominator in values]


def matrix(
    criteria: Sequence[CriterionSpec],
    accounts: Sequence[Mapping[str, Any]],
    scores: Mapping[int, Mapping[int, int]],
) -> list[dict[str, Any]]:
    """Every account with its scores per criterion, its group totals, overall total and rank.

    ``accounts``: dicts with at least ``id`` and ``external_id`` (other keys are kept);
    ``scores``: account id → criterion id → score. Output rows are in rank order,
    unranked accounts (missing a group) last by external id.
    """
    by_group = {group: _integer_weights([c for c in criteria if c.group == group]) for group in GROUPS}
    ranked, unranked = [], []  # ranked: (row, exact overall total, exact growth total)
    for account in accounts:
        own = scores.get(account["id"], {})
        growth, harmony = (_group_total(by_group[group], own) for group in GROUPS)
        overall = None
        if growth is not None and harmony is not None:
            # (g₁/g₂ + h₁/h₂) / 2, exactly
            overall = (growth[0] * harmony[1] + harmony[0] * growth[1], 2 * growth[1] * harmony[1])
        row = {
            **account,
            "scores": {str(c.id): own.get(c.id) for c in criteria},
            "missing": sum(1 for c in criteria if c.id not in own),
            "growth_total": _round2(growth),
            "harmony_total": _round2(harmony),
            "total": _round2(overall),
        }
        if overall is None:
            unranked.append(row)
        else:
            ranked.append((row, overall, growth))
    overall_keys = _exact_keys([overall for _, overall, _ in ranked])
    growth_keys = _exact_keys([growth for _, _, growth in ranked])
    order = sorted(range(len(ranked)), key=lambda i: (-overall_keys[i], -growth_keys[i], ranked[i][0]["external_id"]))
    out = [ranked[i][0] for i in order]
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    unranked.sort(key=lambda r: r["external_id"])
    for row in unranked:
        row["rank"] = None
    out += unranked
    for row in out:
        row["quadrant"] = quadrant(row["growth_total"], row["harmony_total"])
    return out


def quadrant(growth: float | None, harmony: float | None) -> str | None:
    if growth is None or harmony is None:
        return None
    return QUADRANTS[(growth >= QUADRANT_SPLIT, harmony >= QUADRANT_SPLIT)][0]


def group_warnings(criteria: Sequence[CriterionSpec]) -> list[dict[str, Any]]:
    """Warnings about the configuration: 3–5 criteria per group recommended, weights adding up to 100."""
    warnings = []
    for group in GROUPS:
        members = [c for c in criteria if c.group == group]
        if len(members) < 3 or len(members) > 5:
            warnings.append({"group": group, "code": "count", "count": len(members)})
        total = sum((c.weight for c in members), Decimal(0))
        if members and total != 100:
            warnings.append({"group": group, "code": "weights", "sum": float(total),
                             "normalised": {c.name: float((c.weight / total * 100).quantize(Decimal("0.1"))) if total else None
                                            for c in members}})
    return warnings


# ---------------------------------------------------------------- from data to 1–10

# Each mapping is a list of (lower bound, score): the score of the highest bound the value reaches.
REVENUE_TREND_BANDS = [(-math.inf, 1), (-0.30, 2), (-0.20, 3), (-0.10, 4), (-0.03, 5), (0.03, 6), (0.10, 7),
                       (0.20, 8), (0.35, 9), (0.50, 10)]
MARGIN_BANDS = [(-math.inf, 1), (0.0, 2), (0.05, 3), (0.10, 4), (0.15, 5), (0.20, 6), (0.25, 7), (0.30, 8),
                (0.40, 9), (0.50, 10)]
CREDIT_RATINGS = {"AAA": 10, "AA": 9, "A": 8, "BBB": 7, "BB": 6, "B": 5, "CCC": 4, "CC": 3, "C": 2, "D": 1}

MAPPINGS = {
    "revenue_trend": "Revenue of the last 12 months against the 12 months before: below −30 % → 1, −30 % → 2, "
                     "−20 % → 3, −10 % → 4, −3 % → 5, +3 % → 6, +10 % → 7, +20 % → 8, +35 % → 9, +50 % or more → 10. "
                     "New revenue without any the year before → 8; no revenue in either year → no score.",
    "margin": "Margin (revenue − cost to serve) as a share of revenue over the last 12 months: below 0 → 1, 0 % → 2, "
              "5 % → 3, 10 % → 4, 15 % → 5, 20 % → 6, 25 % → 7, 30 % → 8, 40 % → 9, 50 % or more → 10. No revenue → no score.",
    "clv": "Customer lifetime value (12 months ahead, as on the Portfolio page) ranked across the portfolio in deciles: "
           "the lowest tenth → 1 … the highest tenth → 10. Accounts without a lifetime value get no score.",
    "stakeholder_coverage": "From the stakeholder map: 1, plus 1 for each stakeholder with medium or strong contact "
                            "(up to 3), 2 when a decision maker or economic buyer is known and 2 more when we have "
                            "medium or strong contact with one, 1 for a supporter with high decision power, and 1 when "
                            "no decision maker is a critic (at most 10). No stakeholder on the map → no score "
                            "(a person may estimate it until the map is drawn).",
    "credit_rating": "From an imported credit rating: AAA → 10, AA → 9, A → 8, BBB → 7, BB → 6, B → 5, CCC → 4, "
                     "CC → 3, C → 2, D → 1 (+ and − are ignored).",
    "referrals": "Customers who name the account as \"referred by\": none → 1, 1 → 5, 2 → 7, 3 → 8, 4 → 9, 5 or more "
                 "→ 10. While no account has a referrer recorded, there is no data and no score.",
}
REFERRAL_BANDS = [(0, 1), (1, 5), (2, 7), (3, 8), (4, 9), (5, 10)]


def _band(value: float, bands: Sequence[tuple[float, int]]) -> int:
    score = bands[0][1]
    for bound, band_score in bands:
        if value >= bound - 1e-12:
            score = band_score
    return score


def revenue_trend_score(current: float, previous: float) -> int | None:
    if previous <= 0:
        return 8 if current > 0 else None
    return _band(current / previous - 1, REVENUE_TREND_BANDS)


def margin_score(revenue: float, cost: float) -> int | None:
    if revenue <= 0:
        return None
    return _band((revenue - cost) / revenue, MARGIN_BANDS)


def decile_scores(values: Mapping[Any, float]) -> dict[Any, int]:
    """Rank values into deciles 1–10 (ties share the lower decile)."""
    ordered = sorted(values.values())
    n = len(ordered)
    if n == 0:
        return {}
    result = {}
    for key, value in values.items():
        below = sum(1 for v in ordered if v < value)
        result[key] = min(10, 1 + below * 10 // n)
    return result


@dataclass(frozen=True)
class Contact:
    """One stakeholder as coverage sees it (the relationships app's values)."""

    buying_role: str = ""
    power: str = "medium"
    sentiment: str = "neutral"
    contact: str = "none"


def coverage_score(people: Iterable[Contact]) -> int | None:
    """None without any stakeholder: an empty map is missing data, not a poor relationship."""
    people = list(people)
    if not people:
        return None
    score = 1 + min(3, sum(1 for p in people if p.contact in ("medium", "strong")))
    deciders = [p for p in people if p.buying_role in ("decision_maker", "economic_buyer")]
    if deciders:
        score += 2
        if any(p.contact in ("medium", "strong") for p in deciders):
            score += 2
        if not any(p.sentiment == "critic" for p in deciders):
            score += 1
    if any(p.power == "high" and p.sentiment == "supporter" for p in people):
        score += 1
    return min(10, score)


def referral_score(referrals: int) -> int:
    return _band(referrals, REFERRAL_BANDS)


def credit_rating_score(rating: str) -> int | None:
    code = (rating or "").strip().upper().rstrip("+-").strip()
    return CREDIT_RATINGS.get(code)


# ---------------------------------------------------------------- proposals


def explain(row: Mapping[str, Any], criteria: Sequence[CriterionSpec], means: Mapping[int, float],
            *, cutoff: float | None, capacity: int, top: int = 3) -> dict[str, Any]:
    """Which criteria carried an account (or held it back): each criterion's weighted distance from the portfolio mean."""
    contributions = []
    for criterion in criteria:
        value = row["scores"].get(str(criterion.id))
        if value is None or criterion.id not in means:
            continue
        group_weight = sum((c.weight for c in criteria if c.group == criterion.group), Decimal(0))
        share = float(criterion.weight / group_weight) / 2 if group_weight else 0.0
        contributions.append({
            "criterion_id": criterion.id, "name": criterion.name, "group": criterion.group, "score": value,
            "mean": round(means[criterion.id], 2), "effect": round(share * (value - means[criterion.id]), 2),
        })
    contributions.sort(key=lambda c: (-abs(c["effect"]), c["name"]))
    strongest = sorted([c for c in contributions if c["effect"] > 0], key=lambda c: -c["effect"])[:top]
    weakest = sorted([c for c in contributions if c["effect"] < 0], key=lambda c: c["effect"])[:top]
    return {
        "total": row["total"], "rank": row["rank"], "cutoff": cutoff, "capacity": capacity,
        "above_cutoff_by": round(row["total"] - cutoff, 2) if cutoff is not None and row["total"] is not None else None,
        "carried_by": strongest, "held_back_by": weakest,
    }


def propose(rows: Sequence[Mapping[str, Any]], criteria: Sequence[CriterionSpec], *, capacity: int) -> dict[str, Any]:
    """Key accounts the program can carry: the top ``capacity`` ranked accounts.

    Non-key accounts inside the capacity are proposed for key status; key accounts
    outside it are proposed to be scaled back. Nothing is silently capped: the
    payload says how many key accounts there are against the capacity.
    Rows need ``id``, ``tier``, ``scores``, ``total`` and ``rank`` (as from matrix()).
    """
    ranked = [r for r in rows if r["rank"] is not None]
    within = ranked[:capacity]
    cutoff = within[-1]["total"] if within and capacity > 0 else None
    means: dict[int, float] = {}
    for criterion in criteria:
        values = [r["scores"].get(str(criterion.id)) for r in ranked]
        values = [v for v in values if v is not None]
        if values:
            means[criterion.id] = sum(values) / len(values)
    inside = {r["id"] for r in within}
    proposals = []
    for row in ranked:
        if row["id"] in inside and row["tier"] != "key":
            action = "promote"
        elif row["id"] not in inside and row["tier"] == "key":
            action = "demote"
        else:
            continue
        proposals.append({"account_id": row["id"], "action": action, "from_tier": row["tier"],
                          "to_tier": "key" if action == "promote" else "candidate", "rank": row["rank"],
                          "total": row["total"],
                          "explanation": explain(row, criteria, means, cutoff=cutoff, capacity=capacity)})
    key_now = sum(1 for r in rows if r["tier"] == "key")
    return {
        "capacity": capacity, "cutoff": cutoff, "key_accounts": key_now,
        "over_capacity": key_now > capacity, "unranked": sum(1 for r in rows if r["rank"] is None),
        "proposals": proposals,
    }


# ---------------------------------------------------------------- review


@dataclass
class Outcome:
    """What happened to one account around a round: revenue and margin before and after its date."""

    id: int
    external_id: str
    name: str
    tier: str
    revenue_before: float
    revenue_after: float
    cost_before: float = 0.0
    cost_after: float = 0.0
    team_size: int = 0
    round_total: float | None = None
    round_rank: int | None = None
    round_scores: dict[int, int] = field(default_factory=dict)
    current_total: float | None = None
    current_rank: int | None = None

    @property
    def growth(self) -> float | None:
        if self.revenue_before <= 0:
            return None
        return self.revenue_after / self.revenue_before - 1

    @property
    def margin_before(self) -> float | None:
        return (self.revenue_before - self.cost_before) / self.revenue_before if self.revenue_before > 0 else None

    @property
    def margin_after(self) -> float | None:
        return (self.revenue_after - self.cost_after) / self.revenue_after if self.revenue_after > 0 else None


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def rising_accounts(outcomes: Sequence[Outcome], *, cutoff: float | None, min_revenue: float) -> list[dict[str, Any]]:
    """Non-key accounts with strong growth (≥ 50 %, now at least ``min_revenue`` and before at least a quarter of it)
    or a current total at or above the cut-off of the capacity."""
    found = []
    for o in outcomes:
        if o.tier == "key":
            continue
        reasons = []
        # Strong growth on a revenue worth noticing, from a base that was already there (not just onboarding).
        if o.growth is not None and o.growth >= RISING_GROWTH and o.revenue_after >= min_revenue \
                and o.revenue_before >= min_revenue / 4:
            reasons.append({"code": "growth", "growth": _pct(o.growth)})
        if cutoff is not None and o.current_total is not None and o.current_total >= cutoff:
            reasons.append({"code": "score", "total": o.current_total, "cutoff": cutoff})
        if reasons:
            found.append({"account_id": o.id, "external_id": o.external_id, "name": o.name, "tier": o.tier,
                          "growth": _pct(o.growth), "revenue": round(o.revenue_after, 2), "total": o.current_total,
                          "rank": o.current_rank, "reasons": reasons})
    found.sort(key=lambda r: (-len(r["reasons"]), -(r["growth"] or 0), r["external_id"]))
    return found


def underperforming_key_accounts(outcomes: Sequence[Outcome], *, team_cost_per_member: float,
                                 years: float) -> list[dict[str, Any]]:
    """Key accounts whose revenue, margin or return on the effort fell short of what selecting them expected:
    revenue down more than 10 %, margin down more than 5 points, or a margin that does not pay for the team."""
    found = []
    for o in outcomes:
        if o.tier != "key":
            continue
        reasons = []
        if o.revenue_before > 0 and o.growth is not None and o.growth < UNDERPERFORM_GROWTH:
            reasons.append({"code": "revenue", "growth": _pct(o.growth)})
        if o.margin_before is not None and o.margin_after is not None and \
                o.margin_after < o.margin_before - UNDERPERFORM_MARGIN_POINTS:
            reasons.append({"code": "margin", "before": _pct(o.margin_before), "after": _pct(o.margin_after)})
        effort = o.team_size * team_cost_per_member * years
        margin = o.revenue_after - o.cost_after
        return_on_effort = margin / effort if effort > 0 else None
        if return_on_effort is not None and return_on_effort < MIN_RETURN_ON_EFFORT:
            reasons.append({"code": "effort", "return_on_effort": round(return_on_effort, 2),
                            "margin": round(margin, 2), "team_cost": round(effort, 2)})
        if reasons:
            found.append({"account_id": o.id, "external_id": o.external_id, "name": o.name,
                          "growth": _pct(o.growth), "margin_before": _pct(o.margin_before),
                          "margin_after": _pct(o.margin_after),
                          "return_on_effort": round(return_on_effort, 2) if return_on_effort is not None else None,
                          "round_rank": o.round_rank, "round_total": o.round_total, "reasons": reasons})
    found.sort(key=lambda r: (-len(r["reasons"]), r["growth"] if r["growth"] is not None else 0, r["external_id"]))
    return found


def spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Spearman's rank correlation with its p-value; None when it cannot be told (fewer than 3 pairs, or no spread)."""
    n = len(x)
    if n < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {"rho": None, "p": None, "n": n}
    from scipy import stats  # here, not at the top: every command loads this module, few need SciPy

    result = stats.spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    if math.isnan(rho):
        return {"rho": None, "p": None, "n": n}
    return {"rho": round(rho, 4), "p": round(p, 4), "n": n}


def _pays(corr: dict[str, Any]) -> bool:
    return corr["rho"] is not None and corr["rho"] >= PAYOFF_RHO and corr["p"] < PAYOFF_P


def criteria_payoff(outcomes: Sequence[Outcome], criteria: Sequence[CriterionSpec]) -> dict[str, Any]:
    """Per criterion and overall: rank correlation of the round's scores with realised revenue growth and margin since.

    A criterion pays off when either correlation is at least 0.2 with p < 0.05; the others "predicted nothing".
    """
    rows = []

    def correlate(name: str, key: int | None, group: str | None) -> dict[str, Any]:
        def value(o: Outcome):
            return o.round_total if key is None else o.round_scores.get(key)

        with_growth = [(value(o), o.growth) for o in outcomes if value(o) is not None and o.growth is not None]
        with_margin = [(value(o), o.margin_after) for o in outcomes if value(o) is not None and o.margin_after is not None]
        growth = spearman([a for a, _ in with_growth], [b for _, b in with_growth])
        margin = spearman([a for a, _ in with_margin], [b for _, b in with_margin])
        return {"criterion_id": key, "name": name, "group": group, "growth": growth, "margin": margin,
                "pays_off": _pays(growth) or _pays(margin),
                "judged": growth["rho"] is not None or margin["rho"] is not None}

    for criterion in criteria:
        rows.append(correlate(criterion.name, criterion.id, criterion.group))
    overall = correlate("Overall total", None, None)
    return {
        "criteria": rows,
        "overall": overall,
        "predicted_nothing": [r["name"] for r in rows if r["judged"] and not r["pays_off"]],
        "thresholds": {"rho": PAYOFF_RHO, "p": PAYOFF_P},
    }
