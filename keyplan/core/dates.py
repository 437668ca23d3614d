"""Dates as the reader writes them: the Solar Hijri calendar (with Persian month names and digits) on a Persian
page, the Gregorian calendar in Django's formats for each other language.

Templates reach this through the built-in ``date`` filter (``keyplan.core.templatetags.number_tags``), so
``{{ day|date:"SHORT_DATE_FORMAT" }}`` reads 1405/9/15 in Persian and 06.12.2026 in German. Files that leave
Keyplan (exports, .ics) keep Gregorian ISO dates, which every program reads.
"""

import datetime

import jdatetime
from django.template.defaultfilters import date as gregorian_date
from django.template.defaultfilters import time as gregorian_time
from django.utils.formats import get_format
from django.utils.translation import get_language

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SOLAR_HIJRI_CHARS = set("djmnYyFNMbEDlGHghisAa")


def month_label(month: str) -> str:
    """A Gregorian month ("2026-01", as the monthly analyses key them) as the reader names it: "Jan 2026",
    "Jan. 2026", "2026年1月"; Persian pages name the Gregorian month in Persian ("ژانویه ۲۰۲۶"), since a Gregorian
    month has no Solar Hijri equivalent. Anything else comes back as it is."""
    try:
        day = datetime.date.fromisoformat(f"{month}-01")
    except (TypeError, ValueError):
        return month
    from babel.dates import format_skeleton
    from django.utils.translation import to_locale

    text = format_skeleton("yMMM", day, locale=to_locale(get_language() or "en"))
    return text.translate(PERSIAN_DIGITS) if uses_solar_hijri() else text


def uses_solar_hijri(language: str | None = None) -> bool:
    return (language or get_language() or "").startswith("fa")


def format_date(value, format_name: str | None = None) -> str:
    """``value`` (a date or datetime) in the active language's calendar and the named format (a Django format
    setting such as ``SHORT_DATE_FORMAT``); a spelled-out pattern, or anything else, as Django's ``date`` filter
    has it."""
    named = format_name is None or format_name.endswith("_FORMAT")
    if not named or not uses_solar_hijri() or not isinstance(value, datetime.date):
        # A pattern spelled out ("Y-m-d") writes a value for machines (a form field, an attribute): Gregorian.
        return gregorian_date(value, format_name)
    pattern = get_format(format_name or "DATE_FORMAT")
    if any(char.isascii() and char.isalpha() and char not in SOLAR_HIJRI_CHARS for char in pattern.replace("\\", "")):
        return gregorian_date(value, format_name)  # a format letter of Django's not written here (ISO, Unix time…)
    return solar_hijri(value, pattern).translate(PERSIAN_DIGITS)


def solar_hijri(value: datetime.date, pattern: str) -> str:
    """``value`` in the Solar Hijri calendar, written by a Django date pattern (``j F Y``, ``Y/n/j``, ``G:i``)."""
    if isinstance(value, datetime.datetime):
        moment = jdatetime.datetime.fromgregorian(datetime=value)
    else:
        moment = jdatetime.date.fromgregorian(date=value)
    month_name = jdatetime.date.j_months_fa[moment.month - 1]
    weekday = jdatetime.date.j_weekdays_fa[moment.weekday()]
    hour, minute, second = (getattr(moment, name, 0) for name in ("hour", "minute", "second"))
    parts = {
        "d": f"{moment.day:02d}", "j": str(moment.day), "m": f"{moment.month:02d}", "n": str(moment.month),
        "Y": str(moment.year), "y": f"{moment.year % 100:02d}", "F": month_name, "N": month_name, "M": month_name,
        "b": month_name, "E": month_name, "D": weekday, "l": weekday, "G": str(hour), "H": f"{hour:02d}",
        "g": str(hour % 12 or 12), "h": f"{hour % 12 or 12:02d}", "i": f"{minute:02d}", "s": f"{second:02d}",
        "A": "ب.ظ" if hour >= 12 else "ق.ظ", "a": "ب.ظ" if hour >= 12 else "ق.ظ",
    }
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(parts.get(char, char))
    return "".join(out)


def format_time(value, format_name: str | None = None) -> str:
    """A time of day in the active language's format (Persian digits on a Persian page)."""
    text = gregorian_time(value, format_name)
    named = format_name is None or format_name.endswith("_FORMAT")
    return text.translate(PERSIAN_DIGITS) if named and uses_solar_hijri() else text
