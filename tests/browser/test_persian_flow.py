"""A Persian lead opens the home and Pareto pages: right to left, Persian digits, a Latin name in its own order."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from keyplan.accounts import services as accounts
from keyplan.revenue.services import LedgerOptions, import_ledger

pytestmark = pytest.mark.browser

NAME = "Zenittron Health N.V."
LATIN_DIGIT = re.compile(r"[0-9]")

# Where the first and the last letter of an element's text are drawn: in "Zenittron Health N.V." read left to
# right, Z is left of the final full stop; reordered on a right-to-left line (".Zenittron Health N.V") it is not.
EDGES = """element => {
  const text = element.firstChild, range = document.createRange();
  range.setStart(text, 0); range.setEnd(text, 1);
  const first = range.getBoundingClientRect();
  range.setStart(text, text.length - 1); range.setEnd(text, text.length);
  const last = range.getBoundingClientRect();
  return {text: element.textContent, first: first.left, last: last.left, dir: getComputedStyle(element).direction};
}"""


@pytest.fixture
def zenittron(tmp_path, lead):
    """A Latin-named key account without a KAM (so the home page lists it) and 1,234,567.89 of revenue."""
    accounts.create_account(by=lead, data={"name": NAME, "external_id": "ZH-0001"}, tier="key")
    day = datetime.date.today() - datetime.timedelta(days=30)
    (tmp_path / "ledger.csv").write_text(f"line_id,account_id,date,amount\nL1,ZH-0001,{day},1234567.89\n"
                                         f"L2,OTHER-1,{day},2500\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0


def reads_in_order(locator) -> None:
    edges = locator.evaluate(EDGES)
    assert edges["text"] == NAME
    assert edges["dir"] == "ltr" and edges["first"] < edges["last"], edges


def test_persian_home_and_pareto(page, live_server, log_in, screenshot, zenittron):
    log_in("lead")
    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    tiles = page.locator(".tiles .tile-value").all_inner_texts()
    assert tiles[0] == "۲" and not any(LATIN_DIGIT.search(t) for t in tiles), tiles
    reads_in_order(page.locator("#program bdi", has_text="Zenittron").first)
    # The same name not isolated, on the same right-to-left page, is what a user saw before: ".Zenittron Health N.V".
    page.evaluate("name => { const p = document.createElement('p'); p.id = 'bare'; p.textContent = name;"
                  " document.querySelector('main').append(p); }", NAME)
    bare = page.locator("#bare").evaluate(EDGES)
    assert bare["dir"] == "rtl" and bare["first"] > bare["last"], bare
    page.evaluate("document.getElementById('bare').remove()")
    screenshot("fa-home")

    page.goto("/portfolio/analysis/pareto/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    first = page.locator("table.pareto tbody tr").first
    cells = first.locator("td").all_inner_texts()
    assert cells[0] == "۱" and cells[3] == "۱٬۲۳۴٬۵۶۸" and cells[4].endswith("٪"), cells
    assert not any(LATIN_DIGIT.search(c) for c in cells[:1] + cells[3:]), cells
    reads_in_order(first.locator("bdi", has_text="Zenittron"))
    chart = page.locator("[data-chart=analysis-figure]")
    expect(chart.locator(".main-svg").first).to_be_visible()
    # Plotly writes Latin digits; on a Persian page every tick and note of the chart reads in Persian digits,
    # also the hover labels drawn later.
    expect(chart.locator(".ytick text").first).not_to_have_text(LATIN_DIGIT)
    ticks = chart.locator(".xtick text, .ytick text").all_text_contents()
    assert ticks and not any(LATIN_DIGIT.search(t) for t in ticks), ticks
    # The bars' names stand whole inside the chart (measured right to left, they were cut off below it).
    frame = chart.bounding_box()
    names = [box for box in (label.bounding_box() for label in chart.locator(".xtick text").all()) if box]
    assert names and all(box["y"] + box["height"] <= frame["y"] + frame["height"] for box in names), (frame, names[:3])
    notes = chart.locator(".annotation-text").all_text_contents()
    assert any("۸۰٪" in n for n in notes) and not any(LATIN_DIGIT.search(n) for n in notes), notes
    assert all(n.startswith("\u2067") for n in notes), notes  # each its own right-to-left run inside the SVG
    # Plotly's toolbar in Persian (keyplan/web/chart_locale.py).
    chart.hover()
    assert chart.locator(".modebar-btn[data-title]").first.get_attribute("data-title") == "بارگیری نمودار به صورت png"
    screenshot("fa-pareto")


def test_number_fields_take_persian_digits_as_typed(page, live_server, log_in, zenittron):
    log_in("lead")
    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])
    page.goto("/relationships/")  # the portfolio's contacts, with "not contacted for N days"
    days = page.locator("form.stale-days input[name=days]")
    days.fill("")
    days.press_sequentially("۴۵")  # Persian digits, as a Persian keyboard types them
    assert days.input_value() == "45"
    days.press("Enter")
    page.wait_for_url(re.compile(r"days=45"))
    # Arabic-Indic digits and the Persian decimal separator too (a plain field to show it: the page's is whole days).
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', "
                  "'<input id=\"decimal\" type=\"number\" step=\"any\">')")
    page.locator("#decimal").press_sequentially("١٢٫٥")
    assert page.locator("#decimal").input_value() == "12.5"
