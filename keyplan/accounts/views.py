"""Account pages: parse, authorize, call a service, render."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from keyplan.accounts import services
from keyplan.accounts.filters import AccountFilter, with_kam
from keyplan.accounts.forms import (
    AccountForm,
    CompetitorForm,
    KamCapacityForm,
    TeamMemberEditForm,
    TeamMemberForm,
    TierForm,
)
from keyplan.accounts.models import Account, Competitor, TeamMember
from keyplan.accounts.tables import ACCOUNTS, WORKLOAD
from keyplan.core import exports
from keyplan.core.models import User
from keyplan.core.pagination import KeysetPaginator
from keyplan.core.services import set_kam_capacity
from keyplan.core.versions import Conflict, posted_version, take_version

PAGE_SIZE = 50
CHANGED = "accountChanged"  # HTMX event: parts of the account page listen to it and refresh
NOTE_FIELDS = ["business_plan", "target_audience", "relationship_history"]
FACT_FIELDS = [f for f in services.PROFILE_FIELDS
               if f not in ("parent", "referred_by", "name", "external_id", *NOTE_FIELDS)]
INLINE_FIELDS = FACT_FIELDS + NOTE_FIELDS


def _visible_account(request: HttpRequest, pk: int) -> Account:
    # Outside the user's reach is a 404, never a 403: the page does not admit the account exists.
    return get_object_or_404(Account.objects.visible_to(request.user).select_related("parent", "referred_by"), pk=pk)


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    filters = AccountFilter(request.GET)
    accounts = Account.objects.none()
    if filters.is_valid():
        accounts = filters.apply(Account.objects.visible_to(request.user))
    if exports.wants_csv(request):  # what the reader filtered, every row, streamed
        if filters.errors:
            return exports.refused(filters)
        return exports.csv_response(ACCOUNTS, with_kam(accounts.select_related("parent")))
    page = KeysetPaginator(with_kam(accounts), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "csv_query": exports.csv_query(request),
        "can_create": services.can_create_accounts(request.user),
    }
    template = "accounts/account_list.html#results" if request.htmx else "accounts/account_list.html"
    return render(request, template, context)


@require_GET
def parent_suggestions(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("parent_external_id", "").strip()
    accounts = Account.objects.none()
    if len(q) >= 2:
        accounts = (
            Account.objects.visible_to(request.user)
            .active()
            .filter(Q(name__icontains=q) | Q(external_id__istartswith=q))
            .only("name", "external_id")[:15]
        )
    return render(request, "accounts/account_form.html#suggestions", {"suggestions": accounts})


def _detail_context(request: HttpRequest, account: Account, **extra) -> dict:
    can_edit = services.can_edit(request.user, account)
    team = list(account.team_members.select_related("user", "account"))
    can_manage_team = can_edit and services.can_manage_team(request.user, account)
    # Nothing about accounts outside the user's reach: their hierarchy and referrals show only what they may see.
    visible = Account.objects.visible_to(request.user)
    children = visible.filter(parent=account).order_by("name")
    ancestors = account.ancestors()
    shown = services.visible_ids(request.user, [a.pk for a in ancestors])
    context = {
        "account": account,
        "parent": services.visible_or_none(request.user, account.parent),
        "referred_by": services.visible_or_none(request.user, account.referred_by),
        "ancestors": [a for a in ancestors if a.pk in shown],
        "children": children[:25],
        "children_count": children.count(),
        "referrals": visible.active().filter(referred_by=account).count(),
        "team": team,
        "can_manage_team": can_manage_team,
        "changeable_members": {m.pk for m in team if can_manage_team and services.can_change_member(request.user, m)},
        "can_archive": can_edit and services.can_archive(request.user),
        "competitors": account.competitors.all(),
        "tier_changes": account.tier_changes.select_related("changed_by"),
        "change_log": services.change_log(account, user=request.user),
        "can_edit": can_edit,
        "can_set_tier": services.can_set_tier(request.user),
        "team_form": TeamMemberForm(leadership=services.can_assign_leadership(request.user)),
        "competitor_form": CompetitorForm(),
        "tier_form": TierForm(initial={"tier": account.tier}),
        "fact_fields": FACT_FIELDS,
        "note_fields": NOTE_FIELDS,
    }
    context.update(extra)
    return context


@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    return render(request, "accounts/account_detail.html", _detail_context(request, account))


@require_GET
def account_history(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    context = {"account": account, "change_log": services.change_log(account, user=request.user)}
    return render(request, "accounts/account_detail.html#history", context)


@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    if not services.can_create_accounts(request.user):
        raise PermissionDenied
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.create_account(by=request.user, data=form.profile_data())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Account %(name)s created.") % {"name": account.name})
            return redirect("accounts:detail", pk=account.pk)
    return render(request, "accounts/account_form.html", {"form": form, "account": None})


@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    if not services.can_edit(request.user, account):
        raise PermissionDenied
    form = AccountForm(request.POST or None, instance=account, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_account(Account.objects.get(pk=pk), by=request.user, changes=form.profile_data(),
                                    version=form.cleaned_data.get("version"))
        except ValidationError as error:
            _add_errors(form, error)
        except Conflict as conflict:
            return _account_conflict(request, form, account, conflict.current)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("accounts:detail", pk=account.pk)
    return render(request, "accounts/account_form.html", {"form": form, "account": account})


def _account_conflict(request, form, account, current: Account) -> HttpResponse:
    """Someone saved the account while this form was open: show what they stored next to what was typed;
    the form keeps the typed values and now carries the current version, so saving again is a choice."""
    typed = form.profile_data()
    differences = [
        {"label": form.fields[name].label if name in form.fields else name,
         "stored": _shown(getattr(current, name)), "typed": _shown(typed.get(name))}
        for name in services.PROFILE_FIELDS
        if name in typed and getattr(current, name) != typed[name]
    ]
    data = request.POST.copy()
    data["version"] = str(current.version)
    form = AccountForm(data, instance=Account.objects.get(pk=current.pk), user=request.user)
    form.is_valid()
    context = {"form": form, "account": account, "conflict": {"version": current.version, "differences": differences}}
    return render(request, "accounts/account_form.html", context, status=409)


def _shown(value) -> str:
    if value in (None, ""):
        return "—"
    return str(getattr(value, "name", value))




@require_http_methods(["GET", "POST"])
def account_field(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Inline edit of one profile field: GET gives its editor, POST saves it and gives the value back."""
    if name not in INLINE_FIELDS:
        raise Http404
    account = _visible_account(request, pk)
    if request.method == "GET" and request.GET.get("cancel"):
        return render(request, "accounts/account_detail.html#field", {"account": account, "name": name, "can_edit": True})
    if not services.can_edit(request.user, account):
        raise PermissionDenied
    form = AccountForm(request.POST if request.method == "POST" else None, instance=account, user=request.user)
    editor = {"account": account, "name": name, "field": form[name]}
    if request.method == "POST":
        form.is_valid()
        if name in form.errors:
            return render(request, "accounts/account_detail.html#field-editor", editor)
        try:
            account = services.update_account(account, by=request.user, changes={name: form.cleaned_data[name]})
        except ValidationError as error:
            _add_errors(form, error)
            return render(request, "accounts/account_detail.html#field-editor", editor)
        response = render(request, "accounts/account_detail.html#field", {"account": account, "name": name, "can_edit": True})
        return trigger_client_event(response, CHANGED)
    return render(request, "accounts/account_detail.html#field-editor", editor)


def _fragment_or_redirect(request, account, fragment: str, **extra) -> HttpResponse:
    """After a write: the refreshed fragment for HTMX, the account page for a plain form post."""
    if not request.htmx:
        return redirect("accounts:detail", pk=account.pk)
    response = render(request, f"accounts/account_detail.html#{fragment}", _detail_context(request, account, **extra))
    return trigger_client_event(response, CHANGED)


@require_POST
def account_tier(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    if not services.can_set_tier(request.user):
        raise PermissionDenied  # before the form: a refusal, not a list of field errors
    form = TierForm(request.POST)
    if form.is_valid():
        try:
            services.set_tier(
                account,
                by=request.user,
                tier=form.cleaned_data["tier"],
                reason=form.cleaned_data["reason"],
                effective_date=form.cleaned_data["effective_date"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            account.refresh_from_db()
            return _fragment_or_redirect(request, account, "tier")
    return _invalid(request, account, "tier", tier_form=form)


def _invalid(request, account, fragment, **forms_) -> HttpResponse:
    context = _detail_context(request, account, **forms_)
    template = f"accounts/account_detail.html#{fragment}" if request.htmx else "accounts/account_detail.html"
    # 200 for HTMX so the fragment with its field errors is swapped in; 400 for a plain post.
    return render(request, template, context, status=200 if request.htmx else 400)


@require_POST
def account_archive(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    if request.POST.get("restore"):
        services.restore_account(account, by=request.user)
        messages.success(request, _("Account restored."))
    else:
        services.archive_account(account, by=request.user)
        messages.success(request, _("Account archived; its history is kept and it can be restored."))
    return redirect("accounts:detail", pk=account.pk)


@require_POST
def team_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    if not services.can_manage_team(request.user, account):
        raise PermissionDenied
    form = TeamMemberForm(request.POST, leadership=services.can_assign_leadership(request.user))
    if form.is_valid():
        try:
            services.add_team_member(account, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _fragment_or_redirect(request, account, "team")
    return _invalid(request, account, "team", team_form=form)


@require_POST
def team_member(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    member = get_object_or_404(TeamMember, pk=member_pk, account=account)
    if not services.can_edit(request.user, account) or not services.can_change_member(request.user, member):
        raise PermissionDenied
    if request.POST.get("remove"):
        try:
            services.remove_team_member(member, by=request.user, version=posted_version(request))
        except Conflict as conflict:
            return _invalid(request, account, "team", team_conflict=str(conflict))
        return _fragment_or_redirect(request, account, "team")
    form = TeamMemberEditForm(request.POST, instance=TeamMember.objects.get(pk=member.pk))
    if form.is_valid():
        version = take_version(form)
        try:
            services.update_team_member(member, by=request.user, version=version, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        except Conflict as conflict:
            return _invalid(request, account, "team", team_conflict=str(conflict))
        else:
            return _fragment_or_redirect(request, account, "team")
    return _invalid(request, account, "team", member_errors={member.pk: form.errors})


@require_POST
def competitor_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    if not services.can_edit(request.user, account):
        raise PermissionDenied
    form = CompetitorForm(request.POST)
    if form.is_valid():
        try:
            services.add_competitor(account, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _fragment_or_redirect(request, account, "competitors")
    return _invalid(request, account, "competitors", competitor_form=form)


@require_POST
def competitor_remove(request: HttpRequest, pk: int, competitor_pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    competitor = get_object_or_404(Competitor, pk=competitor_pk, account=account)
    try:
        services.remove_competitor(competitor, by=request.user, version=posted_version(request))
    except Conflict as conflict:
        return _invalid(request, account, "competitors", competitor_conflict=str(conflict))
    return _fragment_or_redirect(request, account, "competitors")


@require_http_methods(["GET", "POST"])
def workload(request: HttpRequest) -> HttpResponse:
    """Each KAM with their key accounts, warning when one carries more than their capacity."""
    if request.method == "POST":
        if not request.user.edits_all_accounts:
            raise PermissionDenied
        user_id = request.POST.get("user", "")
        kam = get_object_or_404(User, pk=int(user_id) if user_id.isdigit() else 0)
        form = KamCapacityForm(request.POST)
        if form.is_valid():
            try:
                set_kam_capacity(kam, by=request.user, capacity=form.cleaned_data["kam_capacity"])
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, _("Capacity of %(user)s saved.") % {"user": kam})
        else:
            messages.error(request, _("Capacity: %(errors)s") % {"errors": " ".join(form.errors.get("kam_capacity", []))})
        return redirect("accounts:workload")
    workload = services.kam_workload(request.user)
    if exports.wants_csv(request):
        return exports.csv_response(WORKLOAD, workload.kams)
    context = {"workload": workload, "can_set_capacity": request.user.edits_all_accounts,
               "csv_query": exports.csv_query(request)}
    return render(request, "accounts/workload.html", context)
