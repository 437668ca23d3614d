"""Numbers and user data on a Persian page: Persian digits and separators, Latin names kept in their own order."""

import datetime
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from keyplan.revenue.services import LedgerOptions, import_ledger
from tests.conftest import client_for
from tests.scoring.conftest import criteria, worked_example  # noqa: F401  (fixtures)

TEMPLATES = Path(__file__).resolve().parents[2] / "keyplan"
NAME = "Zenittron Health N.V."


@pytest.fixture
def zenittron(tmp_path, lead, make_account):
    """A Latin-named account with 1,234,567 employees and 1,234,567.89 of revenue a month ago."""
    account = make_account(NAME, external_id="ZH-0001", employees=1234567)
    day = datetime.date.today() - datetime.timedelta(days=30)
    (tmp_path / "ledger.csv").write_text(f"line_id,account_id,date,amount\nL1,ZH-0001,{day},1234567.89\n"
                                         f"L2,OTHER-1,{day},1000.50\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0
    return account


def persian(client, url) -> str:
    client.cookies["django_language"] = "fa"
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_pareto_page_in_persian(lead, zenittron):
    body = persian(client_for(lead), reverse("revenue:analysis", args=["pareto"]))
    assert 'dir="rtl"' in body
    row = re.search(r"<tr[^>]*><td>۱</td>(.*?)</tr>", body).group(1)  # the first rank, in Persian digits
    assert f"<bdi>{NAME}</bdi>" in row and "<bdi>ZH-0001</bdi>" in row
    assert '<td class="num">۱٬۲۳۴٬۵۶۸</td>' in row  # 1234567.89 rounded, Persian digits and group sign
    assert '<td class="num share">۹۹٫۹٪</td>' in row
    table = body.split('<table class="table pareto">')[1].split("</table>")[0]
    assert not re.search(r"<td[^>]*>[^<]*[0-9]", table)  # no Latin digit in a cell


def test_portfolio_page_in_persian(lead, zenittron):
    """The period in the Solar Hijri calendar, years and counts in Persian digits: no Latin digit in the head,
    the tiles or the ABC tables."""
    import jdatetime

    from keyplan.core.dates import PERSIAN_DIGITS

    body = persian(client_for(lead), reverse("revenue:portfolio"))
    head = body.split('<div class="page-head">')[1].split("</p>")[0]
    last = jdatetime.date.fromgregorian(date=datetime.date.today() - datetime.timedelta(days=30))  # the last day with data
    assert f"{last.day} {jdatetime.date.j_months_fa[last.month - 1]} {last.year}".translate(PERSIAN_DIGITS) in head
    tiles = body.split('class="tiles"')[1].split("</section>")[0]
    abc = body.split('class="abc-grid"')[1].split("</section>")[0]
    for part in (head, tiles, abc):
        visible = re.sub(r"<[^>]+>", " ", part)
        assert not re.search(r"[0-9]", visible), visible
    assert "۱۰" in tiles  # the top-10 share's label counts in Persian too


def test_account_page_in_persian(lead, zenittron):
    client = client_for(lead)
    body = persian(client, reverse("accounts:detail", args=[zenittron.pk]))
    assert f"<h1><bdi>{NAME}</bdi>" in body
    assert '<bdi class="mono">ZH-0001</bdi>' in body
    employees = body.split('id="field-employees"')[1].split("</dd>")[0]
    assert 'dir="auto">۱٬۲۳۴٬۵۶۷</span>' in employees
    revenue = persian(client, reverse("revenue:account_revenue", args=[zenittron.pk]))
    assert "<dd>۱٬۲۳۴٬۵۶۸</dd>" in revenue
    # The monthly chart writes whole amounts with the Persian separators (not Plotly's English "40k").
    chart = json.loads(revenue.split('id="account-revenue-figure" type="application/json">')[1].split("</script>")[0])
    assert chart["layout"]["separators"] == "٫٬" and chart["layout"]["yaxis"]["tickformat"] == ",.0f"


def test_pages_show_numbers_only_through_the_number_filters():
    """``floatformat``, ``intcomma`` and ``widthratio … 100 %}%`` write Latin digits on a Persian page and no
    grouping in Chinese: numbers go through |number, |percent, |money (keyplan/core/numbers.py)."""
    offending = []
    for path in TEMPLATES.rglob("templates/**/*.html"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\|(floatformat|intcomma)\b|\{% widthratio [^%]* 1 100 %\}\s?%(?!\")", line):
                if 'type="number"' not in line:  # an input's value is for the browser, not the reader
                    offending.append(f"{path.relative_to(TEMPLATES)}:{i}")
    assert not offending, offending


def test_the_account_page_writes_its_rank_and_relationship_start_as_a_persian_reader_does(lead, worked_example):
    from django.utils import translation

    from keyplan.accounts.models import Account
    from keyplan.core.dates import format_date

    alpha = worked_example["Alpha"]
    Account.objects.filter(pk=alpha.pk).update(relationship_start=datetime.date(2025, 3, 2))
    client = client_for(lead)
    client.cookies["django_language"] = "fa"
    body = client.get(reverse("accounts:detail", args=[alpha.pk])).content.decode()
    card = client.get(reverse("scoring:account_card", args=[alpha.pk])).content.decode()  # the page loads it
    rank = re.search(r'<p class="rank-line">(.*?)</p>', card, re.S).group(1)
    assert "۲" in rank and not re.search(r"[0-9]", re.sub(r"<[^>]+>", "", rank)), rank  # rank 2 of 3, totals
    with translation.override("fa"):
        since = format_date(datetime.date(2025, 3, 2))
    assert since.startswith("۱۲") and since in body and "2025-03-02</span>" not in body
