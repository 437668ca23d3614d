from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from keyplan.accounts.filters import kam_choices
from keyplan.accounts.models import Industry, Tier
from keyplan.core.widgets import CountrySelect, FastSelect
from keyplan.revenue import portfolio
from keyplan.revenue.lifetime_value import check_as_of


class PortfolioFilter(forms.Form):
    """Period and accounts of the portfolio pages; the same options as `keyplan analyze` and the API."""

    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    industry = forms.ChoiceField(label=_("Industry"), required=False, widget=FastSelect,
                                 choices=[("", _("Any industry"))] + Industry.choices)
    country = forms.ChoiceField(label=_("Country"), required=False, widget=CountrySelect,
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

    def show_period(self, result: dict) -> None:
        """Show the period the page computed (the default one when none was asked for) in grey in the empty date
        fields, rather than an example date that reads as if it were the period."""
        for name, key in (("date_from", "from"), ("date_to", "to")):
            if name in self.fields and result.get(key):
                self.fields[name].widget.attrs["placeholder"] = result[key]

    def scope(self, user) -> portfolio.Scope:
        data = self.cleaned_data if self.is_valid() else {}
        return portfolio.Scope(user, industry=data.get("industry") or "", country=data.get("country") or "",
                               tier=data.get("tier") or "", kam=data.get("kam"))

    def options(self) -> portfolio.Options:
        data = self.cleaned_data if self.is_valid() else {}
        return portfolio.Options(start=data.get("date_from"), end=data.get("date_to"))


class LifetimeValueFilter(PortfolioFilter):
    """The lifetime-value page: the day the models stand on, the horizon and the discount rate instead of a period."""

    date_from = None
    date_to = None
    as_of = forms.DateField(label=_("As of"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    horizon_months = forms.IntegerField(label=_("Horizon (months)"), required=False, min_value=1, max_value=120,
                                        widget=forms.NumberInput(attrs={"placeholder": "12", "size": 4}))
    discount_pct = forms.DecimalField(label=_("Discount rate, percent a year"), required=False, min_value=0, max_value=100,
                                      decimal_places=2, widget=forms.NumberInput(attrs={"placeholder": "10", "step": "0.5"}))

    def clean_as_of(self):
        as_of = self.cleaned_data.get("as_of")
        if as_of is not None:
            try:
                check_as_of(as_of)
            except ValueError:
                raise forms.ValidationError(_("Choose a day between 1 January 1900 and today.")) from None
        return as_of

    def options(self) -> portfolio.Options:
        data = self.cleaned_data if self.is_valid() else {}
        discount = data.get("discount_pct")
        return portfolio.Options(as_of=data.get("as_of"), horizon_months=data.get("horizon_months") or 12,
                                 discount_rate=float(discount) / 100 if discount is not None else 0.10)
