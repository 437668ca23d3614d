"""Home page and the areas still to come."""

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from keyplan.accounts.filters import with_kam
from keyplan.accounts.models import Account, Tier
from keyplan.accounts.services import kam_workload

# What each area will hold; the page says so plainly instead of pretending.
COMING = {
    "plans": (
        _("Plans"),
        _("Account plans with the customer's business and SWOT, goals and actions on a timeline, "
          "opportunities, the whitespace map and the KAM charter."),
    ),
    "health": (
        _("Health"),
        _("Satisfaction, engagement, an explainable health score, the at-risk queue and the review cadence."),
    ),
    "reports": (
        _("Reports"),
        _("Excel workbooks and PowerPoint review decks built from live data."),
    ),
}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    visible = Account.objects.visible_to(request.user).active()
    by_tier = dict(visible.values_list("tier").annotate(n=Count("id")).order_by())
    tiers = [(label, by_tier.get(value, 0), value) for value, label in Tier.choices]
    mine = with_kam(
        Account.objects.active().filter(team_members__user=request.user).distinct().order_by("name")
    )[:20]
    return render(
        request,
        "web/home.html",
        {"tiers": tiers, "total": sum(by_tier.values()), "mine": mine, "workload": kam_workload(request.user)},
    )


@require_GET
def coming(request: HttpRequest, area: str) -> HttpResponse:
    title, description = COMING[area]
    return render(request, "web/coming.html", {"title": title, "description": description})
