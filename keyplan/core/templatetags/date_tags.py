"""The one way a template shows a date: Django's ``{{ day|date:"SHORT_DATE_FORMAT" }}``, replaced (built in through
settings.TEMPLATES, after Django's own) by one that writes the Solar Hijri calendar on a Persian page
(``keyplan.core.dates``)."""

import datetime

from django import template

from keyplan.core import dates

register = template.Library()


@register.filter(expects_localtime=True, is_safe=False)
def date(value, arg=None) -> str:
    """6 December 2026|date:"DATE_FORMAT" → "6 December 2026", "6. Dezember 2026", "۱۵ آذر ۱۴۰۵"; an ISO date
    string (as the analyses' results carry their period) is read as that date."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return dates.format_date(value, arg)


@register.filter(expects_localtime=True, is_safe=False)
def time(value, arg=None) -> str:
    """14:05|time:"TIME_FORMAT" → "2:05 p.m.", "14:05", "۱۴:۰۵"."""
    if value in (None, ""):
        return ""
    return dates.format_time(value, arg)


@register.filter(is_safe=False)
def month(value) -> str:
    """"2026-01"|month → "Jan 2026", "Jan. 2026", "2026年1月", "ژانویه ۲۰۲۶"."""
    return dates.month_label(value) if value else ""
