from babel.numbers import get_currency_name
from django import forms
from django.conf import settings
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext_lazy as _

from keyplan.accounts import services
from keyplan.accounts.models import (
    Account,
    TeamMember,
    TeamRole,
    Tier,
    currency_codes,
    time_zone_names,
)
from keyplan.core.forms import TextRules
from keyplan.core.models import User
from keyplan.core.numbers import digits
from keyplan.core.versions import carry_version
from keyplan.core.widgets import FastSelect


def time_zone_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(name, name) for name in sorted(time_zone_names())]


def currency_choices() -> list[tuple[str, str]]:
    locale = to_locale(get_language() or "en")
    # CLDR writes a few names with Latin digits in every language ("1964-2022"): in the reader's digits.
    return [(code, f"{code} · {digits(get_currency_name(code, locale=locale))}") for code in sorted(currency_codes())]


class AccountForm(TextRules, forms.ModelForm):
    """The profile form. The parent is named by external id: a select of 100,000 accounts helps nobody."""

    parent_external_id = forms.CharField(
        label=_("Parent account"),
        required=False,
        help_text=_("External id of the parent account, for subsidiaries and divisions."),
        widget=forms.TextInput(attrs={"list": "parent-suggestions", "autocomplete": "off"}),
    )
    referred_by_external_id = forms.CharField(
        label=_("Referred by"),
        required=False,
        help_text=_("External id of the customer who brought this one to us (counted as their referral)."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False, choices=time_zone_choices, widget=FastSelect)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    reporting_currency = forms.ChoiceField(label=_("Reporting currency"), choices=currency_choices, widget=FastSelect)
    # The version this form was read at: saving over someone else's newer change is a conflict, not a silent loss.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    class Meta:
        model = Account
        fields = [f for f in services.PROFILE_FIELDS if f not in ("parent", "referred_by")]
        widgets = {
            "country": FastSelect,
            "industry": FastSelect,
            "revenue_band": FastSelect,
            "lifecycle": FastSelect,
            "onboarding_status": FastSelect,
            "relationship_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "business_plan": forms.Textarea(attrs={"rows": 3}),
            "target_audience": forms.Textarea(attrs={"rows": 3}),
            "relationship_history": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
        # A parent or referrer outside the user's reach is neither shown nor changed here.
        self.kept = {}
        for name, field in (("parent", "parent_external_id"), ("referred_by", "referred_by_external_id")):
            current = getattr(self.instance, name) if getattr(self.instance, f"{name}_id") else None
            if current is None:
                continue
            if services.visible_or_none(user, current) is None:
                self.kept[name] = current
                del self.fields[field]
            else:
                self.fields[field].initial = current.external_id
        if self.instance.pk and not user.sees_all_accounts:
            # The external id links the account to the ERP's exports: KAM leads and admins change it.
            self.fields["external_id"].disabled = True
            self.fields["external_id"].help_text = _("Only KAM leads and admins change the external id.")
        if not self.instance.pk and not self.is_bound:  # a new account reports in the company's currency
            self.initial["reporting_currency"] = settings.KEYPLAN_REPORTING_CURRENCY
        # Put the parent next to the name, where people look for it.
        order = ["name", "external_id", "parent_external_id"]
        self.order_fields(order + [f for f in self.fields if f not in order])

    def clean_parent_external_id(self):
        external_id = self.cleaned_data["parent_external_id"].strip()
        if not external_id:
            self.instance.parent = None
            return None
        parent = services.find_account(self.user, external_id=external_id)
        if parent is None:
            raise forms.ValidationError(_("No account has the external id %(id)s.") % {"id": external_id})
        # Set before model validation runs, so that Account.clean() sees the parent and can refuse a cycle.
        self.instance.parent = parent
        return parent

    def clean_referred_by_external_id(self):
        external_id = self.cleaned_data["referred_by_external_id"].strip()
        if not external_id:
            self.instance.referred_by = None
            return None
        referrer = services.find_account(self.user, external_id=external_id)
        if referrer is None:
            raise forms.ValidationError(_("No account has the external id %(id)s.") % {"id": external_id})
        self.instance.referred_by = referrer
        return referrer

    def _update_errors(self, errors):
        # Model validation reports a cycle on "parent"; show it on the field people typed into.
        if hasattr(errors, "error_dict") and "parent" in errors.error_dict:
            errors.error_dict["parent_external_id"] = errors.error_dict.pop("parent")
        if hasattr(errors, "error_dict") and "referred_by" in errors.error_dict:
            errors.error_dict["referred_by_external_id"] = errors.error_dict.pop("referred_by")
        super()._update_errors(errors)

    def profile_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        data["parent"] = self.kept.get("parent", self.cleaned_data.get("parent_external_id"))
        data["referred_by"] = self.kept.get("referred_by", self.cleaned_data.get("referred_by_external_id"))
        return data


class TierForm(TextRules, forms.Form):
    tier = forms.ChoiceField(label=_("Key status"), choices=Tier.choices)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
    effective_date = forms.DateField(
        label=_("Effective date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class TeamMemberForm(TextRules, forms.Form):
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.filter(is_active=True))
    role = forms.ChoiceField(label=_("Role"), choices=TeamRole.choices)
    responsibilities = forms.CharField(
        label=_("Responsibilities"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, leadership: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not leadership:
            # The account's KAM builds the rest of the team; KAM and executive sponsor are chosen by leads.
            self.fields["role"].choices = [(value, label) for value, label in TeamRole.choices
                                           if value not in (TeamRole.KAM, TeamRole.EXECUTIVE_SPONSOR)]


class TeamMemberEditForm(TextRules, forms.ModelForm):
    class Meta:
        model = TeamMember
        fields = ["role", "responsibilities"]
        widgets = {"responsibilities": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        carry_version(self, self.instance)


class CompetitorForm(TextRules, forms.Form):
    name = forms.CharField(label=_("Competitor"), max_length=200)
    unique_selling_point = forms.CharField(
        label=_("Unique selling point"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class KamCapacityForm(TextRules, forms.Form):
    kam_capacity = forms.IntegerField(label=_("Capacity"), min_value=0, max_value=50, required=False)
