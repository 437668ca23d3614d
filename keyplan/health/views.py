"""Health pages: parse, authorize, call a service, render. The dashboard reads the daily snapshot."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keyplan.accounts.models import Account
from keyplan.accounts.services import can_edit
from keyplan.core import exports
from keyplan.core.versions import Conflict, conflict_context, posted_version
from keyplan.health import analysis, onboarding, services
from keyplan.health.forms import (
    CheckInForm,
    CloseCaseForm,
    OpenCaseForm,
    ReviewForm,
    SaveActionForm,
    SettingsForm,
    StageForm,
    StartOnboardingForm,
    SurveyForm,
)
from keyplan.health.models import ONBOARDING_LABELS, OnboardingStage, RiskCase, SaveAction, template_text
from keyplan.health.tables import NOTIFICATIONS, REVIEWS_DUE, RISK_QUEUE


def _account(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=pk)


def _add_errors(form, error: ValidationError) -> None:
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {"rows": services.key_account_rows(user), "queue": list(services.queue(user)[:10]),
               "unread": services.notifications_of(user, unread_only=True).count(),
               "may_snapshot": services.can_configure(user), "today": timezone.localdate()}
    if user.sees_all_accounts:
        numbers = services.dashboard(user)
        before = numbers["mrr_by_plan_90_days_ago"]
        numbers["plans"] = [{"plan": plan, "mrr": mrr, "arr": mrr * 12, "before": before.get(plan, 0),
                             "change": mrr - before.get(plan, 0)} for plan, mrr in numbers["mrr_by_plan"].items()]
        from keyplan.health import charts
        from keyplan.revenue.services import reporting_currency

        currency = reporting_currency()
        if len(numbers["mrr_at_risk_trend"]) > 1:
            context["risk_chart"] = charts.risk_trend_figure(numbers["mrr_at_risk_trend"], currency=currency)
        if len(numbers["mrr_by_plan_trend"]) > 1:
            context["plan_chart"] = charts.plan_trend_figure(numbers["mrr_by_plan_trend"], currency=currency)
        counts = numbers["key_account_onboarding"]
        numbers["onboarding"] = [(status, ONBOARDING_LABELS[status], counts.get(status, 0))
                                 for status in ("in_progress", "overdue", "done", "none")]
        context["program"] = numbers
    else:
        context["due"] = services.reviews_due(services.key_accounts_of(user), within_days=7)
    return render(request, "health/dashboard.html", context)


@require_POST
def snapshot(request: HttpRequest) -> HttpResponse:
    """Queue today's snapshot for the background worker: at 100,000 accounts it takes longer than a request should."""
    if not services.can_configure(request.user):
        raise PermissionDenied
    from keyplan.health.tasks import take_snapshot

    day = timezone.localdate().isoformat()
    transaction.on_commit(lambda: take_snapshot.enqueue(day))
    messages.success(request, _("Today's health snapshot is being taken by the background worker; reload this page in a minute."))
    return redirect("health:dashboard")


@require_GET
def risk_queue(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    if exports.wants_csv(request):  # every case, not only the 500 the page shows
        return exports.csv_response(RISK_QUEUE, services.queue(request.user))
    cases = list(services.queue(request.user)[:500])
    for case in cases:
        case.days = (today - case.opened_on).days
        case.reasons = services.rule_labels(case.rules) or [case.reason]
    return render(request, "health/queue.html", {"cases": cases, "total": services.mrr_at_risk(request.user),
                                                 "csv_query": exports.csv_query(request)})


@require_http_methods(["GET", "POST"])
def case_page(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = get_object_or_404(RiskCase.objects.visible_to(request.user).select_related("account", "owner", "plan_goal"), pk=case_pk)
    may_edit = can_edit(request.user, case.account)
    close_form, action_form, status = CloseCaseForm(), SaveActionForm(), 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        what = request.POST.get("what")
        try:
            if what == "close":
                close_form = CloseCaseForm(request.POST)
                if close_form.is_valid():
                    services.close_case(case, by=request.user, version=posted_version(request), **close_form.cleaned_data)
                    messages.success(request, _("The case is closed."))
                    return redirect("health:case", case.pk)
            elif what == "action":
                action_form = SaveActionForm(request.POST)
                if action_form.is_valid():
                    services.add_save_action(case, by=request.user, **action_form.cleaned_data)
                    return redirect("health:case", case.pk)
            elif what == "done":
                action = get_object_or_404(SaveAction, pk=request.POST.get("action"), case=case)
                services.complete_save_action(action, by=request.user)
                return redirect("health:case", case.pk)
            elif what == "link":
                added = services.link_save_plan(case, by=request.user)
                messages.success(request, _("The save plan is in the account plan (%(n)s actions added).") % {"n": added})
                return redirect("health:case", case.pk)
        except ValidationError as error:
            _add_errors(close_form if what == "close" else action_form, error)
            status = 422
        except Conflict as conflict:
            # Someone changed the case meanwhile: the page shows it as saved now, with what the user chose kept.
            messages.error(request, str(conflict))
            case = conflict.current
            status = 409
        else:
            status = 422
    return render(request, "health/case.html", {
        "case": case, "reasons": services.rule_labels(case.rules) or [case.reason], "may_edit": may_edit,
        "close_form": close_form, "action_form": action_form,
        "actions": case.actions.select_related("owner", "plan_action"), "plan": services.save_plan_home(case),
        "unlinked": case.actions.filter(plan_action__isnull=True).exists(),
        "days": ((case.closed_on or timezone.localdate()) - case.opened_on).days}, status=status)


@require_GET
def reviews_page(request: HttpRequest) -> HttpResponse:
    accounts = Account.objects.visible_to(request.user)
    due = services.reviews_due(accounts, within_days=7)
    if exports.wants_csv(request):
        return exports.csv_response(REVIEWS_DUE, due)
    by_kam: dict[str, list] = {}
    for d in due:
        by_kam.setdefault(d.kam, []).append(d)
    row = services.health_settings()
    cadences = [(label, services.cadence_for(tier, row), services.checkin_cadence(tier, row))
                for tier, label in Account._meta.get_field("tier").choices]
    return render(request, "health/reviews.html", {"by_kam": sorted(by_kam.items()), "cadences": cadences,
                                                   "count": len(due), "csv_query": exports.csv_query(request),
                                                   "checkins": services.checkins_due(accounts, within_days=7)})


def _onboarding_read(account) -> dict:
    """The account's onboarding, each stage with its name as the reader reads it (the API keeps the stored name)."""
    state = onboarding.onboarding_of(account)
    for stage in state["stages"]:
        stage["label"] = template_text(stage["name"])
    return state


@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    row = services.health_settings()
    may_change = services.can_configure(request.user)
    initial = {name: getattr(row, name) for name in services.SETTING_FIELDS if name != "weights"}
    initial |= {f"weight_{k}": row.weights.get(k, analysis.DEFAULT_WEIGHTS[k]) for k in analysis.DEFAULT_WEIGHTS}
    initial |= {f"onboarding_{tier}": onboarding.templates_as_text(row.onboarding_templates, tier)
                for tier in ("key", "candidate", "standard")}
    form, status = SettingsForm(initial=initial), 200
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_settings(by=request.user, changes=form.changes())
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Health settings saved. They apply from the next snapshot."))
                return redirect("health:settings")
        status = 422
    if not may_change:
        for field in form.fields.values():
            field.disabled = True
    weights = [form[f"weight_{k}"] for k in analysis.DEFAULT_WEIGHTS]
    return render(request, "health/settings.html", {"form": form, "weights": weights, "may_change": may_change},
                  status=status)


def _account_context(request: HttpRequest, account: Account, **forms) -> dict:
    health = services.account_health(account)
    case = account.risk_cases.filter(closed_on__isnull=True).first()
    return {
        "account": account, "health": health, "may_edit": can_edit(request.user, account),
        "surveys": account.survey_responses.select_related("stakeholder")[:50],
        "satisfaction": services.surveys_summary(account),
        "reviews": account.account_reviews.select_related("held_by")[:20],
        "cadence": services.cadence_for(account.tier),
        "case": case, "today": timezone.localdate(),
        "onboarding": _onboarding_read(account), "payments": services.payments_summary(account),
        "survey_form": forms.get("survey_form") or SurveyForm(account=account, initial={"responded_on": timezone.localdate()}),
        "review_form": forms.get("review_form") or ReviewForm(initial={"held_on": timezone.localdate()}),
        "checkins": account.checkins.select_related("held_by")[:20], "checkin_cadence": services.checkin_cadence(account.tier),
        "checkin_form": forms.get("checkin_form") or CheckInForm(initial={"held_on": timezone.localdate()}),
        "case_form": forms.get("case_form") or OpenCaseForm(),
    }


@require_GET
def account_page(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    return render(request, "health/account.html", _account_context(request, account))


def _post(request: HttpRequest, pk: int, form_class, name: str, save, done: str, form_kwargs=None) -> HttpResponse:
    account = _account(request, pk)
    if not can_edit(request.user, account):
        raise PermissionDenied
    form = form_class(request.POST, **(form_kwargs(account) if form_kwargs else {}))
    if form.is_valid():
        try:
            save(account, form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("health:account", account.pk)
    return render(request, "health/account.html", _account_context(request, account, **{name: form}), status=422)


@require_POST
def survey_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, SurveyForm, "survey_form",
                 lambda account, data: services.add_survey(account, by=request.user, **data),
                 _("Survey answer saved."), form_kwargs=lambda account: {"account": account})


@require_POST
def review_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, ReviewForm, "review_form",
                 lambda account, data: services.record_review(account, by=request.user, **data), _("Review recorded."))


@require_POST
def checkin_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, CheckInForm, "checkin_form",
                 lambda account, data: services.record_checkin(account, by=request.user, **data), _("Check-in recorded."))


@require_POST
def case_open(request: HttpRequest, pk: int) -> HttpResponse:
    return _post(request, pk, OpenCaseForm, "case_form",
                 lambda account, data: services.open_case(account, by=request.user, **data),
                 _("The account is in the at-risk queue."))


@require_http_methods(["GET", "POST"])
def notifications_page(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first; "mark all as read" empties the unread count."""
    if request.method == "POST":
        services.mark_read(request.user)
        return redirect("health:notifications")
    if request.method == "GET" and exports.wants_csv(request):  # every one, not only the 200 the page shows
        return exports.csv_response(NOTIFICATIONS, services.notifications_of(request.user).order_by("-created_at", "-pk"))
    rows = list(services.notifications_of(request.user)[:200])
    for n in rows:
        n.text = services.notification_text(n)
    return render(request, "health/notifications.html", {"rows": rows, "unread": sum(1 for n in rows if n.read_at is None),
                                                         "csv_query": exports.csv_query(request)})


@require_GET
def backtest_page(request: HttpRequest) -> HttpResponse:
    """Does a red score predict churn or contraction? The score judged on the last 12 months."""
    if not request.user.sees_all_accounts:
        raise PermissionDenied
    result = services.backtest()
    rows = [(band, result["bands"][band]) for band in analysis.BANDS]
    return render(request, "health/backtest.html", {"result": result, "rows": rows})


@require_http_methods(["GET", "POST"])
def onboarding_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The account's onboarding stages: start them from the template, add, change, tick, mark done, remove."""
    account = _account(request, pk)
    may_edit = can_edit(request.user, account)
    today = timezone.localdate()
    start_form, add_form, status, failed = StartOnboardingForm(initial={"start": today}), StageForm(account=account), 200, None
    conflicts = {}
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        what = request.POST.get("what")
        stage = None
        if what in ("update", "done", "tick", "remove"):
            stage = get_object_or_404(OnboardingStage, pk=request.POST.get("stage"), account=account)
        form = None
        try:
            if what == "start":
                form = start_form = StartOnboardingForm(request.POST)
                if form.is_valid():
                    onboarding.start_onboarding(account, by=request.user, start=form.cleaned_data["start"])
                    messages.success(request, _("Onboarding started from the template."))
                    return redirect("health:onboarding", account.pk)
            elif what == "add":
                form = add_form = StageForm(request.POST, account=account)
                if form.is_valid():
                    onboarding.add_stage(account, by=request.user, **form.changes())
                    return redirect("health:onboarding", account.pk)
            elif what == "update":
                form = failed = StageForm(request.POST, account=account, stage=stage, prefix=f"s{stage.pk}")
                if form.is_valid():
                    onboarding.update_stage(stage, by=request.user, changes=form.changes(),
                                            version=form.cleaned_data.get("version"))
                    return redirect("health:onboarding", account.pk)
            elif what == "done":
                onboarding.complete_stage(stage, by=request.user, version=posted_version(request))
                return redirect("health:onboarding", account.pk)
            elif what == "tick":
                index = request.POST.get("item", "")
                onboarding.tick_item(stage, by=request.user, index=int(index) if index.isdigit() else -1,
                                     done=request.POST.get("done") == "1")
                return redirect("health:onboarding", account.pk)
            elif what == "remove":
                onboarding.remove_stage(stage, by=request.user, version=posted_version(request))
                messages.success(request, _("The stage was removed."))
                return redirect("health:onboarding", account.pk)
        except ValidationError as error:
            if form is None:
                for message in error.messages:
                    messages.error(request, message)
            else:
                _add_errors(form, error)
            status = 422
        except Conflict as conflict:
            status = 409
            if what == "update":
                current = conflict.current
                saved = {"name": current.label, "owner": current.owner, "planned": current.planned, "done_on": current.done_on,
                         "checklist": "\n".join(i["item"] for i in current.items)}
                conflicts[current.pk] = conflict_context(form, current, saved)
            else:
                messages.error(request, str(conflict))
        else:
            status = 422
    state = onboarding.onboarding_of(account, today=today)
    stages = list(account.onboarding_stages.select_related("owner"))
    for stage in stages:
        stage.overdue = analysis.stage_overdue(stage.planned, stage.done_on, today)
        stage.form = failed if failed is not None and failed.stage.pk == stage.pk else StageForm(
            account=account, stage=stage, prefix=f"s{stage.pk}")
        stage.conflict, stage.form_id = conflicts.get(stage.pk), f"stage-form-{stage.pk}"
    return render(request, "health/onboarding.html", {
        "account": account, "state": state, "stages": stages, "may_edit": may_edit, "start_form": start_form,
        "add_form": add_form}, status=status)
