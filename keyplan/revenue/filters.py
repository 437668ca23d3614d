from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from keyplan.accounts.filters import kam_choices
from keyplan.accounts.models import Industry, Tier
from keyplan.core.widgets import FastSelect
from keyplan.revenue import portfolio


class PortfolioFilter(forms.Form):
    """Period and accounts of the portfolio pages; the same options as `keyplan analyze` and the API."""

    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    industry = forms.ChoiceField(label=_("Industry"), required=False, widget=FastSelect,
                                 choices=[("", _("Any industry"))] + Industry.choices)
    country = forms.ChoiceField(label=_("Country"), required=False, widget=FastSelect,
                                choices=lambda: [("", _("Any country"))] + list(countries))
    tier = forms.ChoiceField(label=_("Key status"), required=False, widget=FastSelect,
                             choices=[("", _("Any key status"))] + Tier.choices)
    kam = forms.TypedChoiceField(label=_("KAM"), required=False, coerce=int, empty_value=None, widget=FastSelect,
                                 choices=kam_choices)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The period must end after it starts."))
        return data

    def scope(self, user) -> portfolio.Scope:
        data = self.cleaned_data if self.is_valid() else {}
        return portfolio.Scope(user, industry=data.get("industry") or "", country=data.get("country") or "",
                               tier=data.get("tier") or "", kam=data.get("kam"))

    def options(self) -> portfolio.Options:
        data = self.cleaned_data if self.is_valid() else {}
        return portfolio.Options(start=data.get("date_from"), end=data.get("date_to"))
