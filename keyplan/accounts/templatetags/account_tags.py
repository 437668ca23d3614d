import datetime
from decimal import Decimal

from django import template

from keyplan.core import numbers
from keyplan.core.dates import format_date

register = template.Library()


@register.filter
def field_label(instance, name: str) -> str:
    return str(instance._meta.get_field(name).verbose_name)


@register.filter
def field_display(instance, name: str) -> str:
    """The value of one field as a person reads it: labels for choices, names for countries, numbers in the
    reader's digits, — for nothing."""
    field = instance._meta.get_field(name)
    if field.choices:
        value = getattr(instance, f"get_{name}_display")()
    elif name == "country":
        value = instance.country.name
    else:
        value = getattr(instance, name)
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return numbers.number(value, -2)  # "1,250" employees, "۱٬۲۵۰" on a Persian page
        if isinstance(value, datetime.date):
            return format_date(value)  # "March 2, 2025", "2. März 2025", "۱۲ اسفند ۱۴۰۳"
    return "—" if value in (None, "") else str(value)
