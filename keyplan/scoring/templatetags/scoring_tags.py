from django import template
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from keyplan.core import numbers

register = template.Library()


@register.simple_tag
def score_cell(account_id: int, criterion, value, info, can_score: bool, prefix: str = ""):
    """One cell of the scoring matrix, rendered in Python: a page has hundreds and each costs microseconds here
    against a millisecond as an included template. ``info`` is the stored Score or its ScoreInfo (or None);
    ``prefix`` the matrix's URL, reversed once per page, under which each cell's editor lies."""
    estimate = bool(info and info.estimate)
    classes = "num cell" + (f" s{value}" if value else "") + (" estimate" if estimate else "")
    title = ""
    if info:
        if estimate:
            title = _("Estimate by %(who)s, %(when)s; the data replaces it when it arrives.") % {
                "who": info.scored_by or "—", "when": date_filter(info.scored_at, "SHORT_DATETIME_FORMAT")}
        elif criterion.is_computed:
            title = _("Computed from data %(when)s.") % {
                "when": date_filter(info.computed_at or info.scored_at, "SHORT_DATETIME_FORMAT")}
            if info.note:
                title += " " + info.note
        else:
            title = info.note
    cell_id = f"cell-{account_id}-{criterion.pk}"
    editable = can_score and (not criterion.is_computed or not value or estimate)
    if not editable:
        content = format_html("{}", numbers.number(value) if value else "—")
    else:
        url = f"{prefix}score/{account_id}/{criterion.pk}/" if prefix else reverse("scoring:score", args=[account_id, criterion.pk])
        label = (_("Estimate %(name)s") if criterion.is_computed else _("Score %(name)s")) % {"name": criterion.label}
        content = format_html('<a class="score-link" href="{}" hx-get="{}" hx-target="#{}" hx-swap="outerHTML" '
                              'aria-label="{}">{}{}</a>', url, url, cell_id, label, "≈" if estimate else "",
                              numbers.number(value) if value else "·")
    if title:
        return format_html('<td class="{}" id="{}" title="{}">{}</td>', classes, cell_id, title, content)
    return format_html('<td class="{}" id="{}">{}</td>', classes, cell_id, content)


@register.filter
def score_of(row: dict, criterion) -> int | None:
    return row["scores"].get(str(criterion.pk))


@register.filter
def info_of(row: dict, criterion):
    """The stored score behind a matrix cell (who, when, estimate, computed at), for the rows on the page."""
    return row.get("info", {}).get(criterion.pk)


@register.filter
def pct(value, digits: int = 0) -> str:
    """A change as a signed percentage; a negative ``digits`` shows a whole percentage without a sign."""
    return numbers.percent(value, max(digits, 0), signed=digits >= 0)


@register.filter
def share(value) -> str:
    return numbers.percent(value, 1)


@register.filter
def rho(value) -> str:
    return numbers.number(value, 2, signed=True)


@register.filter
def total(value) -> str:
    return numbers.number(value, 2)


@register.filter
def pvalue(value) -> str:
    if value is None:
        return "—"
    return "< " + numbers.number(0.001, 3) if value < 0.001 else numbers.number(value, 3)


@register.filter
def tier_label(value: str) -> str:
    from keyplan.accounts.models import Tier

    return Tier(value).label if value in Tier.values else value


@register.filter
def criterion_label(name: str) -> str:
    """A criterion's name kept in a record (a round's explanation, say) as the reader reads it: the suggested
    library's English in the reader's language, a team's own name as given (``Criterion.label``'s rule)."""
    from keyplan.scoring.models import _library_text

    return _library_text(name) if isinstance(name, str) else name


@register.filter
def group_label(code: str) -> str:
    """A criterion group's name in the reader's language ("growth" -> "Growth potential")."""
    from keyplan.scoring.models import CriterionGroup

    return CriterionGroup(code).label if code in CriterionGroup.values else code
