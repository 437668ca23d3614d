"""Downloads: the portfolio workbook (the period and filters of the portfolio page the button sits on), an
account's review deck (the button on the account page), and the live feeds with their tokens."""

import datetime
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keyplan.accounts.models import Account
from keyplan.core.worker import seen_recently as worker_seen_recently
from keyplan.reports import deck, deck_data, feeds, services, workbook
from keyplan.reports.deck_template import TemplateError
from keyplan.reports.models import FeedToken, JobStatus, WorkbookJob
from keyplan.revenue.filters import PortfolioFilter


@require_GET
def portfolio_workbook(request: HttpRequest) -> HttpResponse:
    """/reports/workbook.xlsx?date_from=…&industry=…: what the user may see, as the portfolio pages show it."""
    form = PortfolioFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        problems = [f"{form.fields[name].label if name in form.fields else name}: {message}"
                    for name, messages in form.errors.items() for message in messages]
        return _refused(_("The workbook was not made:") + "\n" + "\n".join(problems))
    options = form.options()
    try:
        period = options.period()
        content = workbook.build_bytes(form.scope(request.user), options)
    except ValueError as error:
        return _refused(_("The workbook was not made:") + "\n" + str(error))
    return workbook.download(content, period)


@require_POST
def workbook_start(request: HttpRequest) -> HttpResponse:
    """The portfolio pages' "Excel workbook" button: queue the workbook of the page's filters (its query string) and
    follow it on the job page."""
    form = PortfolioFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _refused(_("The workbook was not made:") + "\n" + "\n".join(
            f"{form.fields[name].label if name in form.fields else name}: {message}"
            for name, messages_ in form.errors.items() for message in messages_))
    data = form.cleaned_data if form.is_bound else {}
    try:
        job = services.start_workbook_job(
            request.user, start=data.get("date_from"), end=data.get("date_to"), industry=data.get("industry") or "",
            country=data.get("country") or "", tier=data.get("tier") or "", kam=data.get("kam"),
            language=get_language())
    except ValidationError as error:
        return _refused(_("The workbook was not made:") + "\n" + " ".join(error.messages))
    return redirect("reports:workbook_job", pk=job.pk)


def _job(request: HttpRequest, pk: int) -> WorkbookJob:
    job = services.workbook_job_of(request.user, pk)
    if job is None:
        raise Http404(_("No workbook of yours has this number."))
    return job


@require_GET
def workbook_job(request: HttpRequest, pk: int) -> HttpResponse:
    """The workbook being made: a progress bar that polls itself, then the download (or why it failed, and a retry)."""
    job = _job(request, pk)
    template = "reports/workbook_job.html#progress" if request.htmx else "reports/workbook_job.html"
    waiting = job.status == JobStatus.QUEUED and not worker_seen_recently()
    start, end = (datetime.date.fromisoformat(job.summary[key]) if job.summary.get(key) else None for key in ("from", "to"))
    return render(request, template, {"job": job, "waiting": waiting, "start": start, "end": end})


@require_GET
def workbook_job_file(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.status != JobStatus.DONE:
        raise Http404(_("This workbook is not ready."))
    content = WorkbookJob.objects.values_list("content", flat=True).get(pk=job.pk)
    response = HttpResponse(bytes(content), content_type=workbook.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
    response["Cache-Control"] = "no-store"  # it holds what this user may see
    return response


@require_POST
def workbook_job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        services.retry_workbook_job(job, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("reports:workbook_job", pk=job.pk)


def _refused(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@require_GET
def account_deck(request: HttpRequest, pk: int) -> HttpResponse:
    """/reports/accounts/ID/deck.pptx: the account's review deck in the reader's language (404 outside their reach)."""
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    data = deck_data.gather(account, user=request.user)
    try:
        content = deck.build_bytes(data)
    except TemplateError as error:  # the server's configuration, not the reader's doing: say what to fix
        return HttpResponse(_("The review deck was not made:") + "\n" + str(error), status=503,
                            content_type="text/plain; charset=utf-8")
    return deck.download(content, data)


# ---------------------------------------------------------------- live feeds


@require_http_methods(["GET", "POST"])
def feeds_page(request: HttpRequest) -> HttpResponse:
    """/reports/feeds/: every feed's URLs, and the user's feed tokens (make one, see it once, revoke it)."""
    secret, errors = None, {}
    if request.method == "POST":
        if request.POST.get("revoke"):
            token = get_object_or_404(FeedToken, pk=_whole(request.POST["revoke"]), user=request.user)
            services.revoke_feed_token(token, by=request.user)
            messages.success(request, _("Feed token %(hint)s… is revoked: feeds refreshed with it get 401 from now on.")
                             % {"hint": token.hint})
            return redirect("reports:feeds")
        try:
            secret = services.create_feed_token(request.user, name=request.POST.get("name", ""))
        except ValidationError as error:
            errors = error.message_dict
    base = request.build_absolute_uri("/")[:-1]
    rows = [{"feed": feed, "csv": base + reverse("reports:feed_csv", args=[feed.name]),
             "json": base + reverse("reports:feed_json", args=[feed.name])} for feed in feeds.FEEDS.values()]
    context = {"feeds": rows, "secret": secret, "errors": errors, "tokens": services.feed_tokens_of(request.user),
               "example": rows[0]["csv"]}
    return render(request, "reports/feeds.html", context, status=400 if errors else 200)


def _whole(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 19 else 0


@login_not_required
@csrf_exempt  # GET only; a feed token is no cookie
@require_GET
def feed(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    """/reports/feeds/NAME.csv|json: the feed as the token's user (Authorization: Bearer kpf_…) or the signed-in one."""
    feed_ = feeds.FEEDS.get(name)
    header = request.headers.get("Authorization", "")
    user = None
    if header:
        scheme, _sep, secret = header.partition(" ")
        user = services.user_for_feed_token(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            return _unauthorized("The feed token is unknown or revoked.")
    elif request.user.is_authenticated:
        user = request.user
    else:
        return _unauthorized("Send a feed token: Authorization: Bearer kpf_… (make one on the Live feeds page).")
    if feed_ is None:
        return HttpResponse(f"No feed is called {name!r}.", status=404, content_type="text/plain; charset=utf-8")
    try:
        return feeds.response(feed_, user, request.GET, fmt)
    except feeds.FeedError as error:
        return HttpResponse(json.dumps({"detail": [{"loc": ["query", error.field], "msg": error.message}]}),
                            status=422, content_type="application/json")


def _unauthorized(message: str) -> HttpResponse:
    response = HttpResponse(message, status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Bearer realm="keyplan feeds"'
    return response
