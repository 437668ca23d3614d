"""Web forms of the plan pages. Every edit form carries the ``version`` it was read at."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from keyplan.core.forms import TextRules
from keyplan.planning import analysis, services
from keyplan.planning.models import (
    AccountPlan,
    Action,
    CellState,
    Goal,
    Opportunity,
    RolloutStep,
)
from keyplan.relationships.models import Stakeholder

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

SECTION_LABELS = {
    "summary": _("Summary"),
    "goals": _("Their business goals"),
    "financial_health": _("Financial health (figures)"),
    "initiatives": _("Current initiatives"),
    "customers": _("Their customers"),
    "competitors": _("Their competitors"),
    "strengths": _("Strengths"),
    "weaknesses": _("Weaknesses"),
    "opportunities": _("Opportunities"),
    "threats": _("Threats"),
    "potential": _("Potential growth"),
}
SECTION_HELP = {
    "summary": _("Your reading of the relationships: who carries us, whom we must win, and how."),
    "potential": _("Where the account can grow, and what that is worth."),
}


class Versioned(TextRules, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ServiceChecked:
    """Model forms whose rules (dates in order, one period per account…) the services check and name by field.

    A rule the model also holds as a constraint is checked here first with the services' own
    check, so that its message lands on the field (a failed field leaves the constraint unchecked).
    """

    def validate_unique(self):
        pass

    def _service_check(self, check, *names) -> None:
        values = [self.cleaned_data.get(name) for name in names]
        try:
            check(*values)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)


class PlanCreateForm(TextRules, forms.Form):
    period = forms.CharField(label=_("Period"), max_length=20, initial="FY",
                             help_text=_("FY and a year (FY2027) is that calendar year; otherwise give the dates."))
    starts = forms.DateField(label=_("Starts"), required=False, widget=DATE)
    ends = forms.DateField(label=_("Ends"), required=False, widget=DATE)


class PlanForm(TextRules, ServiceChecked, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    class Meta:
        model = AccountPlan
        fields = ["period", "starts", "ends", "summary", "wallet"]
        widgets = {"starts": DATE, "ends": DATE, "summary": forms.Textarea(attrs={"rows": 5})}

    def clean(self):
        data = super().clean()
        if self.cleaned_data.get("period"):
            self._service_check(services.period_dates, "period", "starts", "ends")
        return data

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class SectionForm(Versioned):
    """The fields of one section (analysis.SECTIONS): texts, and lists written one entry a line."""

    def __init__(self, *args, key: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key
        for name, kind in analysis.SECTIONS[key].items():
            rows = 6 if kind == "text" else 4
            self.fields[name] = forms.CharField(
                label=SECTION_LABELS[name], required=False, max_length=analysis.TEXT_LIMIT if kind == "text" else 20_000,
                widget=forms.Textarea(attrs={"rows": rows}),
                help_text=SECTION_HELP.get(name, _("One entry a line.") if kind == "list" else ""),
            )

    @staticmethod
    def initial_for(row) -> dict:
        initial = {"version": row.version}
        for name, kind in analysis.SECTIONS[row.key].items():
            value = row.content.get(name, "" if kind == "text" else [])
            initial[name] = value if kind == "text" else "\n".join(value)
        return initial

    def content(self) -> dict:
        return {name: self.cleaned_data[name] for name in analysis.SECTIONS[self.key]}


class GoalForm(TextRules, ServiceChecked, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    class Meta:
        model = Goal
        fields = ["title", "horizon", "owner", "metric", "target_value", "current_value", "due", "status", "description"]
        widgets = {"due": DATE, "description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, plan: AccountPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = services.assignable_users(plan.account)
        if self.instance.pk and self.instance.text_code:  # a goal Keyplan wrote: shown in the reader's language
            self.initial.update(title=self.instance.label, description=self.instance.explanation)

    def changes(self) -> dict:
        changes = {name: self.cleaned_data[name] for name in self._meta.fields}
        if self.instance.pk and self.instance.text_code:
            # Keyplan's words left as shown stay Keyplan's (stored in English, read in each reader's language).
            stored = Goal.objects.get(pk=self.instance.pk)
            for name, shown in (("title", stored.label), ("description", stored.explanation)):
                if changes[name] == shown.strip():
                    changes[name] = getattr(stored, name)
        return changes


class ActionForm(TextRules, ServiceChecked, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    class Meta:
        model = Action
        fields = ["title", "goal", "owner", "start", "due", "status", "milestone", "stakeholder", "opportunity", "depends_on",
                  "notes"]
        widgets = {"start": DATE, "due": DATE, "notes": forms.Textarea(attrs={"rows": 3}),
                   "depends_on": forms.SelectMultiple(attrs={"size": 5})}

    def __init__(self, *args, plan: AccountPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["goal"].queryset = plan.goals.order_by("horizon", "pk")
        self.fields["owner"].queryset = services.assignable_users(plan.account)
        self.fields["stakeholder"].queryset = Stakeholder.objects.filter(account=plan.account).active().order_by("name")
        self.fields["opportunity"].queryset = plan.account.opportunities.order_by("name")
        others = plan.actions.order_by("goal", "start", "pk")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["depends_on"].queryset = others
        self.fields["depends_on"].required = False

    def clean(self):
        data = super().clean()
        self._service_check(services.check_action_dates, "start", "due")
        return data

    def changes(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        data["depends_on"] = [a.pk for a in data["depends_on"]]
        return data


class OpportunityForm(TextRules, ServiceChecked, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    probability = forms.DecimalField(label=_("Probability"), min_value=0, max_value=1, decimal_places=3, initial="0.1",
                                     help_text=_("Between 0 and 1: 0.25 is a one-in-four chance."))
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=16, decimal_places=2, initial=0)

    class Meta:
        model = Opportunity
        fields = ["name", "kind", "division", "product_line", "stage", "amount", "probability", "expected_close", "owner",
                  "closed_on", "reason"]
        widgets = {"expected_close": DATE, "closed_on": DATE, "reason": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, plan: AccountPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = services.assignable_users(plan.account)

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class CellForm(TextRules, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)
    division = forms.CharField(label=_("Division"), max_length=120)
    product_line = forms.CharField(label=_("Product line"), max_length=100)
    state = forms.ChoiceField(label=_("State"), choices=CellState.choices)
    competitor = forms.CharField(label=_("Competitor"), max_length=200, required=False,
                                 help_text=_("Who holds it, when a competitor does."))
    estimated_value = forms.DecimalField(label=_("Estimated value"), min_value=0, max_digits=16, decimal_places=2,
                                         required=False, help_text=_("What the whitespace is worth to us a year."))
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


READINESS_QUESTIONS = {
    "concentration": _("Do a few customers bring most of the revenue?"),
    "buying_center": _("Are buying decisions complex, made by several people?"),
    "relationship_age": _("Are the customer relationships long-term?"),
    "growth_room": _("Is there room to grow within the accounts?"),
    "investment": _("Does the company invest people in its key accounts?"),
}
CHARTER_LABELS = {
    "purpose": _("Purpose of the program"),
    "objectives": _("Objectives"),
    "success_measures": _("How success is measured"),
    "roles": _("Roles and responsibilities"),
    **{f"note_{code}": question for code, question in READINESS_QUESTIONS.items()},
}
CHARTER_HELP = {
    "purpose": _("Why the company runs a key account management program, in a paragraph."),
    "roles": _("One a line: the role, then what it is responsible for."),
    **{f"note_{code}": _("Your reading of the figures Keyplan shows for this question.") for code in READINESS_QUESTIONS},
}


class CharterForm(Versioned):
    """The charter's texts (analysis.CHARTER): texts, and lists written one entry a line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, kind in analysis.CHARTER.items():
            self.fields[name] = forms.CharField(
                label=CHARTER_LABELS[name], required=False,
                max_length=analysis.TEXT_LIMIT if kind == "text" else 20_000,
                widget=forms.Textarea(attrs={"rows": 4 if kind == "text" else 5}),
                help_text=CHARTER_HELP.get(name, _("One entry a line.") if kind == "list" else ""),
            )

    @staticmethod
    def initial_for(row, content: dict) -> dict:
        initial = {"version": row.version}
        for name, kind in analysis.CHARTER.items():
            value = content.get(name, "" if kind == "text" else [])
            initial[name] = value if kind == "text" else "\n".join(value)
        return initial

    def content(self) -> dict:
        return {name: self.cleaned_data[name] for name in analysis.CHARTER}


class RolloutStepForm(TextRules, ServiceChecked, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    class Meta:
        model = RolloutStep
        fields = ["phase", "title", "owner", "start", "due", "status", "milestone", "notes"]
        widgets = {"start": DATE, "due": DATE, "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        from keyplan.planning import charter

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = charter.charter_owners()
        self.fields["phase"].help_text = _("Steps of the same phase are drawn together, e.g. Pilot, Roll-out, Review.")

    def clean(self):
        data = super().clean()
        self._service_check(services.check_action_dates, "start", "due")
        return data

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class OpportunityImportForm(TextRules, forms.Form):
    file = forms.FileField(label=_("File (CSV or Excel)"),
                           help_text=_("One opportunity a row, with the account's id and the opportunity's name at least."))
    dry_run = forms.BooleanField(label=_("Only check the file (write nothing)"), required=False)
