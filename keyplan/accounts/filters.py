"""One filter definition for the account list page and the API."""

from django import forms
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from keyplan.accounts.models import Account, Industry, Lifecycle, TeamMember, TeamRole, Tier
from keyplan.core.models import User
from keyplan.core.widgets import CountrySelect, FastSelect

SORTS = {
    "name": ("name", "external_id"),
    "-name": ("-name", "-external_id"),
    "external_id": ("external_id",),
    "-external_id": ("-external_id",),
    "tier": ("tier", "name"),
    "country": ("country", "name"),
    "industry": ("industry", "name"),
    "lifecycle": ("lifecycle", "name"),
    "-updated": ("-updated_at",),
}


def _unindexed(field: str):
    name = field.lstrip("-")
    expression = Coalesce(name, name)
    return expression.desc() if field.startswith("-") else expression.asc()


def kam_choices():
    kams = User.objects.filter(pk__in=TeamMember.objects.filter(role=TeamRole.KAM).values("user_id"))
    return [("", _("Any KAM"))] + [(str(u.pk), str(u)) for u in kams]


class AccountFilter(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    external_id = forms.CharField(label=_("External id"), required=False, max_length=64)
    tier = forms.ChoiceField(label=_("Key status"), required=False, widget=FastSelect, choices=[("", _("Any key status"))] + Tier.choices)
    industry = forms.ChoiceField(label=_("Industry"), required=False, widget=FastSelect, choices=[("", _("Any industry"))] + Industry.choices)
    country = forms.ChoiceField(label=_("Country"), required=False, widget=CountrySelect, choices=lambda: [("", _("Any country"))] + list(countries))
    lifecycle = forms.ChoiceField(
        label=_("Lifecycle"), required=False, widget=FastSelect, choices=[("", _("Any lifecycle"))] + Lifecycle.choices
    )
    kam = forms.TypedChoiceField(label=_("KAM"), required=False, coerce=int, empty_value=None, widget=FastSelect, choices=kam_choices)
    parent = forms.IntegerField(label=_("Parent account id"), required=False, min_value=1)
    archived = forms.BooleanField(label=_("Archived accounts"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False, widget=FastSelect, choices=[(k, k) for k in SORTS])

    def apply(self, accounts: QuerySet[Account]) -> QuerySet[Account]:
        """Filter and sort ``accounts``; call after is_valid()."""
        data = self.cleaned_data
        accounts = accounts.filter(archived_at__isnull=not data["archived"])
        if data["q"]:
            q = data["q"].strip()
            accounts = accounts.filter(Q(name__icontains=q) | Q(external_id__icontains=q) | Q(city__icontains=q))
        if data["external_id"]:
            accounts = accounts.filter(external_id=data["external_id"].strip())
        for name in ("tier", "industry", "country", "lifecycle"):
            if data[name]:
                accounts = accounts.filter(**{name: data[name]})
        if data["kam"]:
            accounts = accounts.filter(
                pk__in=TeamMember.objects.filter(role=TeamRole.KAM, user_id=data["kam"]).values("account_id")
            )
        if data["parent"]:
            accounts = accounts.filter(parent_id=data["parent"])
        ordering = SORTS[data["sort"] or "name"]
        if data["q"]:
            # A search matches few rows: sorting them beats walking the whole name index,
            # which the planner would otherwise pick for ORDER BY … LIMIT. Coalesce hides the index.
            ordering = [_unindexed(field) for field in ordering]
        return accounts.order_by(*ordering)


def with_kam(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Fetch each account's KAM in one extra query (``account.kams``), for lists."""
    return accounts.prefetch_related(
        Prefetch(
            "team_members",
            queryset=TeamMember.objects.filter(role=TeamRole.KAM).select_related("user"),
            to_attr="kams",
        )
    )
