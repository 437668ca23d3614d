"""Numbers in the reader's language (CLDR through Babel): "12.3%" in English, "12,3 %" in German, "۱۲٫۳٪" in Persian.

Every count, amount and percentage a page, chart or map shows goes through these functions (in templates through the
``number``, ``percent`` and ``money`` filters of ``keyplan.core.templatetags.numbers``, which are built in). They use
the locale's own numbering system: Persian digits and separators for ``fa``, Latin digits elsewhere.
"""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern, format_currency, format_decimal, parse_pattern
from django.utils import translation

# Babel knows each locale's numbering system and its symbols, but leaves the digits Latin: these are the digits of
# the systems our languages use by default (CLDR numberingSystems.xml).
DIGITS = {
    "arabext": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
    "arab": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
}


# A page formats hundreds of numbers (the Pareto table: 600): the locale, its symbols and the parsed patterns are
# made once per language and kept, not parsed again for every number (that was half of such a page's CPU).
def _locale() -> Locale:
    return locale_of(translation.get_language() or "en")


@lru_cache(maxsize=32)
def locale_of(language: str) -> Locale:
    """Babel's Locale for a Django language code ("zh-hans", "fa"), parsed once per language."""
    return Locale.parse(translation.to_locale(language))


@lru_cache(maxsize=32)
def _symbols(locale: Locale) -> dict:
    return dict(locale.number_symbols[locale.default_numbering_system])


def writes_decimal_comma() -> bool:
    """Whether the active language writes 1234,5 (Dutch, German, Italian) rather than 1234.5 (in Latin digits)."""
    return _locale().number_symbols["latn"]["decimal"] == ","


def _decimal(value) -> Decimal | None:
    """Whatever a template hands over (int, float, Decimal, "12.5") as a Decimal; None for nothing or not a number."""
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


@lru_cache(maxsize=32)
def _number_pattern(decimals: int) -> NumberPattern:
    return parse_pattern(_pattern(decimals))


def _pattern(decimals: int) -> str:
    """``decimals`` > 0: exactly that many; < 0: up to that many (as Django's floatformat:"-2"); 0: none."""
    if decimals > 0:
        return "#,##0." + "0" * decimals
    if decimals < 0:
        return "#,##0." + "#" * -decimals
    return "#,##0"


def _finish(text: str, value: Decimal, locale: Locale, signed: bool) -> str:
    """Babel's text in the locale's numbering system: its digits, its minus, plus and percent signs
    (Persian's carry a left-to-right mark, so "-9%" stays "‎−۹٪" on a right-to-left page)."""
    symbols = _symbols(locale)
    if "-" in text:
        text = text.replace("-", symbols["minusSign"], 1)
    elif signed and value > 0:
        text = symbols["plusSign"] + text
    text = text.replace("%", symbols["percentSign"])
    table = DIGITS.get(locale.default_numbering_system)
    return text.translate(table) if table else text


def number(value, decimals: int = 0, *, signed: bool = False) -> str:
    """``value`` with the active language's digits and separators and ``decimals`` decimals; "—" for None."""
    value = _decimal(value)
    if value is None:
        return "—"
    locale = _locale()
    places = abs(decimals)
    text = format_decimal(round(value, places), _number_pattern(decimals), locale=locale, numbering_system="default")
    return _finish(text, value, locale, signed)


def digits(value) -> str:
    """``value`` as written, its digits in the active language's numbering system and nothing grouped: a year
    ("۲۰۲۶"), a range of years ("۲۰۲۵→۲۰۲۶"), an id; "" for None."""
    if value is None:
        return ""
    table = DIGITS.get(_locale().default_numbering_system)
    return str(value).translate(table) if table else str(value)


def percent(fraction, decimals: int = 1, *, signed: bool = False) -> str:
    """``fraction`` (0.123) as a percentage with ``decimals`` decimals in the active language; "—" for None."""
    fraction = _decimal(fraction)
    if fraction is None:
        return "—"
    locale = _locale()
    text = format_decimal(fraction, _percent_pattern(locale, decimals), locale=locale, numbering_system="default")
    return _finish(text, fraction, locale, signed)


@lru_cache(maxsize=64)
def _percent_pattern(locale: Locale, decimals: int) -> NumberPattern:
    """The language's percent pattern with ``decimals`` decimals (as in `_pattern()`)."""
    pattern = locale.percent_formats[None].pattern
    last = pattern.rindex("0") + 1
    if decimals:
        pattern = f"{pattern[:last]}.{('0' if decimals > 0 else '#') * abs(decimals)}{pattern[last:]}"
    return parse_pattern(pattern)


def money(value, currency: str | None = None, decimals: int | None = None) -> str:
    """An amount with its currency as the language writes it ("€1,234.50", "1.234,50 €", "‎€ ۱٬۲۳۴٫۵۰");
    without a currency, the amount alone. ``decimals`` None: the currency's own (2 for EUR, 0 for JPY)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    if not currency:
        return number(amount, 2 if decimals is None else decimals)
    locale = _locale()
    if decimals is None:
        text = format_currency(amount, currency, locale=locale, numbering_system="default")
    else:
        pattern = locale.currency_formats["standard"].pattern.split(";")[0].replace("#,##0.00", _pattern(decimals))
        text = format_currency(amount, currency, pattern, locale=locale, currency_digits=False, numbering_system="default")
    return _finish(text, amount, locale, False)


def plotly_separators() -> str:
    """Plotly's ``layout.separators``: the active language's decimal and thousands signs, so ticks and hovers read as
    the page. Plotly draws its own digits Latin on axes (it has no numbering systems): Persian pages get the Persian
    separators with them, and the hover texts the pages build with ``number`` carry Persian digits."""
    symbols = _symbols(_locale())
    return symbols["decimal"] + symbols["group"]
