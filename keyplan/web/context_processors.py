from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The areas of the KAM process, in the order people work through them.
NAVIGATION = [
    ("portfolio", _("Portfolio"), "revenue:portfolio"),
    ("accounts", _("Accounts"), "accounts:list"),
    ("selection", _("Selection"), "scoring:matrix"),
    ("relationships", _("Relationships"), "relationships:portfolio"),
    ("plans", pgettext_lazy("account plans", "Plans"), "planning:portfolio"),
    ("health", _("Health"), "health:dashboard"),
    ("reports", _("Reports"), "reports"),
]


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    path = request.path
    segments = set(path.strip("/").split("/"))
    # An account's relationships live under /accounts/<id>/relationships/: the area named in the
    # path wins over the prefix it sits under.
    named = next((key for key, _, _ in NAVIGATION if key in segments and not path.startswith(f"/{key}/")), None)
    items = []
    for key, label, url_name in NAVIGATION:
        url = reverse(url_name)
        active = key == named if named else path.startswith(url)
        items.append({"key": key, "label": label, "url": url, "active": active})
    return {"nav_items": items}


def charts(request):
    """Plotly's words and month names in the reader's language, for charts.js."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    from keyplan.web.chart_locale import plotly_locale

    return {"plotly_locale": plotly_locale()}
