"""Home page and the areas still to come."""

from django.contrib.auth import views as auth_views
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from keyplan.accounts.filters import with_kam
from keyplan.accounts.models import Account, TeamMember, Tier
from keyplan.web import home as composition

# What each area will hold; the page says so plainly instead of pretending.
COMING = {
    "reports": (
        _("Reports"),
        _("Excel workbooks and PowerPoint review decks built from live data."),
    ),
}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = Account.objects.visible_to(user).active()
    by_tier = dict(visible.values_list("tier").annotate(n=Count("id")).order_by())
    tiers = [(label, by_tier.get(value, 0), value) for value, label in Tier.choices]
    context = {"tiers": tiers, "total": sum(by_tier.values())}
    if user.edits_all_accounts:  # leads and admins run the process
        steps = composition.checklist()
        context["steps"] = steps
        context["steps_done"] = sum(1 for s in steps if s.done)
    if TeamMember.objects.filter(user=user).exists():
        context["this_week"] = composition.this_week(user)
        context["today"] = timezone.localdate()
        context["mine"] = with_kam(
            Account.objects.active().filter(team_members__user=user).distinct().order_by("name"))[:20]
    if user.sees_all_accounts:
        context["program"] = composition.program(user)
    return render(request, "web/home.html", context)


class LoginView(auth_views.LoginView):
    """Django's login, with a hint at the demo logins while the demo portfolio is loaded (only then)."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        from keyplan.demo.generator import DEMO_PASSWORD, demo_logins

        context = super().get_context_data(**kwargs)
        logins = demo_logins()
        if logins:
            context["demo"] = {"logins": logins, "password": DEMO_PASSWORD}
        return context


@require_GET
def coming(request: HttpRequest, area: str) -> HttpResponse:
    title, description = COMING[area]
    return render(request, "web/coming.html", {"title": title, "description": description})
