"""Web input for stakeholders, influence lines and interactions.

The forms parse and offer sensible choices; the rules (cycles, other accounts,
team membership) are the services' to check, so the page, the API and the CLI agree.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from keyplan.accounts.models import Account
from keyplan.core.forms import TextRules
from keyplan.core.models import User
from keyplan.core.versions import carry_version
from keyplan.core.widgets import FastSelect
from keyplan.relationships import services
from keyplan.relationships.models import (
    BuyingRole,
    DecisionPower,
    InfluenceLine,
    Interaction,
    Stakeholder,
)


class StaleSettingsForm(TextRules, forms.Form):
    """Whom the stale alerts watch; the service checks the values."""

    days = forms.IntegerField(label=_("Stale after (days)"), min_value=1, max_value=services.MAX_STALE_DAYS)
    powers = forms.MultipleChoiceField(label=_("Decision power"), required=False,
                                       widget=forms.CheckboxSelectMultiple, choices=DecisionPower.choices)
    roles = forms.MultipleChoiceField(label=_("Role in the buying decision"), required=False,
                                      widget=forms.CheckboxSelectMultiple, choices=BuyingRole.choices)
    key_contacts = forms.BooleanField(label=_("Key contact points"), required=False)


class _ServiceModelForm(TextRules, forms.ModelForm):
    """A ModelForm that only parses: the service validates and saves the object. An edit form carries the
    version it was read at (``take_version``), so that saving over someone else's newer change is a conflict."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            carry_version(self, self.instance)

    def _post_clean(self):  # no model validation here; the service does it, once
        pass


class StakeholderForm(_ServiceModelForm):
    class Meta:
        model = Stakeholder
        fields = list(services.STAKEHOLDER_FIELDS)
        widgets = {
            "buying_role": FastSelect,
            "decision_power": FastSelect,
            "sentiment": FastSelect,
            "contact_strength": FastSelect,
            "notes": forms.Textarea(attrs={"rows": 3}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        others = Stakeholder.objects.filter(account=account).active().order_by("name")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["reports_to"].queryset = others
        self.fields["reports_to"].empty_label = _("nobody (top of the organisation)")
        self.fields["owner"].queryset = services.team_users(account)
        self.fields["owner"].empty_label = _("nobody yet")
        self.fields["buying_role"].choices = [("", _("not known"))] + [c for c in self.fields["buying_role"].choices if c[0]]
        self.fields["external_organisation"].widget.attrs["list"] = "organisations"
        self.fields["department"].widget.attrs["list"] = "departments"

    def data_for_service(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class InfluenceLineForm(_ServiceModelForm):
    class Meta:
        model = InfluenceLine
        fields = ["source", "target", "polarity", "strength", "note", "since"]
        widgets = {
            "polarity": forms.RadioSelect,
            "strength": FastSelect,
            "note": forms.Textarea(attrs={"rows": 2}),
            "since": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        people = Stakeholder.objects.filter(account=account).active().order_by("name")
        for name in ("source", "target"):
            self.fields[name].queryset = people
            self.fields[name].label_from_instance = str
            self.fields[name].empty_label = _("choose someone")
        if self.instance.pk:  # the ends of a line are what it is; to move it, draw another
            del self.fields["source"], self.fields["target"]
        self.fields["polarity"].choices = [c for c in self.fields["polarity"].choices if c[0]]


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, user: User) -> str:
        return str(user)


class _UsersChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user: User) -> str:
        return str(user)


class InteractionForm(_ServiceModelForm):
    users = _UsersChoice(label=_("Team members"), queryset=User.objects.none(), required=False)
    next_step_owner = _UserChoice(label=_("Next step owner"), queryset=User.objects.none(), required=False,
                                  empty_label=_("nobody yet"))

    class Meta:
        model = Interaction
        fields = ["kind", "date", "time", "duration_minutes", "location", "summary", "stakeholders", "users",
                  "next_step", "next_step_owner", "next_step_due", "next_step_done"]
        widgets = {
            "kind": FastSelect,
            "date": forms.DateInput(attrs={"type": "date"}),
            # Shown in the reader's clock by dates.js; the hint names the form they may type.
            "time": forms.TimeInput(attrs={"type": "time", "data-hint": _("Enter a time such as %(example)s.")},
                                    format="%H:%M"),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "next_step": forms.Textarea(attrs={"rows": 2}),
            "next_step_due": forms.DateInput(attrs={"type": "date"}),
            "stakeholders": forms.SelectMultiple(attrs={"size": 8}),
        }

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        people = Stakeholder.objects.filter(account=account).order_by("name")
        if self.instance.pk:  # keep archived people who already took part
            people = people.filter(archived_at__isnull=True) | people.filter(interactions=self.instance)
        else:
            people = people.filter(archived_at__isnull=True)
        self.fields["stakeholders"].queryset = people.distinct()
        self.fields["stakeholders"].label_from_instance = str
        several = _("Hold Ctrl (⌘ on a Mac) to choose several.")
        self.fields["stakeholders"].help_text = several
        self.fields["users"].help_text = several
        participants = services.participant_users(account)
        self.fields["users"].queryset = participants
        self.fields["users"].widget.attrs["size"] = min(8, max(3, participants.count()))
        self.fields["next_step_owner"].queryset = participants
        if not self.instance.pk:
            del self.fields["next_step_done"]

    def data_for_service(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}
