"""The ranking is kept between requests in the database cache, under a fingerprint of the newest score,
criterion and account changes: a page reads it instead of ranking every account again."""

import pytest

from keyplan.accounts import services as accounts
from keyplan.scoring import services
from tests.conftest import client_for


@pytest.fixture
def counted(monkeypatch):
    """Counts how often the whole portfolio is ranked."""
    calls = []
    real = services.ranking

    def ranking():
        calls.append(1)
        return real()

    monkeypatch.setattr(services, "ranking", ranking)
    return calls


def _order(index):
    return [(pk, index.rank_of(i), index.total[i], index.growth[i]) for i, pk in enumerate(index.ids)]


def test_the_ranking_is_kept_until_a_score_a_criterion_or_an_account_changes(lead, worked_example, criteria, counted):
    first = services.ranking_index()
    assert services.ranking_index().fingerprint == first.fingerprint
    assert len(counted) == 1  # the second read came from the cache
    names = {a.pk: name for name, a in worked_example.items()}
    assert [names[pk] for pk in first.ids] == ["Charlie", "Alpha", "Bravo"]

    # A score: Bravo's harmony goes up and it ranks first.
    for criterion in criteria[3:]:
        services.set_score(worked_example["Bravo"], by=lead, criterion=criterion, value=10)
    after_score = services.ranking_index()
    assert len(counted) == 2 and [names[pk] for pk in after_score.ids][0] == "Bravo"

    # A criterion: weights change the totals.
    services.update_criterion(criteria[0], by=lead, changes={"weight": 90})
    after_weight = services.ranking_index()
    assert len(counted) == 3 and _order(after_weight) != _order(after_score)

    # An account: archived accounts leave the ranking.
    accounts.archive_account(worked_example["Alpha"], by=lead)
    after_account = services.ranking_index()
    assert len(counted) == 4 and names[worked_example["Alpha"].pk] not in [names[pk] for pk in after_account.ids]
    # What the pages show comes from it and agrees with the ranking computed afresh.
    _criteria, rows = services.ranking()
    kept = services.ranking_index()
    assert [(r["id"], r["rank"], r["growth_total"], r["harmony_total"], r["total"]) for r in rows] == [
        (row["id"], row["rank"], row["growth_total"], row["harmony_total"], row["total"])
        for row in (kept.row(i) for i in range(len(kept.ids)))]


def test_the_matrix_and_rounds_pages_read_the_kept_ranking(lead, worked_example, counted):
    client = client_for(lead)
    for _ in range(2):
        assert client.get("/selection/").status_code == 200
        assert client.get("/selection/rounds/").status_code == 200
        assert client.get("/selection/?sort=-total&quadrant=invest").status_code == 200
    assert len(counted) == 2  # once for the matrix's ranking, once for today's proposals on the rounds page
    html = client.get("/selection/?sort=total").content.decode()
    assert html.index("Charlie") < html.index("Alpha") < html.index("Bravo")
