"""The one way a template shows a count, an amount or a percentage: ``{{ x|number }}``, ``{{ x|number:2 }}``,
``{{ share|percent }}``, ``{{ amount|money:currency }}``. Built in (settings.TEMPLATES), so no ``{% load %}``.
Django's ``floatformat`` and ``intcomma`` are not used: they write Latin digits on a Persian page and no grouping in
Chinese (tests/web/test_numbers.py keeps it so)."""

from django import template

from keyplan.core import numbers

register = template.Library()


@register.filter
def number(value, decimals=0) -> str:
    """1234567.891|number → "1,234,568"; |number:2 → "1.234.567,89" in German; |number:"-2" up to two decimals."""
    return numbers.number(value, int(decimals))


@register.filter
def signed(value, decimals=0) -> str:
    """A change: "+1,234", "-56" (with the Persian signs and digits on a Persian page)."""
    return numbers.number(value, int(decimals), signed=True)


@register.filter
def digits(value) -> str:
    """2026|digits → "2026", "۲۰۲۶" in Persian: a year or an id, never grouped."""
    return numbers.digits(value)


@register.filter
def percent(fraction, decimals=1) -> str:
    """0.1234|percent → "12.3%" in English, "12,3 %" in German, "۱۲٫۳٪" in Persian; |percent:0 → "12%"."""
    return numbers.percent(fraction, int(decimals))


@register.filter
def money(value, currency="") -> str:
    """1234.5|money:"EUR" → "€1,234.50", "1.234,50 €" in German."""
    return numbers.money(value, currency or None)
