"""/api/v1/accounts/{id}/plans/…: account plans, their sections, goals and actions, and /plans/ across the portfolio.

The same services as the pages. An account outside the user's reach is a 404; a write the user
may not make is a 403; bad input is a 422 naming the field; a PATCH with a stale ``version`` is
a 409 carrying the current version and values, and nothing is written.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from keyplan.accounts.models import Account
from keyplan.accounts.schemas import LogEntryOut
from keyplan.api.errors import CONFLICT_SHAPES
from keyplan.api.gates import gate, requires
from keyplan.api.lookups import active_user, require_edit
from keyplan.core.schemas import InputSchema, choice
from keyplan.core.pagination import MAX_OFFSET, LimitOffset
from keyplan.planning import charter, services
from keyplan.planning.models import (
    AccountPlan,
    Action,
    Goal,
    Opportunity,
    PlanSection,
    PlanState,
    ProgramCharter,
    RaciArea,
    RaciRole,
    RolloutStep,
    SectionKey,
    WhitespaceCell,
)
from keyplan.planning.schemas import (
    ActionIn,
    ActionOut,
    ActionPatch,
    CellIn,
    CharterOut,
    CharterPatch,
    CharterTextOut,
    CharterVersionOut,
    ConflictOut,
    DeleteIn,
    GoalDetailOut,
    GoalIn,
    GoalOut,
    GoalPatch,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    PlanDetailOut,
    PlanIn,
    PlanOut,
    PlanPatch,
    PortfolioPage,
    PlanStateIn,
    RestoreIn,
    PlanReviewIn,
    RolloutStepIn,
    RolloutStepOut,
    RolloutStepPatch,
    SectionOut,
    SectionPatch,
    SectionVersionOut,
    WhitespaceCellOut,
    WhitespaceOut,
)

router = Router(tags=["plans"])
CHARTER = requires(charter.can_edit, "Only KAM leads and admins change the program charter.")
ROLLOUT = requires(charter.can_edit, "KAM leads and admins change the rollout.")
PLANS = "/accounts/{account_id}/plans/"
PLAN = PLANS + "{plan_id}"


def _account(request, account_id: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)


def _plan(request, account_id: int, plan_id: int) -> AccountPlan:
    return get_object_or_404(AccountPlan.objects.select_related("account"), pk=plan_id,
                             account=_account(request, account_id))


def _goal(request, account_id: int, plan_id: int, goal_id: int) -> Goal:
    return get_object_or_404(Goal.objects.select_related("plan__account"), pk=goal_id, plan=_plan(request, account_id, plan_id))


def _action(request, account_id: int, plan_id: int, action_id: int) -> Action:
    return get_object_or_404(Action.objects.select_related("plan__account", "goal"), pk=action_id,
                             plan=_plan(request, account_id, plan_id))


# A stale version is answered by the API's one Conflict handler (409 with the row as stored now).
for _model, _shape in {AccountPlan: PlanOut, PlanSection: SectionOut, Goal: GoalOut, Action: ActionOut,
                       Opportunity: OpportunityOut, WhitespaceCell: WhitespaceCellOut, ProgramCharter: CharterTextOut,
                       RolloutStep: RolloutStepOut}.items():
    CONFLICT_SHAPES[_model] = lambda row, shape=_shape: shape.from_orm(row).model_dump(mode="json")



def _goal_of(plan: AccountPlan, pk: int | None) -> Goal:
    if pk is None:
        raise ValidationError({"goal_id": "Every action serves a goal: give the goal's id."})
    goal = plan.goals.filter(pk=pk).first()
    if goal is None:
        raise ValidationError({"goal_id": f"This plan has no goal with id {pk}."})
    return goal


def _with_owner(data: dict) -> dict:
    """owner_id in the body, the owner (a user) for the services."""
    if "owner_id" in data:
        data["owner"] = active_user(data.pop("owner_id"), "owner_id")
    return data


def _action_data(request, plan: AccountPlan, data: dict) -> dict:
    require_edit(request.user, plan.account)  # a refusal first, before the body's ids are looked up
    _with_owner(data)
    if "goal_id" in data:
        data["goal"] = _goal_of(plan, data.pop("goal_id"))
    if "stakeholder_id" in data:
        stakeholder = services.find_stakeholder(request.user, data.pop("stakeholder_id"))
        if stakeholder is not None and stakeholder.account_id != plan.account_id:
            raise ValidationError({"stakeholder_id": f"{stakeholder.name} is a stakeholder of another account."})
        data["stakeholder"] = stakeholder
    if "opportunity_id" in data:
        pk = data.pop("opportunity_id")
        data["opportunity"] = None if pk is None else plan.account.opportunities.filter(pk=pk).first()
        if pk is not None and data["opportunity"] is None:
            raise ValidationError({"opportunity_id": f"This account has no opportunity with id {pk}."})
    return data


def _renamed(error: ValidationError, names: dict[str, str]) -> ValidationError:
    """The services name model fields (owner, goal); the API's bodies name them owner_id, goal_id."""
    if not hasattr(error, "error_dict"):
        return error
    return ValidationError({names.get(k, k): v for k, v in error.error_dict.items()})


API_NAMES = {"owner": "owner_id", "stakeholder": "stakeholder_id", "goal": "goal_id", "opportunity": "opportunity_id"}


# ---------------------------------------------------------------- plans


class PortfolioQuery(Schema):
    kam: int | None = Field(None, description="user id of a key account manager: only their key accounts")
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get("/plans/", response=PortfolioPage, summary="Every key account with its current plan and the plan's quality, not living first")
def portfolio(request, query: Query[PortfolioQuery]):
    rows = services.portfolio(request.user, kam=query.kam)
    return {"items": [services.portfolio_dict(row) for row in rows[query.offset:query.offset + query.limit]],
            "count": len(rows)}


@router.get(PLANS, response=list[PlanOut], summary="An account's plans, newest period first")
@paginate(LimitOffset)
def list_plans(request, account_id: int):
    return _account(request, account_id).plans.order_by("-starts", "-pk")


@router.post(PLANS, response={201: PlanOut}, summary="Start a plan for a period (a copy of the last plan, open goals and actions carried over)")
def create_plan(request, account_id: int, payload: PlanIn):
    account = _account(request, account_id)
    return Status(201, services.create_plan(account, by=request.user, **payload.dict()))


def detail(view: services.PlanView) -> dict:
    """The whole plan as the API and the CLI serve it."""
    plan = view.plan
    goals = []
    for g in view.goals:
        g.goal.measured, g.goal.progress, g.goal.overdue = g.current, g.progress, g.overdue
        goals.append(g.goal)
    rel = view.relationships
    cover = rel.coverage
    return {
        **PlanOut.from_orm(plan).model_dump(),
        "sections": [view.sections[key] for key in SectionKey.values],
        "swot": view.sections["swot"].content,
        "goals": goals,
        "relationships": {
            "summary": view.sections["relationships"].content.get("summary", ""),
            "stakeholders": rel.people,
            "coverage": {"decision_makers": cover.decision_makers, "covered": cover.covered, "in_contact": cover.in_contact,
                         "supporters": cover.supporters, "critics": cover.critics, "neutral": cover.neutral,
                         "uncovered": [p.as_dict() for p in cover.uncovered]},
            "who_to_win": [t.as_dict() for t in rel.targets],
            "stale": [{"stakeholder": s.person.as_dict(), "days_since": s.days_since} for s in rel.stale],
        },
        "value": view.value.as_dict(),
        "quality": view.quality.as_dict(),
        "opportunities": view.opportunities,
        "pipeline": view.pipeline.as_dict(),
    }


@router.get(PLAN, response=PlanDetailOut, summary="The whole plan: sections, SWOT, goals, actions, computed values, quality")
def get_plan(request, account_id: int, plan_id: int):
    return detail(services.plan_view(_plan(request, account_id, plan_id)))


@router.patch(PLAN, response={200: PlanOut, 409: ConflictOut}, summary="Change the plan's period, dates or summary")
def patch_plan(request, account_id: int, plan_id: int, payload: PlanPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.update_plan(_plan(request, account_id, plan_id), by=request.user, version=version, changes=data)


@router.post(PLAN + "/state", response={200: PlanOut, 409: ConflictOut}, summary="Activate or archive the plan")
def set_state(request, account_id: int, plan_id: int, payload: PlanStateIn):
    plan = _plan(request, account_id, plan_id)
    require_edit(request.user, plan.account)
    if payload.state == PlanState.ACTIVE:
        return services.activate_plan(plan, by=request.user, version=payload.version)
    if payload.state == PlanState.ARCHIVED:
        return services.archive_plan(plan, by=request.user, version=payload.version)
    raise ValidationError({"state": "Choose active or archived (a plan never goes back to draft)."})


@router.post(PLAN + "/review", response={200: PlanOut, 409: ConflictOut}, summary="Record that the plan was reviewed")
def review(request, account_id: int, plan_id: int, payload: PlanReviewIn):
    return services.mark_reviewed(_plan(request, account_id, plan_id), by=request.user, version=payload.version, on=payload.on)


@router.get(PLAN + "/history", response=list[LogEntryOut], summary="Every change to the plan, its sections, goals and actions")
@paginate(LimitOffset)
def plan_history(request, account_id: int, plan_id: int):
    return services.change_log(_plan(request, account_id, plan_id))


def _svg(svg: str) -> HttpResponse:
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, content_type="image/svg+xml; charset=utf-8")


@router.get(PLAN + "/timeline.svg", summary="The plan's goals and actions as a self-contained SVG Gantt chart",
            response={200: str}, openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {}}}}})
def plan_timeline(request, account_id: int, plan_id: int):
    plan = _plan(request, account_id, plan_id)
    return _svg(services.render_timeline([plan], title=f"{plan.account.name} · {plan.period}"))


@router.get("/plans/timeline.svg", summary="The current plans of the key accounts (of one KAM) as one SVG Gantt chart",
            response={200: str}, openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {}}}}})
def portfolio_timeline(request, kam: int | None = None):
    return _svg(services.render_timeline(services.kam_plans(request.user, kam=kam), title="Timeline of the key accounts",
                                        headings=True))


# ---------------------------------------------------------------- sections


def _section_key(key: str) -> str:
    if key not in SectionKey.values:
        raise ValidationError({"key": f"Choose one of: {', '.join(SectionKey.values)}."})
    return key


@router.get(PLAN + "/sections/{key}", response=SectionOut, summary="One section of the plan")
def get_section(request, account_id: int, plan_id: int, key: str):
    return services.section(_plan(request, account_id, plan_id), _section_key(key))


@router.patch(PLAN + "/sections/{key}", response={200: SectionOut, 409: ConflictOut}, summary="Change a section")
def patch_section(request, account_id: int, plan_id: int, key: str, payload: SectionPatch):
    plan = _plan(request, account_id, plan_id)
    row = services.section(plan, _section_key(key))
    if payload.content is None:  # nothing to change
        return row
    content = {**row.content, **payload.content}
    return services.update_section(plan, key, by=request.user, version=payload.version, content=content)


@router.get(PLAN + "/sections/{key}/versions", response=list[SectionVersionOut], summary="The section's saved versions, newest first")
@paginate(LimitOffset)
def section_versions(request, account_id: int, plan_id: int, key: str):
    return services.section_versions(services.section(_plan(request, account_id, plan_id), _section_key(key)))


@router.post(PLAN + "/sections/{key}/restore", response={200: SectionOut, 409: ConflictOut}, summary="Restore an earlier version of a section")
def restore_section(request, account_id: int, plan_id: int, key: str, payload: RestoreIn):
    row = services.section(_plan(request, account_id, plan_id), _section_key(key))
    return services.restore_section(row, by=request.user, history_id=payload.history_id, version=payload.version)


# ---------------------------------------------------------------- goals


@router.get(PLAN + "/goals/", response=list[GoalDetailOut], summary="The plan's goals with their actions and measured values")
@paginate(LimitOffset)
def list_goals(request, account_id: int, plan_id: int):
    return detail(services.plan_view(_plan(request, account_id, plan_id)))["goals"]


@router.post(PLAN + "/goals/", response={201: GoalOut}, summary="Add a goal")
def add_goal(request, account_id: int, plan_id: int, payload: GoalIn):
    plan = _plan(request, account_id, plan_id)
    require_edit(request.user, plan.account)
    try:
        goal = services.add_goal(plan, by=request.user, data=_with_owner(payload.dict()))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None
    return Status(201, goal)


@router.get(PLAN + "/goals/{goal_id}", response=GoalOut, summary="One goal")
def get_goal(request, account_id: int, plan_id: int, goal_id: int):
    return _goal(request, account_id, plan_id, goal_id)


@router.patch(PLAN + "/goals/{goal_id}", response={200: GoalOut, 409: ConflictOut}, summary="Change a goal")
def patch_goal(request, account_id: int, plan_id: int, goal_id: int, payload: GoalPatch):
    goal = _goal(request, account_id, plan_id, goal_id)
    require_edit(request.user, goal.plan.account)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    try:
        return services.update_goal(goal, by=request.user, version=version, changes=_with_owner(data))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None


@router.delete(PLAN + "/goals/{goal_id}", response={204: None, 409: ConflictOut}, summary="Remove a goal and its actions")
def remove_goal(request, account_id: int, plan_id: int, goal_id: int, payload: Query[DeleteIn]):
    services.remove_goal(_goal(request, account_id, plan_id, goal_id), by=request.user, version=payload.version)
    return Status(204, None)


# ---------------------------------------------------------------- actions


@router.post(PLAN + "/actions/", response={201: ActionOut}, summary="Add an action under a goal")
def add_action(request, account_id: int, plan_id: int, payload: ActionIn):
    plan = _plan(request, account_id, plan_id)
    data = payload.dict()
    try:
        data = _action_data(request, plan, data)
        action = services.add_action(data.pop("goal"), by=request.user, data=data)
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None
    return Status(201, action)


@router.get(PLAN + "/actions/{action_id}", response=ActionOut, summary="One action")
def get_action(request, account_id: int, plan_id: int, action_id: int):
    return _action(request, account_id, plan_id, action_id)


@router.patch(PLAN + "/actions/{action_id}", response={200: ActionOut, 409: ConflictOut}, summary="Change an action")
def patch_action(request, account_id: int, plan_id: int, action_id: int, payload: ActionPatch):
    action = _action(request, account_id, plan_id, action_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    try:
        return services.update_action(action, by=request.user, version=version,
                                      changes=_action_data(request, action.plan, data))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None


@router.delete(PLAN + "/actions/{action_id}", response={204: None, 409: ConflictOut}, summary="Remove an action")
def remove_action(request, account_id: int, plan_id: int, action_id: int, payload: Query[DeleteIn]):
    services.remove_action(_action(request, account_id, plan_id, action_id), by=request.user, version=payload.version)
    return Status(204, None)


# ---------------------------------------------------------------- opportunities


OPPORTUNITIES = "/accounts/{account_id}/opportunities/"


def _opportunity(request, account_id: int, opportunity_id: int) -> Opportunity:
    return get_object_or_404(Opportunity.objects.select_related("account", "owner"), pk=opportunity_id,
                             account=_account(request, account_id))


@router.get(OPPORTUNITIES, response=list[OpportunityOut], summary="The account's opportunities")
@paginate(LimitOffset)
def list_opportunities(request, account_id: int, stage: str | None = None):
    opportunities = _account(request, account_id).opportunities.select_related("owner").order_by("expected_close", "pk")
    return opportunities.filter(stage=stage) if stage else opportunities


@router.post(OPPORTUNITIES, response={201: OpportunityOut}, summary="Add an opportunity")
def add_opportunity(request, account_id: int, payload: OpportunityIn):
    account = _account(request, account_id)
    require_edit(request.user, account)
    try:
        opportunity = services.add_opportunity(account, by=request.user, data=_with_owner(payload.dict()))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None
    return Status(201, opportunity)


@router.get(OPPORTUNITIES + "{opportunity_id}", response=OpportunityOut, summary="One opportunity")
def get_opportunity(request, account_id: int, opportunity_id: int):
    return _opportunity(request, account_id, opportunity_id)


@router.patch(OPPORTUNITIES + "{opportunity_id}", response={200: OpportunityOut, 409: ConflictOut},
              summary="Change an opportunity (won or lost: stage, closed_on, reason)")
def patch_opportunity(request, account_id: int, opportunity_id: int, payload: OpportunityPatch):
    opportunity = _opportunity(request, account_id, opportunity_id)
    require_edit(request.user, opportunity.account)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    try:
        return services.update_opportunity(opportunity, by=request.user, version=version, changes=_with_owner(data))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None


@router.delete(OPPORTUNITIES + "{opportunity_id}", response={204: None, 409: ConflictOut}, summary="Remove an opportunity")
def remove_opportunity(request, account_id: int, opportunity_id: int, payload: Query[DeleteIn]):
    services.remove_opportunity(_opportunity(request, account_id, opportunity_id), by=request.user, version=payload.version)
    return Status(204, None)


# ---------------------------------------------------------------- whitespace map


@router.get("/accounts/{account_id}/whitespace", response=WhitespaceOut, summary="Divisions × product lines, with totals")
def get_whitespace(request, account_id: int):
    grid = services.whitespace(_account(request, account_id))
    cells = [
        {"division": c.division, "product_line": c.product_line, "state": c.state, "competitor": c.competitor,
         "estimated_value": c.estimated_value, "note": c.note, "opportunities": [o.id for o in c.opportunities],
         "revenue": c.revenue, "version": c.marked.version if c.marked else 0}
        for c in grid.cells.values()
    ]
    return {"divisions": list(grid.divisions), "product_lines": list(grid.product_lines), "cells": cells,
            "row_totals": dict(grid.row_totals), "column_totals": dict(grid.column_totals),
            "whitespace_value": grid.whitespace_value, "counts": dict(grid.counts)}


@router.put("/accounts/{account_id}/whitespace/cell", response={200: WhitespaceCellOut, 409: ConflictOut},
            summary="Mark one division × product line (in_use, competitor, not_relevant, whitespace with a value)")
def put_cell(request, account_id: int, payload: CellIn):
    return services.set_cell(_account(request, account_id), by=request.user, **payload.dict())


# ---------------------------------------------------------------- team responsibilities


class RaciEntry(InputSchema):
    member_id: int = Field(..., description="a team member (an id of /accounts/{id}/team/)")
    area: choice(RaciArea) = Field(..., description="relationships, business_reviews, goals, onboarding, support or commercial")
    role: choice(RaciRole, blank=True) = Field(..., description='R, A, C, I, or "" for none (r is R)')
    version: int | None = Field(None, description="The cell's version you read (0: it was empty and never set); a cell "
                                "changed since is answered with 409 and nothing is written")


class RaciEntryOut(Schema):
    member_id: int
    area: str
    role: str
    version: int


class RaciIn(InputSchema):
    assignments: list[RaciEntry] = Field(..., max_length=500)


class RaciOut(Schema):
    assignments: list[RaciEntryOut] = Field(..., description="the cells with a role")
    warnings: dict[str, list[str]] = Field(..., description="areas with nobody accountable ([]) or several (their names)")


class RaciConflictOut(Schema):
    detail: str
    conflicts: list[dict[str, Any]] = Field(..., description="member_id, area, yours, saved and the cell's current version")
    current: RaciOut


def _raci_out(result) -> dict:
    return {"assignments": [{"member_id": m, "area": a, "role": r, "version": result.versions.get((m, a), 1)}
                            for (m, a), r in sorted(result.roles.items())],
            "warnings": result.warnings}


@router.get("/accounts/{account_id}/raci", response=RaciOut, summary="The account team against the plan's areas (RACI)")
def get_raci(request, account_id: int):
    return _raci_out(services.raci(_account(request, account_id)))


@router.put("/accounts/{account_id}/raci", response={200: RaciOut, 409: RaciConflictOut},
            summary="Set roles in the RACI matrix (the entries given; each with the version read)")
def put_raci(request, account_id: int, payload: RaciIn):
    roles = {(e.member_id, e.area): e.role for e in payload.assignments}
    versions = {(e.member_id, e.area): e.version for e in payload.assignments if e.version is not None}
    try:
        result = services.set_raci(_account(request, account_id), by=request.user, roles=roles, versions=versions)
    except services.RaciConflict as conflict:
        return Status(409, {
            "detail": "Someone changed these cells since you read them. Nothing was written.",
            "conflicts": [{"member_id": c.member.pk, "area": c.area, "yours": c.yours, "saved": c.saved,
                           "version": c.version} for c in conflict.stale],
            "current": _raci_out(conflict.current)})
    return _raci_out(result)


# ---------------------------------------------------------------- the program charter and its rollout


@router.get("/charter", response=CharterOut, tags=["charter"],
            summary="The KAM program charter: its texts, readiness answered from data, selection, sponsors, rollout")
def get_charter(request):
    return charter.charter_dict(charter.charter_view())


@router.patch("/charter", response={200: CharterOut, 409: ConflictOut}, tags=["charter"],
              summary="Change the charter's texts (KAM leads and admins); a stale version is a 409")
@gate(CHARTER)
def patch_charter(request, payload: CharterPatch):
    charter.update_charter(by=request.user, version=payload.version, changes=payload.content)
    return charter.charter_dict(charter.charter_view())


@router.get("/charter/versions", response=list[CharterVersionOut], tags=["charter"],
            summary="The charter's saved versions, newest first")
@paginate(LimitOffset)
def charter_versions(request):
    return charter.versions(charter.charter(), limit=1000)


@router.post("/charter/restore", response={200: CharterOut, 409: ConflictOut}, tags=["charter"],
             summary="Restore an earlier version of the charter's texts, as a new version")
@gate(CHARTER)
def restore_charter(request, payload: RestoreIn):
    charter.restore_charter(by=request.user, history_id=payload.history_id, version=payload.version)
    return charter.charter_dict(charter.charter_view())


@router.get("/charter/timeline.svg", tags=["charter"], summary="The rollout's phases and steps as an SVG Gantt chart",
            response={200: str}, openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {}}}}})
def charter_timeline(request):
    return _svg(charter.render_rollout())


@router.get("/charter/rollout/", response=list[RolloutStepOut], tags=["charter"], summary="The rollout's steps")
@paginate(LimitOffset)
def list_steps(request):
    return RolloutStep.objects.select_related("owner").order_by("start", "due", "pk")


def _step_data(request, data: dict) -> dict:
    if not charter.can_edit(request.user):  # a refusal first, before the owner's id is looked up
        raise PermissionDenied("KAM leads and admins change the rollout.")
    try:
        return _with_owner(data)
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None


@router.post("/charter/rollout/", response={201: RolloutStepOut}, tags=["charter"], summary="Add a rollout step")
@gate(ROLLOUT)
def add_step(request, payload: RolloutStepIn):
    try:
        step = charter.add_step(by=request.user, data=_step_data(request, payload.dict()))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None
    return Status(201, step)


@router.get("/charter/rollout/{step_id}", response=RolloutStepOut, tags=["charter"], summary="One rollout step")
def get_step(request, step_id: int):
    return get_object_or_404(RolloutStep.objects.select_related("owner"), pk=step_id)


@router.patch("/charter/rollout/{step_id}", response={200: RolloutStepOut, 409: ConflictOut}, tags=["charter"],
              summary="Change a rollout step")
@gate(ROLLOUT)
def patch_step(request, step_id: int, payload: RolloutStepPatch):
    step = get_object_or_404(RolloutStep, pk=step_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    try:
        return charter.update_step(step, by=request.user, version=version, changes=_step_data(request, data))
    except ValidationError as error:
        raise _renamed(error, API_NAMES) from None


@router.delete("/charter/rollout/{step_id}", response={204: None, 409: ConflictOut}, tags=["charter"],
               summary="Remove a rollout step")
@gate(ROLLOUT)
def remove_step(request, step_id: int, payload: Query[DeleteIn]):
    charter.remove_step(get_object_or_404(RolloutStep, pk=step_id), by=request.user, version=payload.version)
    return Status(204, None)


# ---------------------------------------------------------------- importing opportunities


class OpportunityImportOut(Schema):
    status: str = Field(..., description="done, dry_run, or rejected (nothing was written)")
    rows_total: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    mapping: dict[str, str] = Field(..., description="field -> the file's column")
    errors: list[dict[str, Any]] = Field(..., description="line, column, value, reason (English) and code, per bad row")


@router.post("/opportunities/import", response={200: OpportunityImportOut, 422: OpportunityImportOut}, tags=["plans"],
             summary="Import a CSV or XLSX of opportunities: all rows or none; upsert by id, or account_id + name")
def import_opportunities(request, file: File[UploadedFile], dry_run: Form[bool] = False, mapping: Form[str | None] = None):
    from django.core.exceptions import PermissionDenied

    from keyplan.api.imports import _mapping
    from keyplan.planning import importing

    if request.user.is_read_only:
        raise PermissionDenied("Viewers import nothing.")
    options = importing.SmallImportOptions(mapping=_mapping(mapping), dry_run=dry_run)
    result = importing.import_upload(file, by=request.user, options=options)
    return Status(200 if result.ok else 422, result.as_dict())
