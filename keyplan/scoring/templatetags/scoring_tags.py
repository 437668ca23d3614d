from django import template

register = template.Library()


@register.filter
def score_of(row: dict, criterion) -> int | None:
    return row["scores"].get(str(criterion.pk))


@register.filter
def pct(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.{digits}f} %" if digits >= 0 else f"{value * 100:.0f} %"


@register.filter
def share(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@register.filter
def rho(value) -> str:
    return "—" if value is None else f"{value:+.2f}"


@register.filter
def total(value) -> str:
    return "—" if value is None else f"{value:.2f}"


@register.filter
def pvalue(value) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def tier_label(value: str) -> str:
    from keyplan.accounts.models import Tier

    return Tier(value).label if value in Tier.values else value
