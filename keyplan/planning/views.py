"""Plan pages: parse, authorize, call a service, render.

Each edit form carries the version it was read at. When someone saved in between, the
service refuses (Conflict) and the page shows both versions side by side: the user keeps
theirs (the form goes again, now against the current version) or takes the saved one.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keyplan.accounts.models import Account, TeamRole
from keyplan.core import exports
from keyplan.core.models import User
from keyplan.core.versions import conflict_context as _conflict
from keyplan.planning import analysis, services
from keyplan.planning.forms import (
    SECTION_LABELS,
    ActionForm,
    CellForm,
    GoalForm,
    OpportunityForm,
    PlanCreateForm,
    PlanForm,
    SectionForm,
)
from keyplan.planning.models import (
    AccountPlan,
    Action,
    CellState,
    Goal,
    Opportunity,
    OpportunityKind,
    PlanState,
    RaciArea,
    RaciRole,
    SectionKey,
)
from keyplan.planning.tables import PLANS


def _account(request: HttpRequest, pk: int) -> Account:
    # Outside the user's reach is a 404, never a 403: the page does not admit the account exists.
    return get_object_or_404(Account.objects.visible_to(request.user), pk=pk)


def _plan(request: HttpRequest, pk: int, plan_pk: int) -> AccountPlan:
    return get_object_or_404(AccountPlan.objects.select_related("account"), pk=plan_pk, account=_account(request, pk))


def _require_edit(request: HttpRequest, plan: AccountPlan) -> None:
    if not services.can_edit(request.user, plan.account):
        raise PermissionDenied


def _add_errors(form, error: ValidationError) -> None:
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _edit_page(request, plan, form, *, title: str, conflict=None, remove_url: str = "", status: int = 200):
    context = {"account": plan.account, "plan": plan, "form": form, "title": title, "conflict": conflict,
               "remove_url": remove_url}
    return render(request, "planning/edit.html", context, status=status)


def _to_plan(plan: AccountPlan, anchor: str = "") -> HttpResponse:
    response = redirect("planning:plan", pk=plan.account_id, plan_pk=plan.pk)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


# ---------------------------------------------------------------- lists


@require_GET
def portfolio(request: HttpRequest) -> HttpResponse:
    """Every key account with its current plan and whether the plan is living."""
    try:
        kam = int(request.GET.get("kam") or 0) or None
    except ValueError:
        kam = None
    rows = services.portfolio(request.user, kam=kam)
    if exports.wants_csv(request):
        return exports.csv_response(PLANS, rows)
    context = {"rows": rows, "living": sum(1 for r in rows if r.living), "without": sum(1 for r in rows if r.plan is None),
               "cadence": analysis.REVIEW_CADENCE_DAYS, "csv_query": exports.csv_query(request)}
    return render(request, "planning/portfolio.html", context)


@require_http_methods(["GET", "POST"])
def account_plans(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    can_edit = services.can_edit(request.user, account)
    form = PlanCreateForm(request.POST or None)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                plan = services.create_plan(account, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Plan %(period)s started.") % {"period": plan.period})
                return _to_plan(plan)
    latest = services.latest_plan(account)
    context = {"account": account, "plans": account.plans.order_by("-starts", "-pk"), "form": form,
               "can_edit": can_edit, "latest": latest}
    return render(request, "planning/account_plans.html", context, status=400 if form.errors else 200)


# ---------------------------------------------------------------- the plan


@require_GET
def plan_page(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    view = services.plan_view(plan)
    can_edit = services.can_edit(request.user, plan.account) and plan.state != PlanState.ARCHIVED
    context = {"account": plan.account, "plan": plan, "view": view, "can_edit": can_edit,
               "other_plans": plan.account.plans.exclude(pk=plan.pk).order_by("-starts"),
               "cadence": analysis.REVIEW_CADENCE_DAYS}
    return render(request, "planning/plan.html", context)


@require_GET
def plan_print(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    """The plan ready to print (or save as PDF from the browser's print dialog): every section, the timeline,
    no editing controls, who printed it and when."""
    plan = _plan(request, pk, plan_pk)
    view = services.plan_view(plan)
    title = f"{plan.account.name} · {plan.period}"
    context = {"account": plan.account, "plan": plan, "view": view, "can_edit": False, "printing": True,
               "timeline": mark_safe(services.render_timeline([plan], title=title, today=view.today)),  # escaped by gantt_svg
               "printed_at": timezone.localtime(), "cadence": analysis.REVIEW_CADENCE_DAYS}
    return render(request, "planning/plan.html", context)


@require_GET
def plan_history(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    sections = []
    for row in plan.sections.order_by("key"):
        versions = services.section_versions(row, limit=10)
        for v in versions:
            v.shown = [(SECTION_LABELS[name], value if isinstance(value, str) else "\n".join(value))
                       for name, value in v.content.items() if name in SECTION_LABELS]
        sections.append((row, versions))
    context = {"account": plan.account, "plan": plan, "entries": services.change_log(plan), "sections": sections,
               "can_edit": services.can_edit(request.user, plan.account) and plan.state != PlanState.ARCHIVED}
    return render(request, "planning/history.html", context)


@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    form = PlanForm(request.POST or None, instance=AccountPlan.objects.get(pk=plan.pk), initial={"version": plan.version})
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.update_plan(plan, by=request.user, version=form.cleaned_data["version"], changes=form.changes())
        except services.Conflict as c:
            conflict = _conflict(form, c.current, {name: getattr(c.current, name) for name in PlanForm.Meta.fields})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return _to_plan(plan)
    return _edit_page(request, plan, form, title=_("Plan %(period)s") % {"period": plan.period}, conflict=conflict,
                      status=400 if form.errors else 200)


@require_POST
def plan_state(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    what = request.POST.get("do")
    try:
        if what == "activate":
            services.activate_plan(plan, by=request.user)
            messages.success(request, _("The plan is active; the plan active before is archived."))
        elif what == "archive":
            services.archive_plan(plan, by=request.user)
            messages.success(request, _("The plan is archived."))
        elif what == "review":
            services.mark_reviewed(plan, by=request.user)
            messages.success(request, _("Review recorded."))
        else:
            raise Http404
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _to_plan(plan)


@require_http_methods(["GET", "POST"])
def section_edit(request: HttpRequest, pk: int, plan_pk: int, key: str) -> HttpResponse:
    if key not in SectionKey.values:
        raise Http404
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    row = services.section(plan, key)
    form = SectionForm(request.POST or None, key=key, initial=SectionForm.initial_for(row))
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.update_section(plan, key, by=request.user, version=form.cleaned_data["version"], content=form.content())
        except services.Conflict as c:
            saved = SectionForm.initial_for(c.current)
            conflict = _conflict(form, c.current, {name: saved[name] for name in analysis.SECTIONS[key]})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return _to_plan(plan, f"section-{key}")
    return _edit_page(request, plan, form, title=SectionKey(key).label, conflict=conflict,
                      status=400 if form.errors else 200)


@require_POST
def section_restore(request: HttpRequest, pk: int, plan_pk: int, key: str, history_id: int) -> HttpResponse:
    if key not in SectionKey.values:
        raise Http404
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    try:
        row = services.restore_section(services.section(plan, key), by=request.user, history_id=history_id)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("planning:history", pk=plan.account_id, plan_pk=plan.pk)
    messages.success(request, _("%(section)s restored as version %(version)s.") % {"section": row.get_key_display(),
                                                                                   "version": row.version})
    return _to_plan(plan, f"section-{key}")


# ---------------------------------------------------------------- timeline


def _links(request: HttpRequest):
    """Bars and goal names on the page link to their editor (for whoever may edit) or to the plan."""
    def link(plan: AccountPlan, kind: str, row) -> str:
        if services.can_edit(request.user, plan.account) and plan.state != PlanState.ARCHIVED:
            return reverse(f"planning:{kind}", args=[plan.account_id, plan.pk, row.pk])
        return reverse("planning:plan", args=[plan.account_id, plan.pk]) + f"#{kind}-{row.pk}"
    return link


def _svg_download(svg: str, name: str) -> HttpResponse:
    response = HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
def plan_timeline(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    title = f"{plan.account.name} · {plan.period}"
    if request.GET.get("download"):
        return _svg_download(services.render_timeline([plan], title=title), f"timeline-{slugify(plan.account.name)}-{slugify(plan.period)}.svg")
    svg = services.render_timeline([plan], title=title, link=_links(request))
    context = {"account": plan.account, "plan": plan, "svg": mark_safe(svg)}  # escaped piece by piece by gantt_svg
    return render(request, "planning/timeline.html", context)


@require_GET
def portfolio_timeline(request: HttpRequest) -> HttpResponse:
    """Goals and actions across a KAM's key accounts (yours by default; a lead picks any KAM)."""
    kam = request.GET.get("kam") or ""
    kam_id = int(kam) if kam.isdigit() else (None if request.user.sees_all_accounts else request.user.pk)
    plans = services.kam_plans(request.user, kam=kam_id)
    title = _("Timeline of the key accounts")
    if request.GET.get("download"):
        return _svg_download(services.render_timeline(plans, title=title, headings=True), "timeline.svg")
    svg = services.render_timeline(plans, title=title, link=_links(request), headings=True)
    kams = User.objects.filter(team_memberships__role=TeamRole.KAM, team_memberships__account__tier="key").distinct()
    context = {"svg": mark_safe(svg), "plans": plans, "kams": kams.order_by("first_name", "last_name", "username"),
               "kam": kam_id}
    return render(request, "planning/portfolio_timeline.html", context)


# ---------------------------------------------------------------- goals and actions


def _remove(request: HttpRequest, remove, item, *, done: str) -> None:
    """Remove a goal, action or opportunity through its service; what happened goes to the messages."""
    try:
        remove(item, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)


@require_http_methods(["GET", "POST"])
def goal_edit(request: HttpRequest, pk: int, plan_pk: int, goal_pk: int | None = None) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    goal = get_object_or_404(Goal, pk=goal_pk, plan=plan) if goal_pk else None
    if request.method == "POST" and goal is not None and request.POST.get("remove"):
        _remove(request, services.remove_goal, goal, done=_("Goal removed."))
        return _to_plan(plan, "goals")
    initial = {"version": goal.version} if goal else {"horizon": request.GET.get("horizon", "short")}
    form = GoalForm(request.POST or None, instance=Goal.objects.get(pk=goal.pk) if goal else None, plan=plan,
                    initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            if goal is None:
                goal = services.add_goal(plan, by=request.user, data=form.changes())
            else:
                services.update_goal(goal, by=request.user, version=form.cleaned_data["version"], changes=form.changes())
        except services.Conflict as c:
            conflict = _conflict(form, c.current, {name: getattr(c.current, name) for name in GoalForm.Meta.fields})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Goal saved."))
            return _to_plan(plan, f"goal-{goal.pk}")
    title = goal.label if goal else _("New goal")
    remove_url = request.path if goal else ""
    return _edit_page(request, plan, form, title=title, conflict=conflict, remove_url=remove_url,
                      status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def action_edit(request: HttpRequest, pk: int, plan_pk: int, action_pk: int | None = None) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    action = get_object_or_404(Action, pk=action_pk, plan=plan) if action_pk else None
    if request.method == "POST" and action is not None and request.POST.get("remove"):
        _remove(request, services.remove_action, action, done=_("Action removed."))
        return _to_plan(plan, "goals")
    if action is None and not plan.goals.exists():
        messages.error(request, _("Add a goal first: every action serves a goal."))
        return _to_plan(plan, "goals")
    initial = {"version": action.version} if action else {"goal": request.GET.get("goal")}
    form = ActionForm(request.POST or None, instance=Action.objects.get(pk=action.pk) if action else None, plan=plan,
                      initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data = form.changes()
        try:
            if action is None:
                action = services.add_action(data.pop("goal"), by=request.user, data=data)
            else:
                services.update_action(action, by=request.user, version=form.cleaned_data["version"], changes=data)
        except services.Conflict as c:
            fields = {name: getattr(c.current, name) for name in ActionForm.Meta.fields if name != "depends_on"}
            fields["depends_on"] = list(c.current.depends_on.all())
            conflict = _conflict(form, c.current, fields)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Action saved."))
            return _to_plan(plan, f"action-{action.pk}")
    title = action.title if action else _("New action")
    remove_url = request.path if action else ""
    return _edit_page(request, plan, form, title=title, conflict=conflict, remove_url=remove_url,
                      status=400 if form.errors else 200)


# ---------------------------------------------------------------- opportunities and the whitespace map


@require_http_methods(["GET", "POST"])
def opportunity_edit(request: HttpRequest, pk: int, plan_pk: int, opportunity_pk: int | None = None) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    opportunity = get_object_or_404(Opportunity, pk=opportunity_pk, account=plan.account) if opportunity_pk else None
    if request.method == "POST" and opportunity is not None and request.POST.get("remove"):
        _remove(request, services.remove_opportunity, opportunity, done=_("Opportunity removed."))
        return _to_plan(plan, "opportunities")
    if opportunity:
        initial = {"version": opportunity.version}
    else:  # from a whitespace cell: its division, product line and estimated value
        initial = {name: request.GET[name] for name in ("division", "product_line", "amount", "kind") if request.GET.get(name)}
        initial.setdefault("kind", OpportunityKind.CROSS_SELL)
    form = OpportunityForm(request.POST or None, instance=Opportunity.objects.get(pk=opportunity.pk) if opportunity else None,
                           plan=plan, initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            if opportunity is None:
                opportunity = services.add_opportunity(plan.account, by=request.user, data=form.changes())
            else:
                services.update_opportunity(opportunity, by=request.user, version=form.cleaned_data["version"],
                                            changes=form.changes())
        except services.Conflict as c:
            conflict = _conflict(form, c.current, {name: getattr(c.current, name) for name in OpportunityForm.Meta.fields})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Opportunity saved."))
            return _to_plan(plan, f"opportunity-{opportunity.pk}")
    title = opportunity.name if opportunity else _("New opportunity")
    return _edit_page(request, plan, form, title=title, conflict=conflict, remove_url=request.path if opportunity else "",
                      status=400 if form.errors else 200)


@require_GET
def whitespace_page(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    plan = _plan(request, pk, plan_pk)
    grid = services.whitespace(plan.account)
    can_edit = services.can_edit(request.user, plan.account) and plan.state != PlanState.ARCHIVED
    context = {"account": plan.account, "plan": plan, "grid": grid, "can_edit": can_edit, "states": CellState.choices}
    return render(request, "planning/whitespace.html", context)


@require_http_methods(["GET", "POST"])
def whitespace_cell(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    """Mark one division × product line; a new division or product line adds a row or a column."""
    plan = _plan(request, pk, plan_pk)
    _require_edit(request, plan)
    division, product_line = request.GET.get("division", ""), request.GET.get("product_line", "")
    cell = plan.account.whitespace_cells.filter(division=division, product_line=product_line).first()
    initial = {"division": division, "product_line": product_line, "state": CellState.WHITESPACE, "version": 0}
    if cell:
        initial.update(state=cell.state, competitor=cell.competitor, estimated_value=cell.estimated_value, note=cell.note,
                       version=cell.version)
    form = CellForm(request.POST or None, initial=initial)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.set_cell(plan.account, by=request.user, version=version, **data)
        except services.Conflict as c:
            conflict = _conflict(form, c.current, {name: getattr(c.current, name) for name in
                                                   ("state", "competitor", "estimated_value", "note")})
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("planning:whitespace", pk=plan.account_id, plan_pk=plan.pk)
    title = f"{division} × {product_line}" if division and product_line else _("Add a division or product line")
    return _edit_page(request, plan, form, title=title, conflict=conflict, status=400 if form.errors else 200)


# ---------------------------------------------------------------- team responsibilities


def _raci_cells(raci: services.Raci, mine: dict | None = None) -> list:
    """Rows of the matrix form: each cell's letter to show (yours after a conflict), the saved letter and version."""
    mine = mine or {}
    return [(member, [(area, mine.get((member.pk, area), letter), letter, version) for area, letter, version in cells])
            for member, cells in raci.rows()]


@require_http_methods(["GET", "POST"])
def raci_page(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    """The account team against the plan's areas: one select per person and area, saved at once.

    Each select carries the letter and version it was read with; only the cells the user changed are
    written, and a cell someone else changed meanwhile is a conflict shown side by side."""
    plan = _plan(request, pk, plan_pk)
    can_edit = services.can_edit(request.user, plan.account)
    conflict, mine = None, None
    raci = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        roles, versions = {}, {}
        for key, value in request.POST.items():
            if key.startswith("raci-"):
                _prefix, member, area = key.split("-", 2)
                if not member.isdigit():
                    raise Http404
                read = request.POST.get(f"read-{member}-{area}")
                if read is not None and value == read:
                    continue  # not changed here: whatever is saved stays
                roles[(int(member), area)] = value
                version = request.POST.get(f"version-{member}-{area}", "")
                if version.isdigit():
                    versions[(int(member), area)] = int(version)
        try:
            services.set_raci(plan.account, by=request.user, roles=roles, versions=versions)
        except services.RaciConflict as c:
            raci, mine = c.current, roles
            conflict = {"rows": [{"label": f"{cell.member.user} · {RaciArea(cell.area).label}",
                                  "mine": cell.yours or "—", "saved": cell.saved or "—"} for cell in c.stale],
                        "version": None}
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("planning:raci", pk=plan.account_id, plan_pk=plan.pk)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("planning:raci", pk=plan.account_id, plan_pk=plan.pk)
    raci = raci or services.raci(plan.account)
    context = {"account": plan.account, "plan": plan, "raci": raci, "cells": _raci_cells(raci, mine), "can_edit": can_edit,
               "areas": RaciArea.choices, "letters": RaciRole.choices, "conflict": conflict, "form_id": "raci-form"}
    return render(request, "planning/raci.html", context)


# ---------------------------------------------------------------- importing opportunities


@require_http_methods(["GET", "POST"])
def opportunities_import(request: HttpRequest) -> HttpResponse:
    """Upload a CRM export of opportunities: every row checked, all written or none; a dry run writes nothing."""
    from keyplan.planning import importing
    from keyplan.planning.forms import OpportunityImportForm

    if request.user.is_read_only:
        raise PermissionDenied
    form = OpportunityImportForm(request.POST or None, request.FILES or None)
    result, status, shown = None, 200, []
    if request.method == "POST" and form.is_valid():
        options = importing.SmallImportOptions(dry_run=form.cleaned_data["dry_run"])
        try:
            result = importing.import_upload(form.cleaned_data["file"], by=request.user, options=options)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            # Each reason in the reader's language (the report itself keeps English, as the CLI and the API give it).
            shown = [(e, _(importing.REASONS[e.code]) % e.params if e.code in importing.REASONS else e.reason)
                     for e in result.errors]
            if result.ok and not result.dry_run:
                messages.success(request, _("%(created)s opportunities created, %(updated)s updated, %(unchanged)s unchanged.")
                                 % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged})
    if form.errors or (result is not None and not result.ok):
        status = 400
    context = {"form": form, "result": result, "errors": shown, "columns": importing.OPPORTUNITY_COLUMNS,
               "required": importing.REQUIRED}
    return render(request, "planning/opportunities_import.html", context, status=status)
