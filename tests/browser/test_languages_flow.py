"""The five pages a KAM team opens first, in each of the six languages, as Chromium draws them: the page's language
and direction, no English message the catalog translates left in the visible text, revenue of 1,234,567.89 in the
language's own digits and grouping, a date as the language writes it, a Latin account name in its own order, and a
screenshot of each."""

import datetime
import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from keyplan.accounts.models import Account
from keyplan.core.dates import format_date
from keyplan.relationships import services as relationships
from keyplan.scoring import services as scoring
from tests.browser.test_persian_flow import NAME, reads_in_order, zenittron  # noqa: F401 - the fixture
from tests.web.test_no_english_left import english_messages

pytestmark = pytest.mark.browser

# The Pareto page shows 1,234,567.89 of revenue in whole units, grouped as CLDR writes it in each language.
REVENUE = {"en": "1,234,568", "nl": "1.234.568", "de": "1.234.568", "it": "1.234.568", "zh-hans": "1,234,568",
           "fa": "۱٬۲۳۴٬۵۶۸"}

# The visible text of the page, without what a reader sees as data (isolated: <bdi>, dir="auto") or never sees.
VISIBLE_TEXT = """() => {
  const texts = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT, {
    acceptNode: node => node.parentElement.closest('bdi, [dir=auto], script, style, template, [hidden]')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) { const t = walker.currentNode.textContent.replace(/\\s+/g, ' ').trim(); if (t) texts.push(t); }
  return texts;
}"""


@pytest.fixture
def portfolio(zenittron, lead):  # noqa: F811 - the fixture imported above
    """Zenittron with two stakeholders (one reporting to the other) and a score on a library criterion."""
    account = Account.objects.get(external_id="ZH-0001")
    boss = relationships.create_stakeholder(account, by=lead, data={"name": "Anna Visser", "title": "CFO",
                                                                     "buying_role": "decision_maker"})
    relationships.create_stakeholder(account, by=lead, data={"name": "Li Wei", "title": "Head of IT",
                                                            "reports_to": boss})
    criterion = scoring.add_suggested_criterion(by=lead, key="product_fit")
    scoring.set_score(account, by=lead, criterion=criterion, value=8)
    return account


@pytest.mark.parametrize("code", [code for code, _name in settings.LANGUAGES])
def test_first_pages_in_each_language(page, live_server, log_in, screenshot, portfolio, code):
    log_in("lead")
    page.context.add_cookies([{"name": "django_language", "value": code, "url": live_server.url}])
    english = english_messages(code) if code != "en" else set()
    rtl = code in settings.LANGUAGES_BIDI
    pages = {"home": reverse("home"), "pareto": reverse("revenue:analysis", args=["pareto"]),
             "account": reverse("accounts:detail", args=[portfolio.pk]), "selection": reverse("scoring:matrix"),
             "map": reverse("relationships:map", args=[portfolio.pk])}
    for name, path in pages.items():
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", code)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if rtl else "ltr")
        texts = page.evaluate(VISIBLE_TEXT)
        assert texts, f"{name}: nothing visible"
        left = sorted({text for text in texts if text in english or text.rstrip(".:") in english})  # the web test's rule
        assert not left, f"{code} {name}: English left on the page: {left}"
        if name == "pareto":
            cells = page.locator("table.pareto tbody tr").first.locator("td").all_inner_texts()
            assert cells[3] == REVENUE[code], cells
            if rtl:
                reads_in_order(page.locator("table.pareto tbody tr").first.locator("bdi", has_text="Zenittron"))
        if name == "account":  # today's key status change, dated as the reader writes dates (Solar Hijri in Persian)
            with translation.override(code):
                today = format_date(datetime.date.today(), "SHORT_DATE_FORMAT")
            assert any(today in text for text in texts), (today, texts)
        if name == "map":
            expect(page.locator("main svg").first).to_be_visible()
        if code == "fa":
            latin = [text for text in texts if re.search(r"[0-9]", text)]
            assert not latin, f"{name}: Latin digits in {latin}"
        screenshot(f"lang-{code}-{name}")
