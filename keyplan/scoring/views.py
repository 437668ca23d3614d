"""Selection pages: parse, authorize, call a service or an analysis, render."""

import math

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.core import exports
from keyplan.core.versions import Conflict, posted_version
from keyplan.scoring import charts, services
from keyplan.scoring.analysis import MAPPINGS, QUADRANT_SPLIT, QUADRANTS
from keyplan.scoring.forms import (
    SCORE_CHOICES,
    CriterionForm,
    DecideForm,
    DecisionForm,
    MatrixFilter,
    ReviewForm,
    RoundForm,
    ScoreForm,
    SettingsForm,
)
from keyplan.scoring.models import (
    Criterion,
    Score,
    CriterionGroup,
    CriterionSource,
    DecisionAction,
    Proposal,
    ProposalAction,
    Review,
    SelectionRound,
)
from keyplan.scoring.tables import QUADRANT_LABELS, REVIEWS, ROUNDS, in_chunks, matrix_table

PAGE_SIZE = 50
CHANGED = "scoresChanged"  # HTMX event: the matrix reloads its rows after a score is saved


def _require_configure(request: HttpRequest) -> None:
    if not services.can_configure(request.user):
        raise PermissionDenied


def _errors(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return " ".join(error.messages)


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


# ---------------------------------------------------------------- the matrix


def _matrix_rows(request: HttpRequest, filters: MatrixFilter) -> tuple[list[Criterion], services.RankingIndex, list[int]]:
    """The matrix's rows in the order asked for, as positions in the ranking kept between requests.

    Only what a filter or a sort needs is read from the database (and the rows on the page, by
    ``_page_rows``); the rest works on the ranking's arrays, without a dict per account.
    """
    index = services.ranking_index()
    criteria = list(Criterion.objects.active())
    data = filters.cleaned_data
    ids, ranked_count = index.ids, index.ranked
    positions = list(range(len(ids)))
    visible = Account.objects.visible_to(request.user).active()
    narrowed = not request.user.sees_all_accounts
    if data.get("q"):
        q = data["q"].strip()
        visible = visible.filter(name__icontains=q) | visible.filter(external_id__icontains=q)
        narrowed = True
    for name in ("tier", "industry"):
        if data.get(name):
            visible = visible.filter(**{name: data[name]})
            narrowed = True
    if data.get("kam"):
        visible = visible.filter(pk__in=TeamMember.objects.filter(role=TeamRole.KAM, user_id=data["kam"]).values("account_id"))
        narrowed = True
    if narrowed:
        keep = set(visible.values_list("pk", flat=True))
        positions = [p for p in positions if ids[p] in keep]
    quadrant = data.get("quadrant")
    if quadrant == "unranked":
        positions = [p for p in positions if p >= ranked_count]
    elif quadrant:
        high_growth, high_harmony = next(key for key, (name, _label) in QUADRANTS.items() if name == quadrant)
        growth, harmony = index.growth, index.harmony
        positions = [p for p in positions if p < ranked_count and (growth[p] >= QUADRANT_SPLIT) == high_growth
                     and (harmony[p] >= QUADRANT_SPLIT) == high_harmony]
    sort = data.get("sort") or "rank"
    descending, name = sort.startswith("-"), sort.lstrip("-")
    if name.startswith("c") and name[1:].isdigit():
        values = dict(Score.objects.filter(criterion_id=int(name[1:]), criterion__archived_at__isnull=True)
                      .values_list("account_id", "value"))
        # Best first; "-" for worst first; accounts without a score last either way (rank order among equals).
        scored = [p for p in positions if ids[p] in values]
        scored.sort(key=lambda p: values[ids[p]] if descending else -values[ids[p]])
        positions = scored + [p for p in positions if ids[p] not in values]
    elif name == "name":
        chosen = Account.objects.filter(pk__in=[ids[p] for p in positions]) if len(positions) < 5000 else Account.objects.active()
        names = dict(chosen.values_list("pk", "name"))
        positions.sort(key=lambda p: (names.get(ids[p], ""), ids[p]), reverse=descending)
    elif name in ("total", "growth", "harmony"):
        numbers = {"total": index.total, "growth": index.growth, "harmony": index.harmony}[name]
        present = [p for p in positions if not math.isnan(numbers[p])]
        # Scores read best first: "total" sorts high to low, "-total" low to high.
        present.sort(key=numbers.__getitem__, reverse=not descending)
        positions = present + [p for p in positions if math.isnan(numbers[p])]
    elif name == "rank" and descending:
        positions = [p for p in reversed(positions) if p < ranked_count] + [p for p in positions if p >= ranked_count]
    return criteria, index, positions


def _page_rows(index: services.RankingIndex, positions: list[int]) -> list[dict]:
    return services.matrix_rows(index, positions)


@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    filters = MatrixFilter(request.GET)
    criteria, index, positions = ([], None, [])
    if filters.is_valid():
        criteria, index, positions = _matrix_rows(request, filters)
    if exports.wants_csv(request):  # every row of the filtered, sorted matrix, read a chunk at a time
        if filters.errors:
            return exports.refused(filters)
        return exports.csv_response(matrix_table(criteria), in_chunks(positions, lambda chunk: _page_rows(index, chunk)))
    page = Paginator(positions, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _page_rows(index, list(page.object_list)) if index is not None else []
    services.attach_score_info(page.object_list, criteria)
    query = request.GET.copy()
    query.pop("page", None)
    sortless = query.copy()
    sortless.pop("sort", None)
    context = {
        "filters": filters, "page": page, "query": query.urlencode(), "sortless": sortless.urlencode(),
        "csv_query": exports.csv_query(request),
        "sort": filters.cleaned_data.get("sort") or "rank" if filters.is_valid() else "rank",
        "growth": [c for c in criteria if c.group == CriterionGroup.GROWTH],
        "harmony": [c for c in criteria if c.group == CriterionGroup.HARMONY],
        "can_score": not request.user.is_read_only, "prefix": reverse("scoring:matrix"),
        "can_configure": services.can_configure(request.user),
        "warnings": services.configuration_warnings(),
        "capacity": services.program_capacity(),
        "tab": "matrix",
    }
    template = "scoring/matrix.html#results" if request.htmx else "scoring/matrix.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def score_cell(request: HttpRequest, account_pk: int, criterion_pk: int) -> HttpResponse:
    """Inline scoring: GET gives the editor of one cell, POST saves it and gives the cell back."""
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_pk)
    criterion = get_object_or_404(Criterion.objects.active(), pk=criterion_pk)
    score = criterion.scores.filter(account=account).select_related("scored_by").first()
    cell = {"account": account, "criterion": criterion, "score": score, "value": score.value if score else None,
            "can_score": True}
    if request.method == "GET" and request.GET.get("cancel"):
        return render(request, "scoring/matrix.html#cell", cell)
    if not services.can_score(request.user, account):
        raise PermissionDenied
    form = ScoreForm(request.POST or None, initial={"value": str(score.value) if score else "", "note": score.note if score else ""})
    editor = {**cell, "form": form, "choices": SCORE_CHOICES}
    if request.method == "POST":
        if form.is_valid():
            try:
                score = services.set_score(account, by=request.user, criterion=criterion, value=form.cleaned_data["value"],
                                           note=form.cleaned_data["note"])
            except ValidationError as error:
                _add_errors(form, error)
            else:
                if not request.htmx:
                    return redirect(request.POST.get("next") or reverse("scoring:matrix"))
                response = render(request, "scoring/matrix.html#cell", {**cell, "score": score, "value": score.value})
                return trigger_client_event(response, CHANGED)
        status = 200 if request.htmx else 400
        return render(request, "scoring/matrix.html#cell-editor", editor, status=status)
    return render(request, "scoring/matrix.html#cell-editor", editor)


@require_GET
def chart(request: HttpRequest) -> HttpResponse:
    from keyplan.revenue import portfolio

    index = services.ranking_index()
    ranked_ids = list(index.ids[:index.ranked])
    visible = Account.objects.visible_to(request.user).active()
    if not request.user.sees_all_accounts:
        keep = set(visible.values_list("pk", flat=True))
        ranked_ids = [i for i in ranked_ids if i in keep]
    # The ranked accounts' names (by id for a few, all active ones at once for many: one query either way).
    chosen = visible.filter(pk__in=ranked_ids) if len(ranked_ids) < 5000 else visible
    details = {pk: (ext, name, tier) for pk, ext, name, tier in chosen.values_list("pk", "external_id", "name", "tier")}
    revenue = portfolio.revenue_by_account(portfolio.Scope(request.user), portfolio.Period.last_months(12))
    by_ext = dict(zip(revenue["external_id"].to_list(), revenue["revenue"].to_list(), strict=True))
    position = {pk: i for i, pk in enumerate(index.ids[:index.ranked])}
    rows = [index.row(position[pk]) for pk in ranked_ids if pk in details]
    points = [{"name": details[r["id"]][1], "growth": r["growth_total"], "harmony": r["harmony_total"],
               "revenue": round(by_ext.get(details[r["id"]][0], 0.0), 2), "tier": details[r["id"]][2],
               "url": reverse("accounts:detail", args=[r["id"]])} for r in rows]
    labels = {"growth": _("Growth potential"), "harmony": _("Harmony"), "revenue": _("Revenue, last 12 months"),
              **{key: str(label) for key, label in QUADRANT_LABELS.items()}}
    figure = charts.bubble(points, tiers=dict(Tier.choices), labels=labels, currency=portfolio.reporting_currency())
    counts = {}
    for r in rows:
        counts[r["quadrant"]] = counts.get(r["quadrant"], 0) + 1
    unranked = list(index.ids[index.ranked:])
    if not request.user.sees_all_accounts:
        unranked = [i for i in unranked if i in keep]
    return render(request, "scoring/chart.html", {
        "figure": figure, "points": points, "counts": counts, "tab": "chart", "unranked": len(unranked),
    })


# ---------------------------------------------------------------- criteria


def _criteria_context(request, **extra) -> dict:
    active = list(Criterion.objects.active())
    used = set(Criterion.objects.filter(rounds__isnull=False).values_list("pk", flat=True))
    names = {c.name.lower() for c in active}
    context = {
        "groups": [(value, label, [c for c in active if c.group == value]) for value, label in CriterionGroup.choices],
        "archived": Criterion.objects.filter(archived_at__isnull=False),
        "used": used,
        "warnings": services.configuration_warnings(),
        "suggested": [{**s, "name": _(s["name"]), "description": _(s["description"])} for s in services.SUGGESTED
                      if s["name"].lower() not in names and _(s["name"]).lower() not in names],
        "mappings": [(CriterionSource(k).label, v) for k, v in MAPPINGS.items()],
        "form": CriterionForm(),
        "can_configure": services.can_configure(request.user),
        "stale": services.stale_criteria() if services.can_configure(request.user) else [],
        "tab": "criteria",
        "group_labels": dict(CriterionGroup.choices),
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
def criteria(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _require_configure(request)
        form = CriterionForm(request.POST)
        if form.is_valid():
            try:
                criterion = services.create_criterion(by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Criterion %(name)s added.") % {"name": criterion.name})
                return redirect("scoring:criteria")
        return render(request, "scoring/criteria.html", _criteria_context(request, form=form), status=400)
    return render(request, "scoring/criteria.html", _criteria_context(request))


@require_POST
def criterion_suggested(request: HttpRequest) -> HttpResponse:
    _require_configure(request)
    try:
        criterion = services.add_suggested_criterion(by=request.user, key=request.POST.get("key", ""),
                                                     weight=request.POST.get("weight") or 20)
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        messages.success(request, _("Criterion %(name)s added.") % {"name": criterion.name})
    return redirect("scoring:criteria")


@require_POST
def criterion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_configure(request)
    criterion = get_object_or_404(Criterion, pk=pk)
    changes = {k: request.POST[k] for k in ("name", "weight", "description", "group") if k in request.POST}
    try:
        services.update_criterion(criterion, by=request.user, changes=changes, version=posted_version(request))
    except ValidationError as error:
        messages.error(request, _("%(name)s was not changed: %(errors)s") % {"name": criterion.name, "errors": _errors(error)})
    except Conflict as conflict:
        # The list shows the saved values now; the message says why the typed ones were not kept.
        messages.error(request, _("%(name)s was not changed: %(errors)s") % {"name": criterion.name, "errors": conflict})
    else:
        messages.success(request, _("%(name)s saved.") % {"name": changes.get("name", criterion.name)})
    return redirect("scoring:criteria")


@require_http_methods(["GET", "POST"])
def criterion_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation and says what happens to the scores; POST removes."""
    _require_configure(request)
    criterion = get_object_or_404(Criterion, pk=pk)
    if request.method == "GET":
        return render(request, "scoring/criterion_remove.html", {
            "criterion": criterion, "impact": services.removal_impact(criterion), "tab": "criteria"})
    try:
        outcome = services.remove_criterion(criterion, by=request.user, version=posted_version(request))
    except Conflict as conflict:
        messages.error(request, _("%(name)s was not changed: %(errors)s") % {"name": criterion.name, "errors": conflict})
        return redirect("scoring:criteria")
    if outcome == "archived":
        messages.success(request, _("%(name)s is archived: past rounds used it and keep their numbers.") % {"name": criterion.name})
    else:
        messages.success(request, _("%(name)s deleted.") % {"name": criterion.name})
    return redirect("scoring:criteria")


@require_POST
def criterion_restore(request: HttpRequest, pk: int) -> HttpResponse:
    _require_configure(request)
    try:
        services.restore_criterion(get_object_or_404(Criterion, pk=pk), by=request.user)
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect("scoring:criteria")


@require_POST
def criteria_refresh(request: HttpRequest) -> HttpResponse:
    _require_configure(request)
    result = services.refresh_computed_scores(by=request.user)
    messages.success(request, _("Computed scores refreshed: %(c)s new, %(u)s changed, %(r)s removed.")
                     % {"c": result.created, "u": result.updated, "r": result.removed})
    for name, message in (result.skipped or {}).items():
        messages.warning(request, f"{name}: {message}")
    return redirect("scoring:criteria")


# ---------------------------------------------------------------- rounds and proposals


@require_http_methods(["GET", "POST"])
def rounds(request: HttpRequest) -> HttpResponse:
    form = RoundForm(request.POST or None, initial={"name": f"FY{timezone.localdate().year}"})
    if request.method == "POST":
        _require_configure(request)
        if form.is_valid():
            try:
                selection_round = services.create_round(by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Round %(name)s taken: its scores are frozen.") % {"name": selection_round.name})
                return redirect("scoring:round", pk=selection_round.pk)
    capacity = services.program_capacity()
    if request.method == "GET" and exports.wants_csv(request):
        return exports.csv_response(ROUNDS, SelectionRound.objects.select_related("created_by").order_by("-date", "-pk"))
    context = {
        "form": form, "rounds": SelectionRound.objects.select_related("created_by"), "tab": "rounds",
        "csv_query": exports.csv_query(request),
        "selection": services.ranked_selection(capacity=capacity.total), "capacity": capacity,
        "can_configure": services.can_configure(request.user),
    }
    return render(request, "scoring/rounds.html", context, status=400 if form.errors else 200)


def _round_context(request, selection_round: SelectionRound, **extra) -> dict:
    visible = set(Account.objects.visible_to(request.user).values_list("pk", flat=True))
    proposals = [p for p in selection_round.proposals.select_related("account", "decided_by") if p.account_id in visible]
    context = {
        "round": selection_round, "summary": services.round_summary(selection_round),
        "promote": [p for p in proposals if p.action == ProposalAction.PROMOTE],
        "demote": [p for p in proposals if p.action == ProposalAction.DEMOTE],
        "criteria": selection_round.criteria.all(),
        "top": selection_round.accounts.filter(account_id__in=visible, rank__isnull=False).select_related("account")[:selection_round.capacity + 10],
        "can_configure": services.can_configure(request.user), "tab": "rounds",
    }
    context.update(extra)
    return context


@require_GET
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    selection_round = get_object_or_404(SelectionRound, pk=pk)
    return render(request, "scoring/round.html", _round_context(request, selection_round))


@require_POST
def proposal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    _require_configure(request)
    proposal = get_object_or_404(Proposal.objects.select_related("round", "account"), pk=pk)
    form = DecideForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "accept":
                services.accept_proposal(proposal, by=request.user, reason=data["reason"], effective_date=data["effective_date"])
            else:
                services.reject_proposal(proposal, by=request.user, reason=data["reason"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            proposal.refresh_from_db()
            if request.htmx:
                return render(request, "scoring/round.html#proposal", {"p": proposal, "can_configure": True})
            return redirect("scoring:round", pk=proposal.round_id)
    if request.htmx:
        return render(request, "scoring/round.html#proposal", {"p": proposal, "can_configure": True, "form": form})
    messages.error(request, _("%(name)s: %(errors)s") % {
        "name": proposal.account.name, "errors": " ".join(" ".join(v) for v in form.errors.values())})
    return redirect("scoring:round", pk=proposal.round_id)


# ---------------------------------------------------------------- reviews


@require_http_methods(["GET", "POST"])
def reviews(request: HttpRequest) -> HttpResponse:
    settings_ = services.scoring_settings()
    review_form = ReviewForm()
    settings_form = SettingsForm(initial={"review_cadence": settings_.review_cadence,
                                          "team_cost_per_member": settings_.team_cost_per_member})
    if request.method == "POST":
        _require_configure(request)
        if request.POST.get("settings"):
            settings_form = SettingsForm(request.POST)
            if settings_form.is_valid():
                try:
                    services.update_settings(by=request.user, **settings_form.cleaned_data)
                except ValidationError as error:
                    _add_errors(settings_form, error)
                else:
                    messages.success(request, _("Review settings saved."))
                    return redirect("scoring:reviews")
        else:
            review_form = ReviewForm(request.POST)
            if review_form.is_valid():
                review = services.run_review(by=request.user, as_of=review_form.cleaned_data["as_of"],
                                             selection_round=review_form.cleaned_data["round"],
                                             notes=review_form.cleaned_data["notes"])
                return redirect("scoring:review", pk=review.pk)
    if request.method == "GET" and exports.wants_csv(request):
        return exports.csv_response(REVIEWS, Review.objects.select_related("round", "created_by").prefetch_related("decisions"))
    context = {
        "csv_query": exports.csv_query(request),
        "reviews": Review.objects.select_related("round", "created_by"), "review_form": review_form,
        "settings_form": settings_form, "settings": settings_, "next_due": services.next_review_due(),
        "today": timezone.localdate(), "can_configure": services.can_configure(request.user), "tab": "reviews",
    }
    status = 400 if (review_form.errors or settings_form.errors) else 200
    return render(request, "scoring/reviews.html", context, status=status)


@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(Review.objects.select_related("round", "created_by"), pk=pk)
    if not request.user.sees_all_accounts:
        raise Http404  # reviews judge the whole portfolio: leads, admins and viewers read them
    form = DecisionForm()
    if request.method == "POST":
        _require_configure(request)
        form = DecisionForm(request.POST)
        if form.is_valid():
            account = get_object_or_404(Account, pk=form.cleaned_data["account"])
            try:
                services.record_decision(review, by=request.user, account=account, action=form.cleaned_data["action"],
                                         note=form.cleaned_data["note"], effective_date=form.cleaned_data["effective_date"])
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Decision on %(name)s recorded.") % {"name": account.name})
                return redirect("scoring:review", pk=review.pk)
        messages.error(request, _("The decision was not recorded: %(errors)s")
                       % {"errors": " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())})
    findings = review.findings
    figure = None
    if findings.get("payoff"):
        figure = charts.payoff(findings["payoff"], labels={
            "growth": _("Revenue growth since"), "margin": _("Margin since"), "overall": _("Overall total"),
            "rho": _("Rank correlation (Spearman ρ)")})
    decided = {d.account_id for d in review.decisions.all()}
    labels = dict(DecisionAction.choices)
    rising_actions = [(a, labels[a]) for a in (DecisionAction.PROMOTE, DecisionAction.WATCH, DecisionAction.KEEP)]
    under_actions = [(a, labels[a]) for a in (DecisionAction.DEMOTE, DecisionAction.KEEP, DecisionAction.WATCH)]
    context = {
        "review": review, "findings": findings, "figure": figure, "form": form, "decided": decided,
        "decisions": review.decisions.select_related("account", "decided_by"),
        "rising_actions": rising_actions, "under_actions": under_actions,
        "can_configure": services.can_configure(request.user), "tab": "reviews", "today": timezone.localdate(),
    }
    return render(request, "scoring/review.html", context)


# ---------------------------------------------------------------- the account page


@require_GET
def account_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The selection card of an account's page, fetched by the page itself (accounts do not import scoring)."""
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    context = {"account": account, **services.account_card(account), "can_score": services.can_score(request.user, account)}
    return render(request, "scoring/account_card.html", context)
