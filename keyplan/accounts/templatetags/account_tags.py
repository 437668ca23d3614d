from django import template

register = template.Library()


@register.filter
def field_label(instance, name: str) -> str:
    return str(instance._meta.get_field(name).verbose_name)


@register.filter
def field_display(instance, name: str) -> str:
    """The value of one field as a person reads it: labels for choices, names for countries, — for nothing."""
    field = instance._meta.get_field(name)
    if field.choices:
        value = getattr(instance, f"get_{name}_display")()
    elif name == "country":
        value = instance.country.name
    else:
        value = getattr(instance, name)
    return "—" if value in (None, "") else str(value)
