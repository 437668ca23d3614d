from django import template

from keyplan.core import numbers

register = template.Library()


@register.filter
def percent(fraction, decimals=1):
    """0.1234|percent → "12.3%" in English, "12,3 %" in German."""
    return numbers.percent(None if fraction in (None, "") else float(fraction), int(decimals))
