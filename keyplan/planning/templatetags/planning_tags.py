"""Percentages on the plan pages in the reader's language (keyplan/core/numbers.py), and labels of check codes."""

from django import template
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from keyplan.core import numbers
from keyplan.planning.models import ActionStatus, CellState, GoalStatus, Horizon, Metric, OpportunityKind, PlanState, RaciArea, Stage

register = template.Library()


@register.filter
def percent(value, signed: bool = False) -> str:
    """A whole percentage, "+" before a rise when ``signed``; ``number`` is the built-in filter (keyplan/core/numbers.py)."""
    return numbers.percent(value, 0, signed=bool(signed))


@register.filter
def weight(value) -> str:
    """A criterion's weight (percent points, 35 or 12.5) as a percentage in the reader's writing ("۳۵٪" in Persian)."""
    from decimal import Decimal

    if value is None:
        return "—"
    points = Decimal(str(value))
    return numbers.percent(points / 100, 0 if points == points.to_integral_value() else 2)


LABELS = {"horizon": Horizon, "goal_status": GoalStatus, "action_status": ActionStatus, "metric": Metric,
          "state": PlanState, "stage": Stage, "kind": OpportunityKind, "cell": CellState,
          "raci_area": RaciArea}


@register.filter
def choice(value: str, kind: str) -> str:
    choices = LABELS[kind]
    return choices(value).label if value in choices.values else value


CHECK_TEXT = {
    "summary": _("The plan has a summary"),
    "section_relationships": _("Relationships: your summary is written"),
    "section_business": _("The customer's business: their goals and more"),
    "section_swot": _("SWOT: all four lists filled"),
    "section_value": _("Account value: the potential growth is described"),
    "goals_horizons": _("Goals for the short, mid and long term"),
    "goals_complete": _("Every goal has an owner, a target value and a due date"),
    "goals_actions": _("Every open goal has an action"),
    "decision_makers": _("Every decision maker is covered by an owner or an action"),
    "no_overdue": _("No overdue action"),
    "reviewed": _("Reviewed within the cadence"),
}


@register.filter
def check_text(check) -> str:
    return str(CHECK_TEXT.get(check.code, check.code))


@register.filter
def check_names(check) -> str:
    """What fails a check: the missing horizons by name; goals, actions and people (user data) each in <bdi>."""
    if check.code == "goals_horizons":
        return ", ".join(str(Horizon(h).label) for h in check.names)
    return format_html_join(", ", "<bdi>{}</bdi>", ((name,) for name in check.names))


@register.filter
def get_total(mapping, key):
    return mapping.get(key)


@register.filter
def verdict(value: str) -> str:
    from keyplan.planning.charter import verdict_label

    return verdict_label(value)
