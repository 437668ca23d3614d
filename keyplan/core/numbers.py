"""Numbers in the reader's language (CLDR patterns through Babel): "12.3%" in English, "12,3 %" in German."""

from babel import Locale
from babel.numbers import format_decimal, format_percent
from django.utils import translation


def _locale() -> Locale:
    return Locale.parse(translation.to_locale(translation.get_language() or "en"))


def percent(fraction: float | None, decimals: int = 1) -> str:
    """``fraction`` (0.123) as a percentage with ``decimals`` decimals in the active language; "—" for None."""
    if fraction is None:
        return "—"
    locale = _locale()
    pattern = locale.percent_formats[None].pattern
    last = pattern.rindex("0") + 1
    if decimals:
        pattern = f"{pattern[:last]}.{'0' * decimals}{pattern[last:]}"
    return format_percent(fraction, pattern, locale=locale)


def number(value: float | None, decimals: int = 0) -> str:
    """``value`` with the active language's separators and ``decimals`` decimals; "—" for None."""
    if value is None:
        return "—"
    return format_decimal(round(value, decimals), f"#,##0{'.' + '0' * decimals if decimals else ''}", locale=_locale())


def plotly_separators() -> str:
    """Plotly's ``layout.separators``: the active language's decimal and thousands signs, so hovers read as the page."""
    symbols = _locale().number_symbols["latn"]
    return symbols["decimal"] + symbols["group"]
