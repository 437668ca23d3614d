"""An account's subscriptions: the card the account page loads, adding one, ending one.

The account page includes ``revenue/account_subscriptions.html``, which fetches the
card from here (accounts does not import revenue); without JavaScript its link
opens the same card as a page.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from keyplan.accounts.models import Account
from keyplan.accounts.services import can_edit
from keyplan.core.versions import Conflict, posted_version
from keyplan.revenue import services
from keyplan.revenue.forms import PLANS, EndSubscriptionForm, SubscriptionForm
from keyplan.revenue.models import Subscription

CHANGED = "accountChanged"  # the account page's history listens to it


def _account(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=pk)


def _context(request: HttpRequest, account: Account, end_errors: dict | None = None, **extra) -> dict:
    today = timezone.localdate()
    subscriptions = list(account.subscriptions.order_by("-start", "plan"))
    running: dict[str, float] = {}
    for s in subscriptions:
        s.is_running = s.start <= today and (s.end is None or s.end > today)
        s.can_end = s.end is None or s.end > today
        s.end_errors = (end_errors or {}).get(s.pk, [])
        if s.is_running:
            running[s.currency] = running.get(s.currency, 0) + s.monthly_amount
    context = {
        "account": account,
        "subscriptions": subscriptions,
        "monthly": sorted(running.items()),
        "can_edit": can_edit(request.user, account),
        "form": SubscriptionForm(initial={"currency": account.reporting_currency, "start": today}),
        "today": today,
        "plans": PLANS,
    }
    context.update(extra)
    return context


def _render(request, account, status: int = 200, **extra) -> HttpResponse:
    template = "revenue/subscriptions.html#card" if request.htmx else "revenue/subscriptions.html"
    return render(request, template, _context(request, account, **extra), status=status)


def _after_write(request, account) -> HttpResponse:
    if not request.htmx:
        return redirect("accounts:detail", pk=account.pk)
    return trigger_client_event(_render(request, account), CHANGED)


@require_http_methods(["GET", "POST"])
def account_subscriptions(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the card (HTMX) or a page with it; POST: add a subscription."""
    account = _account(request, pk)
    if request.method == "GET":
        return _render(request, account)
    if not can_edit(request.user, account):
        raise PermissionDenied  # before the form: a refusal, not a list of field errors
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        try:
            services.add_subscription(account, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages_)
        else:
            return _after_write(request, account)
    # 200 for HTMX so the card with its field errors is swapped in; 400 for a plain post.
    return _render(request, account, status=200 if request.htmx else 400, form=form)


@require_POST
def subscription_end(request: HttpRequest, pk: int, sid: int) -> HttpResponse:
    account = _account(request, pk)
    subscription = get_object_or_404(Subscription, pk=sid, account=account)
    if not can_edit(request.user, account):
        raise PermissionDenied
    form = EndSubscriptionForm(request.POST)
    if form.is_valid():
        try:
            services.end_subscription(subscription, by=request.user, end=form.cleaned_data["end"],
                                      version=posted_version(request))
        except ValidationError as error:
            form.add_error("end", error.message_dict.get("end", error.messages))
        except Conflict as conflict:
            form.add_error(None, str(conflict))  # the list shows the subscription as saved now
        else:
            return _after_write(request, account)
    errors = {subscription.pk: [e for errs in form.errors.values() for e in errs]}
    return _render(request, account, status=200 if request.htmx else 400, end_errors=errors)
