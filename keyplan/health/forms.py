"""Web input for surveys, reviews, risk cases and the health settings: the forms parse, the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from keyplan.core.forms import TextRules
from keyplan.core.versions import carry_version
from keyplan.health import analysis
from keyplan.health.models import (
    COMPONENT_LABELS,
    RULE_LABELS,
    Cadence,
    Outcome,
    SurveyKind,
    template_text,
)

DATE = forms.DateInput(attrs={"type": "date"})
CHECKIN_CADENCES = [(value, _("None") if value == Cadence.NONE else label) for value, label in Cadence.choices]
ONBOARDING_HELP = _("One stage a line: days after the start | name | checklist items separated by semicolons.")


class SurveyForm(TextRules, forms.Form):
    kind = forms.ChoiceField(label=_("Survey"), choices=SurveyKind.choices)
    score = forms.IntegerField(label=_("Score"), help_text=_("NPS 0–10, CSAT 1–5."))
    responded_on = forms.DateField(label=_("Answered on"), widget=DATE)
    stakeholder = forms.ModelChoiceField(label=_("Stakeholder"), queryset=None, required=False,
                                         empty_label=_("the account as a whole"))
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stakeholder"].queryset = account.stakeholders.filter(archived_at__isnull=True).order_by("name")


class ReviewForm(TextRules, forms.Form):
    held_on = forms.DateField(label=_("Held on"), widget=DATE)
    what_changed = forms.CharField(label=_("What changed"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    plan_progress = forms.CharField(label=_("Plan progress"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    risks = forms.CharField(label=_("Risks"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    decisions = forms.CharField(label=_("Decisions"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CheckInForm(TextRules, forms.Form):
    held_on = forms.DateField(label=_("Held on"), widget=DATE)
    attendees = forms.CharField(label=_("With"), required=False, max_length=300,
                                help_text=_("Who took part on the customer's side."))
    feedback = forms.CharField(label=_("The customer's feedback"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    follow_up = forms.CharField(label=_("Follow-up"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class OpenCaseForm(TextRules, forms.Form):
    reason = forms.CharField(label=_("Why is the account at risk?"), widget=forms.Textarea(attrs={"rows": 2}))


class CloseCaseForm(TextRules, forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[("", "—"), *Outcome.choices], required=False)
    closed_on = forms.DateField(label=_("Closed on"), widget=DATE, required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SaveActionForm(TextRules, forms.Form):
    title = forms.CharField(label=_("Action"), max_length=200)
    due = forms.DateField(label=_("Due"), widget=DATE, required=False)


class StageForm(TextRules, forms.Form):
    """An onboarding stage: its checklist is one item a line (an item kept keeps whether it was done)."""

    name = forms.CharField(label=_("Stage"), max_length=200)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    planned = forms.DateField(label=_("Planned for"), widget=DATE, required=False)
    done_on = forms.DateField(label=_("Done on"), widget=DATE, required=False)
    checklist = forms.CharField(label=_("Checklist"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                help_text=_("One item a line."))

    def __init__(self, *args, account, stage=None, **kwargs):
        from keyplan.planning.services import assignable_users

        self.stage = stage
        if stage is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {"name": stage.label, "owner": stage.owner_id, "planned": stage.planned,
                                 "done_on": stage.done_on, "checklist": "\n".join(i["item"] for i in stage.items)}
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users(account)
        if stage is None:
            del self.fields["done_on"]
        else:
            carry_version(self, stage)

    def changes(self) -> dict:
        data = {name: value for name, value in self.cleaned_data.items() if name != "version"}
        # The template's texts left as shown (in the reader's language) stay stored in English.
        stored = {template_text(i["item"]): i["item"] for i in self.stage.checklist} if self.stage is not None else {}
        done = {i["item"]: i["done"] for i in self.stage.checklist} if self.stage is not None else {}
        if self.stage is not None and data.get("name") == self.stage.label:
            data["name"] = self.stage.name
        lines = [stored.get(line.strip(), line.strip()) for line in data.pop("checklist", "").splitlines() if line.strip()]
        data["checklist"] = [{"item": line, "done": done.get(line, False)} for line in lines]
        return data


class StartOnboardingForm(TextRules, forms.Form):
    start = forms.DateField(label=_("Onboarding starts on"), widget=DATE)


class SettingsForm(TextRules, forms.Form):
    green_from = forms.IntegerField(label=_("Green from score"), min_value=1, max_value=100)
    amber_from = forms.IntegerField(label=_("Amber from score"), min_value=0, max_value=99)
    engagement_target = forms.IntegerField(label=_("Interactions expected per 90 days"), min_value=0, max_value=1000)
    mrr_drop_percent = forms.IntegerField(label=_("MRR drop in 90 days that costs the whole weight (%)"), min_value=1, max_value=100)
    overdue_actions_max = forms.IntegerField(label=_("Overdue actions that cost the whole weight"), min_value=1, max_value=1000)
    low_engagement = forms.IntegerField(label=_("Low engagement: at most this many interactions in 90 days"), min_value=0, max_value=1000)
    rules = forms.MultipleChoiceField(label=_("Endangerment rules"), required=False, widget=forms.CheckboxSelectMultiple,
                                      choices=[(code, RULE_LABELS[code]) for code in analysis.RULES])
    upsell_plan = forms.CharField(label=_("Premium plan"), required=False, max_length=100,
                                  help_text=_("Empty: the plan with the highest monthly amount."))
    upsell_from = forms.IntegerField(label=_("Premium upsell from score"), min_value=0, max_value=100)
    cadence_key = forms.ChoiceField(label=_("Review cadence of key accounts"), required=False,
                                    choices=[("", _("as in the selection settings")), *Cadence.choices])
    cadence_candidate = forms.ChoiceField(label=_("Review cadence of candidates"), choices=Cadence.choices)
    cadence_standard = forms.ChoiceField(label=_("Review cadence of standard accounts"), choices=Cadence.choices)
    checkin_key = forms.ChoiceField(label=_("Customer check-ins with key accounts"), choices=CHECKIN_CADENCES)
    checkin_candidate = forms.ChoiceField(label=_("Customer check-ins with candidates"), choices=CHECKIN_CADENCES)
    checkin_standard = forms.ChoiceField(label=_("Customer check-ins with standard accounts"), choices=CHECKIN_CADENCES)
    onboarding_key = forms.CharField(label=_("Onboarding stages of key accounts"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 4}), help_text=ONBOARDING_HELP)
    onboarding_candidate = forms.CharField(label=_("Onboarding stages of candidates"), required=False,
                                           widget=forms.Textarea(attrs={"rows": 3}), help_text=ONBOARDING_HELP)
    onboarding_standard = forms.CharField(label=_("Onboarding stages of standard accounts"), required=False,
                                          widget=forms.Textarea(attrs={"rows": 2}), help_text=ONBOARDING_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in analysis.DEFAULT_WEIGHTS:
            self.fields[f"weight_{name}"] = forms.IntegerField(label=COMPONENT_LABELS[name], min_value=0, max_value=100)

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["weights"] = {name: data.pop(f"weight_{name}") for name in analysis.DEFAULT_WEIGHTS}
        from keyplan.health.onboarding import templates_from_text

        data["onboarding_templates"] = {tier: templates_from_text(data.pop(f"onboarding_{tier}"), tier)
                                        for tier in ("key", "candidate", "standard")}
        return data
