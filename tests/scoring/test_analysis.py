"""The scoring matrix's arithmetic: exact weighted means, whatever the weights."""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from keyplan.scoring.analysis import CriterionSpec, group_total, matrix

weights = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
criteria_lists = st.lists(weights, min_size=1, max_size=5).map(
    lambda ws: [CriterionSpec(id=i + 1, name=f"c{i}", group="growth" if i % 2 else "harmony", weight=w)
                for i, w in enumerate(ws)])


def direct_total(criteria, scores) -> Fraction | None:
    """The definition, written out: Σ w·s / Σ w over the scored criteria; the plain mean when every weight is 0."""
    scored = [c for c in criteria if c.id in scores]
    if not scored:
        return None
    total = sum(Fraction(c.weight) for c in scored)
    if total == 0:
        return Fraction(sum(scores[c.id] for c in scored), len(scored))
    return sum(Fraction(c.weight) * scores[c.id] for c in scored) / total


@given(criteria=criteria_lists, data=st.data())
def test_a_group_total_is_the_exact_weighted_mean_of_the_scored_criteria(criteria, data):
    scores = data.draw(st.dictionaries(st.sampled_from([c.id for c in criteria]), st.integers(1, 10)))
    assert group_total(criteria, scores) == direct_total(criteria, scores)


@given(criteria=criteria_lists, data=st.data())
def test_the_matrix_ranks_by_the_exact_mean_of_the_two_groups(criteria, data):
    accounts = [{"id": i, "external_id": f"A-{i:03d}"} for i in range(data.draw(st.integers(1, 12)))]
    scores = {a["id"]: data.draw(st.dictionaries(st.sampled_from([c.id for c in criteria]), st.integers(1, 10)))
              for a in accounts}
    rows = matrix(criteria, accounts, scores)
    growth = [c for c in criteria if c.group == "growth"]
    harmony = [c for c in criteria if c.group == "harmony"]
    exact = {}
    for account in accounts:
        g, h = direct_total(growth, scores[account["id"]]), direct_total(harmony, scores[account["id"]])
        if g is not None and h is not None:
            exact[account["external_id"]] = ((g + h) / 2, g)
    expected = sorted(exact, key=lambda e: (-exact[e][0], -exact[e][1], e))
    assert [r["external_id"] for r in rows if r["rank"] is not None] == expected
    assert [r["rank"] for r in rows if r["rank"] is not None] == list(range(1, len(expected) + 1))
    def half_up(value: Fraction | None) -> float | None:
        if value is None:
            return None
        return float((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP))

    for row in rows:
        own = scores[row["id"]]
        assert row["growth_total"] == half_up(direct_total(growth, own))
        assert row["harmony_total"] == half_up(direct_total(harmony, own))
        assert row["total"] == half_up(exact[row["external_id"]][0] if row["external_id"] in exact else None)


def test_weights_with_decimals_stay_exact():
    criteria = [CriterionSpec(1, "a", "growth", Decimal("0.1")), CriterionSpec(2, "b", "growth", Decimal("0.2")),
                CriterionSpec(3, "c", "growth", Decimal("33.33"))]
    assert group_total(criteria, {1: 7, 2: 3, 3: 10}) == Fraction(7 * 10 + 3 * 20 + 10 * 3333, 10 + 20 + 3333)
