"""Words for the analyses' codes in the current language."""

import datetime

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from keyplan.core import numbers
from keyplan.relationships.models import BuyingRole, ContactStrength, DecisionPower, LineStrength, Polarity, Sentiment

register = template.Library()

REASONS = {
    "urgent_blocker": gettext_lazy("Blocker with high decision power: urgent."),
    "high_power": gettext_lazy("High decision power."),
    "deciding_role": gettext_lazy("Decides the purchase (%(role)s)."),
    "blocker": gettext_lazy("Blocks the decision."),
    "critic": gettext_lazy("Critical of us."),
    "neutral": gettext_lazy("Neutral towards us."),
    "no_contact": gettext_lazy("Nobody on our side is in contact."),
    "weak_contact": gettext_lazy("Only weak contact."),
    "no_owner": gettext_lazy("Nobody on the team owns this relationship."),
    "negative_influence": gettext_lazy("Negatively influenced by %(names)s."),
}
CHOICES = {
    "role": dict(BuyingRole.choices),
    "power": dict(DecisionPower.choices),
    "sentiment": dict(Sentiment.choices),
    "contact": dict(ContactStrength.choices),
    # A path's weakest step may be a reporting line: weaker than any influence line.
    "strength": {**dict(LineStrength.choices), "reporting": gettext_lazy("reporting line")},
    "polarity": dict(Polarity.choices),
}


@register.filter
def reason_text(reason) -> str:
    params = dict(reason.params)
    if "role" in params:
        params["role"] = str(CHOICES["role"].get(params["role"], params["role"]))
    return str(REASONS[reason.code]) % params if reason.code in REASONS else reason.text


@register.filter
def label(value: str, kind: str) -> str:
    """The label of a stored choice value: ``{{ person.sentiment|label:"sentiment" }}``."""
    if not value:
        return "—"
    return str(CHOICES[kind].get(value, value))


# Groups of people inside a sentence ("Watched: decision makers; champions"), each language writing them its own way
# (German capitalises its nouns): words of their own rather than the role labels lower-cased.
WATCHED_ROLES = {
    "decision_maker": pgettext_lazy("watched group", "decision makers"),
    "economic_buyer": pgettext_lazy("watched group", "economic buyers"),
    "influencer": pgettext_lazy("watched group", "influencers"),
    "champion": pgettext_lazy("watched group", "champions"),
    "user": pgettext_lazy("watched group", "users"),
    "gatekeeper": pgettext_lazy("watched group", "gatekeepers"),
    "blocker": pgettext_lazy("watched group", "blockers"),
}
WATCHED_POWERS = {
    "high": pgettext_lazy("decision power, in a sentence", "high"),
    "medium": pgettext_lazy("decision power, in a sentence", "medium"),
    "low": pgettext_lazy("decision power, in a sentence", "low"),
}
assert set(WATCHED_ROLES) == set(BuyingRole.values) and set(WATCHED_POWERS) == set(DecisionPower.values)


@register.filter
def watched_text(rule) -> str:
    """Whom the stale alerts watch, in words: ``{{ rule|watched_text }}``."""
    parts = []
    if rule.powers:
        powers = ", ".join(str(WATCHED_POWERS[p]) for p in rule.powers)
        parts.append(_("decision power %(powers)s") % {"powers": powers})
    parts += [str(WATCHED_ROLES[r]) for r in rule.roles]
    if rule.key_contacts:
        parts.append(_("key contact points"))
    return _("Watched: %(groups)s.") % {"groups": "; ".join(parts)}


@register.filter
def days_since(date: datetime.date | None, today: datetime.date) -> int | None:
    return None if date is None else (today - date).days


@register.simple_tag
def last_contact_text(date: datetime.date | None, today: datetime.date) -> str:
    if date is None:
        return _("never")
    days = (today - date).days
    if days == 0:
        return _("today")
    if days == 1:
        return _("yesterday")
    return _("%(days)s days ago") % {"days": numbers.number(days)}


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
