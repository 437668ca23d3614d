from django import forms
from django.utils.translation import gettext_lazy as _

from keyplan.accounts.filters import kam_choices
from keyplan.accounts.models import Industry, Tier
from keyplan.core.forms import TextRules
from keyplan.core.widgets import FastSelect
from keyplan.scoring.models import (
    Cadence,
    CriterionGroup,
    CriterionSource,
    DecisionAction,
    SelectionRound,
)
from keyplan.scoring.tables import QUADRANT_LABELS

SCORE_CHOICES = [(str(n), str(n)) for n in range(1, 11)]
QUADRANT_CHOICES = [("", _("Any quadrant")), *QUADRANT_LABELS.items(), ("unranked", _("Not ranked yet"))]


class CriterionForm(TextRules, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    group = forms.ChoiceField(label=_("Group"), choices=CriterionGroup.choices)
    weight = forms.DecimalField(label=_("Weight (%)"), min_value=0, max_digits=6, decimal_places=2, initial=20)
    source = forms.ChoiceField(label=_("Scored"), choices=CriterionSource.choices, initial=CriterionSource.MANUAL)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ScoreForm(TextRules, forms.Form):
    value = forms.TypedChoiceField(label=_("Score"), choices=SCORE_CHOICES, coerce=int)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class MatrixFilter(TextRules, forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    tier = forms.ChoiceField(label=_("Key status"), required=False, widget=FastSelect,
                             choices=[("", _("Any key status"))] + Tier.choices)
    industry = forms.ChoiceField(label=_("Industry"), required=False, widget=FastSelect,
                                 choices=[("", _("Any industry"))] + Industry.choices)
    kam = forms.TypedChoiceField(label=_("KAM"), required=False, coerce=int, empty_value=None, widget=FastSelect,
                                 choices=kam_choices)
    quadrant = forms.ChoiceField(label=_("Quadrant"), required=False, widget=FastSelect, choices=QUADRANT_CHOICES)
    sort = forms.CharField(required=False, max_length=20)


class RoundForm(TextRules, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. FY2026"))
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(TextRules, forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("reject", _("Reject"))])
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    effective_date = forms.DateField(label=_("Effective date"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


class SettingsForm(TextRules, forms.Form):
    review_cadence = forms.ChoiceField(label=_("Review cadence"), choices=Cadence.choices)
    team_cost_per_member = forms.DecimalField(label=_("Yearly cost of one team member on an account"), min_value=0,
                                              max_digits=14, decimal_places=2)


class ReviewForm(TextRules, forms.Form):
    as_of = forms.DateField(label=_("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    round = forms.ModelChoiceField(label=_("Round to judge"), required=False, queryset=SelectionRound.objects.all(),
                                   empty_label=_("The latest round"), widget=FastSelect,
                                   help_text=_("By default the latest round taken on or before the date."))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(TextRules, forms.Form):
    account = forms.IntegerField(widget=forms.HiddenInput)
    action = forms.ChoiceField(label=_("Decision"), choices=DecisionAction.choices)
    note = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    effective_date = forms.DateField(label=_("Effective date"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
