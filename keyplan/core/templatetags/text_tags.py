"""User data inside Keyplan's own text keeps its own direction on a right-to-left page (keyplan.core.bidi):
``{{ account.name|isolate }}`` where there is no markup (the <title>, attributes), ``{{ plan.period|bdi }}`` for a
value handed to ``{% blocktranslate %}`` (its sentence cannot hold the <bdi> element itself). Built in
(settings.TEMPLATES), so no ``{% load %}``."""

from django import template
from django.utils.html import format_html

from keyplan.core.bidi import isolate as isolated

register = template.Library()


@register.filter(is_safe=True)
def isolate(value) -> str:
    """``value`` between Unicode isolates (FSI … PDI): for text without markup. Escaped as usual afterwards."""
    return isolated("" if value is None else str(value))


@register.filter
def bdi(value) -> str:
    """``value`` escaped, in a <bdi> element."""
    return format_html("<bdi>{}</bdi>", "" if value is None else value)


@register.simple_tag
def arrow() -> str:
    """"→" from one thing to the next, "←" on a right-to-left page (arrows are not mirrored by the browser): a path
    from Ursula to Vincent reads from the right on a Persian page and must point that way."""
    from django.utils.translation import get_language_bidi

    return "←" if get_language_bidi() else "→"
