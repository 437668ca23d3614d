"""Relationship pages: parse, authorize, call a service or an analysis, render.

An account's relationships are visible to whoever sees the account and editable by
whoever may edit it; any other account is a 404.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from keyplan.accounts.models import Account, Tier
from keyplan.accounts.services import can_edit
from keyplan.core import exports
from keyplan.core.versions import Conflict, conflict_context, posted_version, take_version
from keyplan.relationships import analysis, services
from keyplan.relationships.filters import InteractionFilter, StakeholderFilter
from keyplan.relationships.forms import InfluenceLineForm, InteractionForm, StakeholderForm, StaleSettingsForm
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder
from keyplan.relationships.tables import INTERACTIONS, STAKEHOLDERS, STALE, WHO_TO_WIN

CHANGED = "relationshipsChanged"  # HTMX event: the map and the lists listen to it and refresh
PAGE_SIZE = 50
PORTFOLIO_ACCOUNTS = 40  # key accounts shown with their who-to-win top entries
PORTFOLIO_STALE = 200


def _account(request: HttpRequest, pk: int) -> Account:
    # Outside the user's reach is a 404, never a 403: the page does not admit the account exists.
    return get_object_or_404(Account.objects.visible_to(request.user), pk=pk)


def _require_edit(request: HttpRequest, account: Account) -> None:
    if not can_edit(request.user, account):
        raise PermissionDenied


def _days(request: HttpRequest, rule: analysis.StaleRule) -> int:
    """The stale threshold in days: ``?days=`` (1–3650), the lead's setting unless given."""
    try:
        days = int(request.GET.get("days", rule.days))
    except ValueError:
        return rule.days
    return min(max(days, 1), 3650)


def _add_errors(form, error: ValidationError) -> None:
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _context(request: HttpRequest, account: Account, tab: str, **extra) -> dict:
    return {"account": account, "tab": tab, "can_edit": can_edit(request.user, account), "today": timezone.localdate(), **extra}


def _node_link(account: Account):
    return lambda sid: reverse("relationships:stakeholder", args=[account.pk, sid])


def _datalists(account: Account) -> dict:
    people = Stakeholder.objects.filter(account=account)
    return {
        "departments": people.exclude(department="").order_by("department").values_list("department", flat=True).distinct(),
        "organisations": people.exclude(external_organisation="").order_by("external_organisation")
        .values_list("external_organisation", flat=True).distinct(),
    }


# ---------------------------------------------------------------- the map


@require_GET
def map_page(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    today = timezone.localdate()
    try:
        selected = int(request.GET.get("selected") or 0) or None
    except ValueError:
        selected = None
    departments = services.map_departments(account)
    wanted = request.GET.get("department", "").strip().casefold()
    # The department as the map spells it; an unknown one shows the whole map rather than an empty one.
    department = next((d for d in departments if d.casefold() == wanted), "") if wanted else ""
    svg = services.render_map(account, today=today, link=_node_link(account), selected=selected, department=department)
    map_context = {"svg": svg, "map_departments": departments, "map_department": department}
    if request.htmx:
        return render(request, "relationships/map.html#map", _context(request, account, "map", **map_context))
    persons = services.people(account, today=today)
    rule = services.stale_rule()
    days = _days(request, rule)
    context = _context(
        request, account, "map",
        **map_context,
        people_count=len(persons),
        targets=analysis.who_to_win(persons, services.lines(account), today=today, stale_days=days)[:3],
        stale=analysis.stale_relationships(persons, today=today, days=days, rule=rule),
        days=days,
        rule=rule,
        without_owner=analysis.decision_makers_without_owner(persons),
        change_log=services.change_log(account, limit=30),
        **_datalists(account),
    )
    return render(request, "relationships/map.html", context)


# ---------------------------------------------------------------- stakeholders


def _removal_refused(request, account: Account, text: str, back: str) -> HttpResponse:
    """Someone changed the row since the page was read: nothing was removed; say so and show it again."""
    if request.htmx:
        response = render(request, "relationships/map.html#editor-note", _context(request, account, "map", note=text))
        return trigger_client_event(response, CHANGED)
    messages.error(request, text)
    return redirect(back)


def _stakeholder_context(request: HttpRequest, account: Account, person: Stakeholder | None, form, **extra) -> dict:
    context = _context(request, account, "map", person=person, form=form, **_datalists(account), **extra)
    if person is not None and person.pk:
        today = context["today"]
        figures = Stakeholder.objects.filter(pk=person.pk).with_contact(today).values("contact", "last_contact").first()
        context.update(
            contact=figures["contact"],
            last_contact=figures["last_contact"],
            computed=Stakeholder.objects.filter(pk=person.pk, interactions__date__lte=today).exists(),
            lines_out=person.lines_out.select_related("target"),
            lines_in=person.lines_in.select_related("source"),
            recent=person.interactions.order_by("-date", "-pk")[:5],
            reports=person.direct_reports.filter(archived_at__isnull=True),
            history=services.change_log(account, stakeholder=person, limit=20),
        )
        if context["computed"] and "contact_strength" in form.fields:
            form.fields["contact_strength"].help_text = _(
                "Not used now: the contact above is computed from the interaction log.")
    return context


def _render_stakeholder(request, context, status=200) -> HttpResponse:
    template = "relationships/stakeholder.html#editor" if request.htmx else "relationships/stakeholder.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def stakeholder_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    _require_edit(request, account)
    initial = {}
    for name in ("reports_to", "external_organisation", "department"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    form = StakeholderForm(request.POST or None, account=account, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.create_stakeholder(account, by=request.user, data=form.data_for_service())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, _("%(name)s added to the map.") % {"name": person.name})
                return redirect(f"{reverse('relationships:map', args=[account.pk])}?selected={person.pk}")
            fresh = StakeholderForm(instance=person, account=account)
            context = _stakeholder_context(request, account, person, fresh, saved=_("%(name)s added to the map.") % {"name": person.name})
            return trigger_client_event(_render_stakeholder(request, context), CHANGED)
    status = 400 if request.method == "POST" and not request.htmx else 200
    return _render_stakeholder(request, _stakeholder_context(request, account, None, form), status)


@require_http_methods(["GET", "POST"])
def stakeholder_edit(request: HttpRequest, pk: int, sid: int) -> HttpResponse:
    """One stakeholder: the whole page, or on the map the editor beside it (HTMX)."""
    account = _account(request, pk)
    person = get_object_or_404(Stakeholder.objects.select_related("reports_to", "owner"), pk=sid, account=account)
    if request.method == "POST":
        _require_edit(request, account)
        form = StakeholderForm(request.POST, instance=person, account=account)
        if form.is_valid():
            version = take_version(form)
            try:
                person = services.update_stakeholder(person, by=request.user, changes=form.data_for_service(), version=version)
            except ValidationError as error:
                _add_errors(form, error)
            except Conflict as c:
                conflict = conflict_context(form, c.current, {n: getattr(c.current, n) for n in StakeholderForm.Meta.fields})
                context = _stakeholder_context(request, account, c.current, form, conflict=conflict, form_id="stakeholder-form")
                return _render_stakeholder(request, context, 200 if request.htmx else 409)
            else:
                if not request.htmx:
                    messages.success(request, _("Changes to %(name)s saved.") % {"name": person.name})
                    return redirect(f"{reverse('relationships:map', args=[account.pk])}?selected={person.pk}")
                fresh = StakeholderForm(instance=person, account=account)
                context = _stakeholder_context(request, account, person, fresh, saved=_("Saved."))
                return trigger_client_event(_render_stakeholder(request, context), CHANGED)
        # Show the stored values beside the errors, not the half-applied form values.
        person = Stakeholder.objects.select_related("reports_to", "owner").get(pk=person.pk)
        return _render_stakeholder(request, _stakeholder_context(request, account, person, form), 200 if request.htmx else 400)
    form = StakeholderForm(instance=person, account=account)
    return _render_stakeholder(request, _stakeholder_context(request, account, person, form))


@require_POST
def stakeholder_remove(request: HttpRequest, pk: int, sid: int) -> HttpResponse:
    account = _account(request, pk)
    person = get_object_or_404(Stakeholder, pk=sid, account=account)
    try:
        removal = services.remove_stakeholder(person, by=request.user, version=posted_version(request))
    except Conflict as c:
        return _removal_refused(request, account, str(c), f"{reverse('relationships:map', args=[account.pk])}?selected={person.pk}")
    if removal.archived:
        text = _("%(name)s is archived: they appear in the interaction log, which stays whole. Restore them from the table.") % {"name": person.name}
    else:
        text = _("%(name)s was removed from the map.") % {"name": person.name}
    if request.htmx:
        response = render(request, "relationships/map.html#editor-note", _context(request, account, "map", note=text))
        return trigger_client_event(response, CHANGED)
    messages.success(request, text)
    return redirect("relationships:map", pk=account.pk)


@require_POST
def stakeholder_restore(request: HttpRequest, pk: int, sid: int) -> HttpResponse:
    account = _account(request, pk)
    person = get_object_or_404(Stakeholder, pk=sid, account=account)
    services.restore_stakeholder(person, by=request.user)
    messages.success(request, _("%(name)s is back on the map.") % {"name": person.name})
    return redirect(f"{reverse('relationships:map', args=[account.pk])}?selected={person.pk}")


# ---------------------------------------------------------------- influence lines


def _render_line(request, context, status=200) -> HttpResponse:
    template = "relationships/line.html#editor" if request.htmx else "relationships/line.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def line_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    _require_edit(request, account)
    initial = {name: request.GET[name] for name in ("source", "target") if request.GET.get(name)}
    form = InfluenceLineForm(request.POST or None, account=account, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            line = services.add_influence_line(account, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, _("Influence line drawn."))
                return redirect("relationships:map", pk=account.pk)
            context = _context(request, account, "map", line=line, form=InfluenceLineForm(instance=line, account=account),
                               saved=_("Influence line drawn."))
            return trigger_client_event(_render_line(request, context), CHANGED)
    status = 400 if request.method == "POST" and not request.htmx else 200
    return _render_line(request, _context(request, account, "map", line=None, form=form), status)


@require_http_methods(["GET", "POST"])
def line_edit(request: HttpRequest, pk: int, lid: int) -> HttpResponse:
    account = _account(request, pk)
    line = get_object_or_404(InfluenceLine.objects.select_related("source", "target"), pk=lid, account=account)
    form = InfluenceLineForm(request.POST or None, instance=line, account=account)
    if request.method == "POST":
        _require_edit(request, account)
        if form.is_valid():
            version = take_version(form)
            try:
                line = services.update_influence_line(line, by=request.user, changes=form.cleaned_data, version=version)
            except ValidationError as error:
                _add_errors(form, error)
            except Conflict as c:
                conflict = conflict_context(form, c.current, {n: getattr(c.current, n) for n in form.cleaned_data})
                context = _context(request, account, "map", line=c.current, form=form, conflict=conflict, form_id="line-form")
                return _render_line(request, context, 200 if request.htmx else 409)
            else:
                if not request.htmx:
                    messages.success(request, _("Influence line saved."))
                    return redirect("relationships:map", pk=account.pk)
                context = _context(request, account, "map", line=line, form=InfluenceLineForm(instance=line, account=account),
                                   saved=_("Saved."))
                return trigger_client_event(_render_line(request, context), CHANGED)
        return _render_line(request, _context(request, account, "map", line=line, form=form), 200 if request.htmx else 400)
    return _render_line(request, _context(request, account, "map", line=line, form=form))


@require_POST
def line_remove(request: HttpRequest, pk: int, lid: int) -> HttpResponse:
    account = _account(request, pk)
    line = get_object_or_404(InfluenceLine, pk=lid, account=account)
    try:
        services.remove_influence_line(line, by=request.user, version=posted_version(request))
    except Conflict as c:
        return _removal_refused(request, account, str(c), reverse("relationships:line", args=[account.pk, line.pk]))
    text = _("Influence line removed.")
    if request.htmx:
        return trigger_client_event(render(request, "relationships/map.html#editor-note", _context(request, account, "map", note=text)), CHANGED)
    messages.success(request, text)
    return redirect("relationships:map", pk=account.pk)


# ---------------------------------------------------------------- table


@require_GET
def stakeholder_table(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    today = timezone.localdate()
    filters = StakeholderFilter(request.GET)
    rows = Stakeholder.objects.none()
    if filters.is_valid():
        rows = filters.apply(Stakeholder.objects.filter(account=account), today=today).select_related("owner", "reports_to")
    if exports.wants_csv(request):
        return exports.refused(filters) if filters.errors else exports.csv_response(
            STAKEHOLDERS, rows, filename=f"stakeholders-{slugify(account.external_id) or account.pk}")
    query = request.GET.copy()
    query.pop("sort", None)
    context = _context(
        request, account, "table", filters=filters, rows=rows, query=query.urlencode(), csv_query=exports.csv_query(request),
        owners=services.team_users(account), **_datalists(account),
    )
    template = "relationships/table.html#results" if request.htmx else "relationships/table.html"
    return render(request, template, context)


# ---------------------------------------------------------------- who to win


@require_GET
def who_to_win(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    today = timezone.localdate()
    if exports.wants_csv(request):
        return exports.csv_response(WHO_TO_WIN, services.who_to_win_rows(Account.objects.filter(pk=account.pk), today=today),
                                    filename=f"who-to-win-{slugify(account.external_id) or account.pk}")
    persons = services.people(account, today=today)
    stale_days = services.stale_rule().days
    context = _context(
        request, account, "who",
        targets=analysis.who_to_win(persons, services.lines(account), today=today, stale_days=stale_days),
        stale_days=stale_days,
        without_owner=analysis.decision_makers_without_owner(persons),
        no_contact=analysis.buying_centers_without_contact(persons),
        people_count=len(persons),
        csv_query=exports.csv_query(request),
    )
    return render(request, "relationships/who_to_win.html", context)


# ---------------------------------------------------------------- interactions


def _log_context(request: HttpRequest, account: Account, **extra) -> dict:
    today = timezone.localdate()
    filters = InteractionFilter(request.GET)
    interactions = Interaction.objects.none()
    if filters.is_valid():
        interactions = filters.apply(Interaction.objects.filter(account=account), today=today)
    page = Paginator(
        interactions.select_related("next_step_owner", "created_by").prefetch_related("stakeholders", "users"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = _context(
        request, account, "log", filters=filters, page=page, query=query.urlencode(), csv_query=exports.csv_query(request),
        duplicates=services.duplicate_next_steps(account),
        planned_count=services.planned_meetings(account, today=today).count(),
        people=Stakeholder.objects.filter(account=account).order_by("name").only("name", "external_organisation"),
        participants=services.participant_users(account),
    )
    context.update(extra)
    if "form" not in context and context["can_edit"]:
        context["form"] = _new_interaction_form(request, account)
    return context


def _new_interaction_form(request: HttpRequest, account: Account, data=None) -> InteractionForm:
    initial = {"date": timezone.localdate(), "kind": "meeting"}
    if services.participant_users(account).filter(pk=request.user.pk).exists():
        initial["users"] = [request.user.pk]
    if request.GET.get("stakeholder"):
        initial["stakeholders"] = [request.GET["stakeholder"]]
    return InteractionForm(data, account=account, initial=initial)


@require_GET
def interaction_log(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    if exports.wants_csv(request):
        filters = InteractionFilter(request.GET)
        if not filters.is_valid():
            return exports.refused(filters)
        interactions = filters.apply(Interaction.objects.filter(account=account), today=timezone.localdate())
        return exports.csv_response(INTERACTIONS, interactions.select_related("next_step_owner").prefetch_related(
            "stakeholders", "users"), filename=f"interactions-{slugify(account.external_id) or account.pk}")
    context = _log_context(request, account)
    template = "relationships/interactions.html#results" if request.htmx else "relationships/interactions.html"
    return render(request, template, context)


@require_POST
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    _require_edit(request, account)
    form = _new_interaction_form(request, account, request.POST)
    if form.is_valid():
        try:
            services.log_interaction(account, by=request.user, **form.data_for_service())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, _("Interaction logged."))
                return redirect("relationships:interactions", pk=account.pk)
            context = _context(request, account, "log", form=_new_interaction_form(request, account), saved=_("Interaction logged."))
            return trigger_client_event(render(request, "relationships/interactions.html#log-form", context), CHANGED)
    if request.htmx:
        return render(request, "relationships/interactions.html#log-form", _context(request, account, "log", form=form))
    return render(request, "relationships/interactions.html", _log_context(request, account, form=form), status=400)


@require_http_methods(["GET", "POST"])
def interaction_edit(request: HttpRequest, pk: int, iid: int) -> HttpResponse:
    account = _account(request, pk)
    interaction = get_object_or_404(Interaction, pk=iid, account=account)
    form = InteractionForm(request.POST or None, instance=interaction, account=account)
    conflict = None
    if request.method == "POST":
        _require_edit(request, account)
        if form.is_valid():
            version = take_version(form)
            try:
                services.update_interaction(interaction, by=request.user, changes=form.data_for_service(), version=version)
            except ValidationError as error:
                _add_errors(form, error)
            except Conflict as c:
                interaction = c.current
                conflict = conflict_context(form, c.current, {n: getattr(c.current, n) for n in form.cleaned_data})
            else:
                messages.success(request, _("Interaction saved."))
                return redirect("relationships:interactions", pk=account.pk)
    context = _context(request, account, "log", interaction=interaction, form=form, conflict=conflict, form_id="interaction-form",
                       history=services.change_log(account, interaction=interaction))
    return render(request, "relationships/interaction.html", context, status=409 if conflict else 400 if form.errors else 200)


@require_POST
def interaction_remove(request: HttpRequest, pk: int, iid: int) -> HttpResponse:
    account = _account(request, pk)
    interaction = get_object_or_404(Interaction, pk=iid, account=account)
    try:
        services.remove_interaction(interaction, by=request.user, version=posted_version(request))
    except Conflict as c:
        return _removal_refused(request, account, str(c), reverse("relationships:interaction", args=[account.pk, interaction.pk]))
    messages.success(request, _("Interaction removed."))
    return redirect("relationships:interactions", pk=account.pk)


@require_GET
def meetings_ics(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    text = services.meetings_calendar(account, host=request.get_host().split(":")[0] or "keyplan")
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(account.name) or "account"}-meetings.ics"'
    return response


# ---------------------------------------------------------------- the stale rule


@require_http_methods(["GET", "POST"])
def stale_settings(request: HttpRequest) -> HttpResponse:
    """Whom the stale alerts watch and after how many days: everyone reads it, a KAM lead changes it."""
    current = services.relationship_settings()
    may_change = services.can_configure(request.user)
    initial = {"days": current.stale_after_days, "powers": current.stale_powers, "roles": current.stale_roles,
               "key_contacts": current.stale_key_contacts}
    form = StaleSettingsForm(initial=initial)
    status = 200
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        form = StaleSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_stale_settings(by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Stale alert settings saved."))
                return redirect("relationships:settings")
        status = 422
    if not may_change:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "relationships/settings.html",
                  {"form": form, "may_change": may_change, "rule": current.rule}, status=status)


# ---------------------------------------------------------------- the portfolio view


@require_GET
def portfolio(request: HttpRequest) -> HttpResponse:
    """Across the accounts the user sees: stale relationships, who to win on key accounts, their open next steps."""
    today = timezone.localdate()
    days = _days(request, services.stale_rule())
    visible = Account.objects.visible_to(request.user).active()
    stale = services.stale_alerts(visible, today=today, days=days)
    if exports.wants_csv(request):
        if request.GET.get("list") == "who-to-win":  # the boards: every stakeholder to win on every key account
            return exports.csv_response(WHO_TO_WIN, services.who_to_win_rows(visible.filter(tier=Tier.KEY), today=today))
        return exports.csv_response(STALE, stale)
    key_accounts = list(visible.filter(tier=Tier.KEY).order_by("name")[:PORTFOLIO_ACCOUNTS])
    persons = services.people_by_account(key_accounts, today=today)
    lines = services.lines_by_account(key_accounts)
    boards = []
    for account in key_accounts:
        boards.append({
            "account": account,
            "people": len(persons[account.pk]),
            "targets": analysis.who_to_win(persons[account.pk], lines[account.pk], today=today, stale_days=days)[:3],
        })
    my_steps = (
        Interaction.objects.filter(account__in=visible, next_step_owner=request.user, next_step_done=False)
        .exclude(next_step="").select_related("account").order_by(
            "next_step_due", "date", "pk")[:20]
    )
    context = {
        "today": today,
        "days": days,
        "stale": stale[:PORTFOLIO_STALE],
        "stale_count": len(stale),
        "csv_query": exports.csv_query(request),
        "boards_csv_query": exports.csv_query(request) + "&list=who-to-win",
        "boards": [b for b in boards if b["people"]],
        "unmapped": [b["account"] for b in boards if not b["people"]],
        "key_total": visible.filter(tier=Tier.KEY).count(),
        "shown": len(key_accounts),
        "my_steps": my_steps,
        "rule": services.stale_rule(),
    }
    return render(request, "relationships/portfolio.html", context)
