"""Lifetime value as users meet it: the report as of a day, its cache, the API and the page.

The ledger is the CDNOW sample of `data/` (see test_clv.py), imported as a user imports a file:
2,357 customers buying from January 1997 to June 1998, a ledger that ends long before today.
"""

import datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keyplan.revenue import portfolio
from keyplan.revenue.lifetime_value import default_as_of
from keyplan.revenue.services import import_ledger
from tests.conftest import client_for
from tests.revenue.test_clv import PUBLISHED_BGNBD, PUBLISHED_BGNBD_LL, PUBLISHED_GAMMA_GAMMA

DATA = Path(__file__).parent / "data"
D = datetime.date


def cdnow_csv(tmp_path: Path, *, extra: str = "") -> Path:
    """The transaction log as a ledger export: line id, account, date, amount."""
    rows = ["line_id,account_id,date,amount"]
    for number, line in enumerate((DATA / "cdnow_sample.txt").read_text().splitlines(), start=1):
        _, customer, day, _, amount = line.split()
        rows.append(f"L{number:05d},{int(customer):04d},{day[:4]}-{day[4:6]}-{day[6:]},{amount}")
    path = tmp_path / "cdnow.csv"
    path.write_text("\n".join(rows) + "\n" + extra)
    return path


@pytest.fixture
def cdnow(tmp_path, lead):
    from keyplan.revenue.services import LedgerOptions

    result = import_ledger(cdnow_csv(tmp_path), by=lead, options=LedgerOptions(create_accounts=True))
    assert result.rows_imported == 6919 and result.accounts_created == 2357
    return result


def ledger_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if "revenue_ledgerline" in q["sql"]]


def test_an_old_ledger_is_valued_as_of_its_last_day_and_any_day_asked_for(cdnow):
    everything = portfolio.Scope(None)
    result = portfolio.run("clv", everything, portfolio.Options())
    # Today every CDNOW customer has been silent for decades; as of the ledger's last day they have not.
    assert (result["as_of"], result["as_of_default"]) == ("1998-06-30", True)
    assert len(result["accounts"]) == result["totals"]["accounts"] == 2357
    assert result["totals"]["clv"] == pytest.approx(sum(a["clv"] for a in result["accounts"]), abs=0.05)
    assert result["totals"]["clv"] > 10_000
    assert result["totals"]["likely_active"] == sum(a["p_alive"] >= 0.5 for a in result["accounts"]) > 1000

    calibration = portfolio.run("clv", everything, portfolio.Options(as_of=D(1997, 9, 30)))
    assert (calibration["as_of"], calibration["as_of_default"]) == ("1997-09-30", False)
    bgnbd, gamma_gamma = calibration["model"]["bgnbd"], calibration["model"]["gamma_gamma"]
    for name, published in PUBLISHED_BGNBD.items():
        assert bgnbd[name] == pytest.approx(published, rel=0.01), name
    assert bgnbd["log_likelihood"] == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert gamma_gamma[name] == pytest.approx(published, rel=0.01), name
    first = next(a for a in calibration["accounts"] if a["external_id"] == "0001")
    assert (first["frequency"], first["recency"], first["T"]) == (2, 30.4286, 38.8571)

    with pytest.raises(ValueError, match="after today"):
        portfolio.run("clv", everything, portfolio.Options(as_of=timezone.localdate() + datetime.timedelta(days=1)))


def test_the_fit_is_kept_per_data_and_options_until_the_data_changes(cdnow, tmp_path, lead, monkeypatch):
    from keyplan.revenue import lifetime_value

    reads = []  # each time the ledger's lines are read (the real reading; on PostgreSQL it goes by COPY, past Django's query log)
    real = lifetime_value.purchase_lines
    monkeypatch.setattr(lifetime_value, "purchase_lines", lambda *a, **k: reads.append(k["as_of"]) or real(*a, **k))
    scope, options = portfolio.Scope(None), portfolio.Options(as_of=D(1998, 1, 1))
    fitted = portfolio.run("clv", scope, options)
    assert reads == [D(1998, 1, 1)]
    with CaptureQueriesContext(connection) as again:
        assert portfolio.run("clv", scope, options) == fitted
    assert reads == [D(1998, 1, 1)] and not ledger_reads(again.captured_queries)  # from the cache
    # Another day, horizon or rate is another fit.
    assert portfolio.run("clv", scope, portfolio.Options(as_of=D(1998, 1, 1), horizon_months=24)) != fitted
    assert len(reads) == 2
    # New lines change the fingerprint: a big purchase of customer 0001 late in 1997 is in the next answer.
    path = tmp_path / "more.csv"
    path.write_text("line_id,account_id,date,amount\nX1,0001,1997-12-01,5000.00\n")
    import_ledger(path, by=lead)
    refitted = portfolio.run("clv", scope, options)
    assert len(reads) == 3
    before, after = ({a["external_id"]: a for a in r["accounts"]}["0001"] for r in (fitted, refitted))
    assert after["frequency"] == before["frequency"] + 1 and after["clv"] > before["clv"]


def test_a_narrower_scope_is_fitted_on_its_own_accounts(cdnow, kam, lead):
    from keyplan.accounts import services as accounts
    from keyplan.accounts.models import Account, TeamRole

    for account in Account.objects.order_by("external_id")[:100]:
        accounts.add_team_member(account, by=lead, user=kam, role=TeamRole.KAM)
    mine = portfolio.run("clv", portfolio.Scope(kam), portfolio.Options(as_of=D(1998, 6, 30)))
    everyone = portfolio.run("clv", portfolio.Scope(None), portfolio.Options(as_of=D(1998, 6, 30)))
    assert {a["external_id"] for a in mine["accounts"]} == {f"{i:04d}" for i in range(1, 101)}
    assert mine["model"] != everyone["model"]


def test_default_as_of_follows_the_ledger(cdnow):
    assert default_as_of(today=D(2026, 12, 6)) == D(1998, 6, 30)
    assert default_as_of(today=D(1998, 6, 15)) == D(1998, 6, 15)  # revenue this month: today


def test_api_answers_as_of_a_day_and_names_bad_options(cdnow, api_client, lead):
    client = api_client(lead)
    answer = client.get("/api/v1/analysis/clv", {"as_of": "1997-09-30", "horizon_months": 6})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["as_of"], body["horizon_months"], len(body["accounts"])) == ("1997-09-30", 6, 2357)
    assert body["model"]["bgnbd"]["r"] == pytest.approx(PUBLISHED_BGNBD["r"], rel=0.01)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    for query, field in (({"as_of": tomorrow}, "as_of"), ({"horizon_months": 0}, "horizon_months"),
                         ({"discount_rate": 2}, "discount_rate"), ({"as_of": "1998-02-30"}, "as_of")):
        refused = client.get("/api/v1/analysis/clv", query)
        assert refused.status_code == 422, query
        assert [field] == [e["loc"][-1] for e in refused.json()["detail"]], query


def test_the_page_shows_the_day_the_horizon_and_what_the_numbers_mean(cdnow, lead):
    client = client_for(lead)
    page = client.get("/portfolio/analysis/clv/", {"as_of": "1998-01-01", "horizon_months": "6", "discount_pct": "5"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "What these numbers mean" in html and "Jan. 1, 1998" in html
    assert "the next 6 months" in html and "discounted at 5 % a year" in html
    totals = page.context["result"]["totals"]
    assert totals["clv"] > 0 and totals["accounts"] == 2357 and 0 < totals["likely_active"] < 2357
    assert len(page.context["accounts"]) == 200 and "The first 200 of 2,357 accounts" in html
    assert "as_of=1998-01-01" in html and "horizon_months=6" in html and "discount_rate=0.05" in html  # the JSON link

    default = client.get("/portfolio/analysis/clv/")
    assert "the last day the ledger reaches" in default.content.decode()
    assert default.context["result"]["as_of"] == "1998-06-30"

    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    refused = client.get("/portfolio/analysis/clv/", {"as_of": tomorrow, "horizon_months": "500"})
    html = refused.content.decode()
    assert refused.status_code == 200 and "result" not in refused.context
    assert "As of: Choose a day between 1 January 1900 and today." in html
    assert "Horizon (months): " in html


def test_the_page_in_persian_reads_right_to_left(cdnow, lead):
    client = client_for(lead)
    assert client.post("/i18n/setlang/", {"language": "fa", "next": "/"}).status_code == 302
    page = client.get("/portfolio/analysis/clv/", {"as_of": "1998-01-01"})
    html = page.content.decode()
    assert page.status_code == 200 and 'dir="rtl"' in html
    assert "What these numbers mean" not in html  # translated


def test_too_few_repeat_buyers_is_said_on_the_page(cdnow, lead):
    page = client_for(lead).get("/portfolio/analysis/clv/", {"as_of": "1997-01-02"})
    assert "at least 20 customers with repeat purchases" in page.content.decode()
