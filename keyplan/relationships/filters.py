"""One filter definition each for the stakeholder table and the interaction log, pages and API alike."""

import datetime

from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from keyplan.core.widgets import FastSelect
from keyplan.relationships.models import (
    BuyingRole,
    ContactStrength,
    DecisionPower,
    Interaction,
    InteractionKind,
    Sentiment,
    Stakeholder,
)

STAKEHOLDER_SORTS = {
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
    "department": ("department", "name", "pk"),
    "power": ("decision_power_rank", "name", "pk"),
    "sentiment": ("sentiment_rank", "name", "pk"),
    "last_contact": ("last_contact", "name", "pk"),
    "-last_contact": ("-last_contact", "name", "pk"),
}


def _any(label, choices):
    return [("", label)] + list(choices)


class StakeholderFilter(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    department = forms.CharField(label=_("Department"), required=False, max_length=120)
    buying_role = forms.ChoiceField(label=_("Role"), required=False, widget=FastSelect,
                                    choices=_any(_("Any role"), BuyingRole.choices))
    decision_power = forms.ChoiceField(label=_("Decision power"), required=False, widget=FastSelect,
                                       choices=_any(_("Any decision power"), DecisionPower.choices))
    sentiment = forms.ChoiceField(label=_("Sentiment"), required=False, widget=FastSelect,
                                  choices=_any(_("Any sentiment"), Sentiment.choices))
    contact = forms.ChoiceField(label=_("Contact strength"), required=False, widget=FastSelect,
                                choices=_any(_("Any contact"), ContactStrength.choices))
    key_contact = forms.BooleanField(label=_("Key contact points only"), required=False)
    side = forms.ChoiceField(label=_("Side"), required=False, widget=FastSelect, choices=[
        ("", _("Customer and external")), ("customer", _("The customer's people")), ("external", _("External parties"))])
    owner = forms.IntegerField(label=_("Relationship owner (user id)"), required=False, min_value=1)
    archived = forms.BooleanField(label=_("Archived"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=[(k, k) for k in STAKEHOLDER_SORTS])

    def apply(self, stakeholders: QuerySet[Stakeholder], *, today: datetime.date) -> QuerySet[Stakeholder]:
        """Filter and sort ``stakeholders`` (of one account); call after is_valid()."""
        data = self.cleaned_data
        stakeholders = stakeholders.filter(archived_at__isnull=not data["archived"]).with_contact(today)
        if data["q"]:
            q = data["q"].strip()
            stakeholders = stakeholders.filter(
                Q(name__icontains=q) | Q(title__icontains=q) | Q(email__icontains=q)
                | Q(department__icontains=q) | Q(external_organisation__icontains=q)
            )
        if data["department"]:
            stakeholders = stakeholders.filter(department__iexact=data["department"].strip())
        for name in ("buying_role", "decision_power", "sentiment", "contact"):
            if data[name]:
                stakeholders = stakeholders.filter(**{name: data[name]})
        if data["key_contact"]:
            stakeholders = stakeholders.filter(is_key_contact=True)
        if data["side"] == "customer":
            stakeholders = stakeholders.filter(external_organisation="")
        elif data["side"] == "external":
            stakeholders = stakeholders.exclude(external_organisation="")
        if data["owner"]:
            stakeholders = stakeholders.filter(owner_id=data["owner"])
        stakeholders = stakeholders.annotate(
            decision_power_rank=Case(*[When(decision_power=v, then=Value(i)) for i, v in enumerate(DecisionPower.values)],
                                     output_field=IntegerField()),
            sentiment_rank=Case(*[When(sentiment=v, then=Value(i)) for i, v in enumerate(reversed(Sentiment.values))],
                                output_field=IntegerField()),
        )
        return stakeholders.order_by(*STAKEHOLDER_SORTS[data["sort"] or "name"])


class InteractionFilter(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), required=False, widget=FastSelect,
                             choices=_any(_("Any kind"), InteractionKind.choices))
    stakeholder = forms.IntegerField(label=_("Stakeholder id"), required=False, min_value=1)
    user = forms.IntegerField(label=_("Team member (user id)"), required=False, min_value=1)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.ChoiceField(label=_("When"), required=False, widget=FastSelect, choices=[
        ("", _("Held and planned")), ("held", _("Held")), ("planned", _("Planned"))])
    open_steps = forms.BooleanField(label=_("Open next steps only"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end lies before the start."))
        return data

    def apply(self, interactions: QuerySet[Interaction], *, today: datetime.date) -> QuerySet[Interaction]:
        """Filter ``interactions``, newest first; call after is_valid()."""
        data = self.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            interactions = interactions.filter(
                Q(summary__icontains=q) | Q(next_step__icontains=q) | Q(location__icontains=q)
                | Q(pk__in=Interaction.objects.filter(stakeholders__name__icontains=q).values("pk"))
            )
        if data["kind"]:
            interactions = interactions.filter(kind=data["kind"])
        if data["stakeholder"]:
            interactions = interactions.filter(pk__in=Interaction.objects.filter(stakeholders=data["stakeholder"]).values("pk"))
        if data["user"]:
            interactions = interactions.filter(
                Q(pk__in=Interaction.objects.filter(users=data["user"]).values("pk")) | Q(next_step_owner_id=data["user"])
            )
        if data["date_from"]:
            interactions = interactions.filter(date__gte=data["date_from"])
        if data["date_to"]:
            interactions = interactions.filter(date__lte=data["date_to"])
        if data["when"] == "held":
            interactions = interactions.filter(date__lte=today)
        elif data["when"] == "planned":
            interactions = interactions.filter(date__gte=today)
        if data["open_steps"]:
            interactions = interactions.exclude(next_step="").filter(next_step_done=False)
        return interactions.order_by("-date", "-time", "-pk")
