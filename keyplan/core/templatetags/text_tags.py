"""User data inside Keyplan's own text keeps its own direction on a right-to-left page (keyplan.core.bidi):
``{{ account.name|isolate }}`` where there is no markup (the <title>, attributes), ``{{ plan.period|bdi }}`` for a
value handed to ``{% blocktranslate %}`` (its sentence cannot hold the <bdi> element itself). Built in
(settings.TEMPLATES), so no ``{% load %}``."""

from functools import lru_cache

from django import template
from django.utils import translation
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from keyplan.core.bidi import isolate as isolated
from keyplan.core.numbers import locale_of

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


@lru_cache(maxsize=32)
def _list_comma(language: str) -> str:
    middle = locale_of(language).list_patterns["standard"]["middle"]  # "{0}, {1}"
    return middle.replace("{0}", "").replace("{1}", "")


@register.simple_tag
def list_comma() -> str:
    """What stands between two items of a list in the reader's language (CLDR): ", "; "、" in Chinese; "، " in
    Persian. ``{% if not forloop.last %}{% list_comma %}{% endif %}``."""
    return _list_comma(translation.get_language() or "en")


@register.filter(needs_autoescape=True)
def join_list(values, autoescape=True) -> str:
    """``values`` joined as the reader's language writes a list (``join:", "`` in every language otherwise)."""
    escape = conditional_escape if autoescape else str
    return mark_safe(list_comma().join(escape(value) for value in values))
