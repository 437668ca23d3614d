from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# The areas of the KAM process, in the order people work through them.
NAVIGATION = [
    ("portfolio", _("Portfolio"), "portfolio"),
    ("accounts", _("Accounts"), "accounts:list"),
    ("selection", _("Selection"), "scoring:matrix"),
    ("relationships", _("Relationships"), "relationships:portfolio"),
    ("plans", _("Plans"), "plans"),
    ("health", _("Health"), "health"),
    ("reports", _("Reports"), "reports"),
]


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    path = request.path
    items = []
    for key, label, url_name in NAVIGATION:
        url = reverse(url_name)
        items.append({"key": key, "label": label, "url": url, "active": path.startswith(url)})
    return {"nav_items": items}
