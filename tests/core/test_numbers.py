"""Numbers as each of the six languages writes them (CLDR through Babel, the locale's own digits)."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from keyplan.core import numbers
from keyplan.core.bidi import isolate

# 1234567.89 with two decimals, -0.0912 as a percentage with one, 1234.5 euros, Plotly's separators.
EXPECTED = {
    "en": ("1,234,567.89", "-9.1%", "€1,234.50", ".,"),
    "nl": ("1.234.567,89", "-9,1%", "€\xa01.234,50", ",."),
    "de": ("1.234.567,89", "-9,1\xa0%", "1.234,50\xa0€", ",."),
    "it": ("1.234.567,89", "-9,1%", "1.234,50\xa0€", ",."),
    "zh-hans": ("1,234,567.89", "-9.1%", "€1,234.50", ".,"),
    # Persian digits, the Persian decimal (٫) and group (٬) signs, a minus and a percent sign that keep their
    # place on a right-to-left page (the minus carries a left-to-right mark).
    "fa": ("۱٬۲۳۴٬۵۶۷٫۸۹", "\u200e−۹٫۱٪", "\u200e€\xa0۱٬۲۳۴٫۵۰", "٫٬"),
}


@pytest.mark.parametrize("code", EXPECTED)
def test_numbers_percentages_money_and_chart_separators_in_each_language(code):
    expected_number, expected_percent, expected_money, expected_separators = EXPECTED[code]
    with translation.override(code):
        assert numbers.number(1234567.89, 2) == expected_number
        assert numbers.percent(-0.0912) == expected_percent
        assert numbers.money(Decimal("1234.5"), "EUR") == expected_money
        assert numbers.plotly_separators() == expected_separators


@pytest.mark.parametrize(("code", "whole", "signed", "share"), [
    ("en", "12,026,504", "+35%", "12%"),
    ("de", "12.026.504", "+35\xa0%", "12\xa0%"),
    ("zh-hans", "12,026,504", "+35%", "12%"),  # grouped by thousands (Django's own zh format has no separator)
    ("fa", "۱۲٬۰۲۶٬۵۰۴", "\u200e+۳۵٪", "۱۲٪"),
])
def test_whole_numbers_signed_and_whole_percentages(code, whole, signed, share):
    with translation.override(code):
        assert numbers.number(12026504) == whole
        assert numbers.percent(0.35, 0, signed=True) == signed
        assert numbers.percent(0.123, 0) == share


def test_rounding_optional_decimals_and_nothing():
    with translation.override("en"):
        assert numbers.number(2.5, -2) == "2.5" and numbers.number(3, -2) == "3" and numbers.number(1.005, 2) == "1.00"
        assert numbers.number("1234.5", 1) == "1,234.5"  # what a template may hand over
        assert numbers.number(None) == numbers.percent(None) == numbers.money(None, "EUR") == "—"
        assert numbers.number(-1234) == "-1,234" and numbers.number(5, signed=True) == "+5"
        assert numbers.money(1234, "JPY") == "¥1,234"  # the currency's own decimals
        assert numbers.money(1234.567) == "1,234.57"  # without a currency: the amount alone


@pytest.mark.parametrize("code", EXPECTED)
def test_the_built_in_template_filters(code):
    template = Template("{{ x|number }} {{ x|number:2 }} {{ f|percent }} {{ f|percent:0 }} {{ m|money:'EUR' }} {{ f|signed:1 }}")
    with translation.override(code):
        text = template.render(Context({"x": 1234567.891, "f": 0.25, "m": 1234.5}))
        assert text == " ".join([numbers.number(1234567.891), numbers.number(1234567.891, 2), numbers.percent(0.25),
                                 numbers.percent(0.25, 0), numbers.money(1234.5, "EUR"), numbers.number(0.25, 1, signed=True)])
    if code == "fa":
        assert not any(ch.isascii() and ch.isdigit() for ch in text)


def test_isolate_brackets_user_data_with_unicode_isolates():
    assert isolate("Zenittron Health N.V.") == "\u2068Zenittron Health N.V.\u2069"
    assert isolate("") == ""
