"""/api/v1/…: surveys, the health score and its snapshots, the at-risk queue, account reviews and the dashboard.

The same services as the pages. An account outside the user's reach is a 404; a write the user may not
make is a 403; bad input is a 422 naming the field, and nothing is written.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Status
from ninja.pagination import paginate

from keyplan.accounts.models import Account
from keyplan.api.errors import CONFLICT_SHAPES
from keyplan.api.gates import anyone, gate, requires
from keyplan.api.lookups import active_user, require_edit
from keyplan.core.pagination import LimitOffset
from keyplan.core.schemas import VersionConflictOut
from keyplan.core.versions import version_from
from keyplan.health import onboarding, services
from keyplan.health.models import OnboardingStage, RiskCase
from keyplan.health.schemas import (
    CaseIn,
    CheckInIn,
    CheckInOut,
    CasePatch,
    CloseIn,
    HealthOut,
    OnboardingOut,
    PaymentsOut,
    StageIn,
    StageOut,
    StagePatch,
    StartOnboardingIn,
    QueueItemOut,
    QueuePage,
    ReviewIn,
    ReviewOut,
    SaveActionIn,
    SettingsPatch,
    SnapshotOut,
    SurveyIn,
    SurveyOut,
)

router = Router(tags=["health"])
CONFLICT_SHAPES[RiskCase] = lambda case: services.case_dict(
    RiskCase.objects.select_related("account", "owner", "plan_goal").get(pk=case.pk))
CONFLICT_SHAPES[OnboardingStage] = lambda stage: onboarding.stage_dict(stage)


def _account(request, account_id: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)


def _case(request, case_id: int) -> RiskCase:
    return get_object_or_404(RiskCase.objects.visible_to(request.user).select_related("account", "owner", "plan_goal"), pk=case_id)



# ---------------------------------------------------------------- surveys


@router.get("/accounts/{account_id}/surveys/", response=list[SurveyOut], summary="An account's survey answers, newest first")
@paginate(LimitOffset)
def list_surveys(request, account_id: int):
    return _account(request, account_id).survey_responses.order_by("-responded_on", "-pk")


@router.post("/accounts/{account_id}/surveys/", response={201: SurveyOut}, summary="Record a survey answer (NPS 0–10 or CSAT 1–5)")
def add_survey(request, account_id: int, payload: SurveyIn):
    account = _account(request, account_id)
    require_edit(request.user, account)
    data = payload.dict()
    stakeholder_id = data.pop("stakeholder_id")
    stakeholder = None
    if stakeholder_id is not None:
        stakeholder = account.stakeholders.filter(pk=stakeholder_id).first()
        if stakeholder is None:
            raise ValidationError({"stakeholder_id": f"This account has no stakeholder with id {stakeholder_id}."})
    try:
        return Status(201, services.add_survey(account, by=request.user, stakeholder=stakeholder, **data))
    except ValidationError as error:
        raise ValidationError({("stakeholder_id" if k == "stakeholder" else k): v for k, v in error.message_dict.items()}) from None


@router.get("/accounts/{account_id}/satisfaction", summary="Satisfaction by quarter (NPS, CSAT, answers) and the response rate")
def satisfaction(request, account_id: int):
    return services.surveys_summary(_account(request, account_id))


# ---------------------------------------------------------------- the health score


@router.get("/accounts/{account_id}/health", response=HealthOut, summary="The account's health score now, its band and its components explained")
def account_health(request, account_id: int):
    return services.account_health(_account(request, account_id))


@router.get("/accounts/{account_id}/health/snapshots", response=list[SnapshotOut], summary="The account's daily health snapshots, newest first")
@paginate(LimitOffset)
def snapshots(request, account_id: int):
    return _account(request, account_id).health_snapshots.order_by("-day")


@router.get("/health/settings", summary="Weights, thresholds, bands, endangerment rules, upsell and review cadences")
def get_settings(request):
    return services.settings_dict()


@router.patch("/health/settings", summary="Change the health settings (KAM leads and admins)")
@gate(requires(services.can_configure, _("Only KAM leads and admins change the health settings.")))
def patch_settings(request, payload: SettingsPatch):
    changes = payload.dict(exclude_unset=True)
    return services.settings_dict(services.update_settings(by=request.user, changes=changes))


@router.post("/health/snapshots", response={202: dict[str, str]},
             summary="Queue today's health snapshot for the background worker (KAM leads and admins)",
             description="The same as the button on the health dashboard: at 100,000 accounts the snapshot takes longer than "
                         "a request should, so it is taken by `keyplan worker`; GET /accounts/{id}/health/snapshots shows it.")
@gate(requires(services.can_configure, "Only KAM leads and admins take the health snapshot."))
def take_snapshot(request):
    from django.db import transaction
    from django.utils import timezone

    from keyplan.health.tasks import take_snapshot as task

    if not services.can_configure(request.user):
        raise PermissionDenied("Only KAM leads and admins take the health snapshot.")
    day = timezone.localdate().isoformat()
    transaction.on_commit(lambda: task.enqueue(day))
    return Status(202, {"queued": day})


# ---------------------------------------------------------------- the at-risk queue


@router.get("/risk-queue", response=QueuePage, summary="The at-risk queue: most MRR at risk first, then longest in the queue")
def risk_queue(request, query: Query[LimitOffset.Input]):
    cases = services.queue(request.user).prefetch_related("actions__owner", "actions__plan_action")
    page = cases[query.offset:query.offset + query.limit]
    return {"items": [services.case_dict(c) for c in page], "count": cases.count(),
            "mrr_at_risk": services.mrr_at_risk(request.user)}


@router.post("/accounts/{account_id}/risk-cases/", response={201: QueueItemOut}, summary="Put an account into the at-risk queue by hand")
def open_case(request, account_id: int, payload: CaseIn):
    account = _account(request, account_id)
    require_edit(request.user, account)
    case = services.open_case(account, by=request.user, reason=payload.reason, owner=active_user(payload.owner_id, "owner_id"))
    return Status(201, services.case_dict(case))


@router.get("/risk-cases/{case_id}", response=QueueItemOut, summary="A case of the at-risk queue, open or closed")
def get_case(request, case_id: int):
    return services.case_dict(_case(request, case_id))


@router.patch("/risk-cases/{case_id}", response={200: QueueItemOut, 409: VersionConflictOut}, summary="Change a case's owner or note")
def patch_case(request, case_id: int, payload: CasePatch):
    case = _case(request, case_id)
    require_edit(request.user, case.account)
    data = payload.dict(exclude_unset=True)
    owner = active_user(data.get("owner_id"), "owner_id")
    version = version_from(request, data.get("version"))
    case = services.update_case(case, by=request.user, owner=owner, note=data.get("note"), version=version)
    return services.case_dict(case)


@router.post("/risk-cases/{case_id}/close", response={200: QueueItemOut, 409: VersionConflictOut},
             summary="Close a case with its outcome (saved, downgraded, churned)")
def close_case(request, case_id: int, payload: CloseIn):
    data = payload.dict()
    data["version"] = version_from(request, data.get("version"))
    case = services.close_case(_case(request, case_id), by=request.user, **data)
    return services.case_dict(case)


@router.post("/risk-cases/{case_id}/actions/", response={201: QueueItemOut}, summary="Add an action to the case's save plan")
def add_action(request, case_id: int, payload: SaveActionIn):
    case = _case(request, case_id)
    require_edit(request.user, case.account)
    services.add_save_action(case, by=request.user, title=payload.title, owner=active_user(payload.owner_id, "owner_id"),
                             due=payload.due)
    return Status(201, services.case_dict(case))


@router.post("/risk-cases/{case_id}/link-plan", response=QueueItemOut,
             summary="Put the save plan's actions into the account's active or draft plan (those not there yet)")
def link_plan(request, case_id: int):
    case = _case(request, case_id)
    services.link_save_plan(case, by=request.user)
    case.refresh_from_db()
    return services.case_dict(case)


# ---------------------------------------------------------------- reviews and the dashboard


@router.get("/accounts/{account_id}/reviews/", response=list[ReviewOut], summary="An account's reviews, newest first")
@paginate(LimitOffset)
def list_reviews(request, account_id: int):
    return _account(request, account_id).account_reviews.order_by("-held_on", "-pk")


@router.post("/accounts/{account_id}/reviews/", response={201: ReviewOut}, summary="Record a review held (not in the future)")
def add_review(request, account_id: int, payload: ReviewIn):
    return Status(201, services.record_review(_account(request, account_id), by=request.user, **payload.dict()))


@router.get("/reviews/due", summary="Reviews due within a week or overdue, of the accounts the user sees")
def reviews_due(request):
    due = services.reviews_due(Account.objects.visible_to(request.user), within_days=7)
    return {"items": [d.as_dict() for d in due], "count": len(due)}


@router.get("/accounts/{account_id}/check-ins/", response=list[CheckInOut], summary="The account's customer check-ins, newest first")
@paginate(LimitOffset)
def list_checkins(request, account_id: int):
    return _account(request, account_id).checkins.order_by("-held_on", "-pk")


@router.post("/accounts/{account_id}/check-ins/", response={201: CheckInOut},
             summary="Record a check-in with the customer (not in the future): with whom, their feedback, our follow-up")
def add_checkin(request, account_id: int, payload: CheckInIn):
    return Status(201, services.record_checkin(_account(request, account_id), by=request.user, **payload.dict()))


@router.get("/check-ins/due", summary="Customer check-ins due within a week or overdue, of the accounts the user sees")
def checkins_due(request):
    due = services.checkins_due(Account.objects.visible_to(request.user), within_days=7)
    return {"items": [d.as_dict() for d in due], "count": len(due)}


@router.get("/dashboard", summary="The key-account program view, from the latest daily snapshot (the at-risk totals are live)")
def dashboard(request):
    return services.dashboard(request.user)


@router.get("/notifications", summary="The caller's notifications, newest first (raised by `keyplan notify`)")
def notifications(request, query: Query[LimitOffset.Input], unread: bool = False):
    rows = services.notifications_of(request.user, unread_only=unread)
    return {"items": [services.notification_dict(n) for n in rows[query.offset:query.offset + query.limit]],
            "count": rows.count()}


@router.post("/notifications/read", summary="Mark all the caller's notifications as read")
@gate(anyone)
def read_notifications(request):
    return {"marked": services.mark_read(request.user)}


@router.get("/health/backtest", summary="Does a red score predict churn or contraction? The score judged on history")
def backtest(request, months: int = 12, horizon: int = 3):
    if not request.user.sees_all_accounts:
        raise PermissionDenied("The back-test reads the whole portfolio: KAM leads, admins and viewers.")
    return services.backtest(months=months, horizon=horizon)


# ---------------------------------------------------------------- onboarding and payments


def _stage(request, stage_id: int) -> OnboardingStage:
    return get_object_or_404(OnboardingStage.objects.visible_to(request.user).select_related("account", "owner"), pk=stage_id)


@router.get("/accounts/{account_id}/onboarding", response=OnboardingOut,
            summary="The account's onboarding: its status (derived from the stages) and the stages in order")
def get_onboarding(request, account_id: int):
    return onboarding.onboarding_of(_account(request, account_id))


@router.post("/accounts/{account_id}/onboarding/start", response={201: OnboardingOut},
             summary="Start the account's onboarding from its key status's template (refused when it has stages)")
def start_onboarding(request, account_id: int, payload: StartOnboardingIn):
    account = _account(request, account_id)
    require_edit(request.user, account)
    onboarding.start_onboarding(account, by=request.user, start=payload.start,
                                owner=active_user(payload.owner_id, "owner_id"))
    return Status(201, onboarding.onboarding_of(account))


def _owner_field(error: ValidationError) -> ValidationError:
    return ValidationError({("owner_id" if k == "owner" else k): v for k, v in error.message_dict.items()})


@router.post("/accounts/{account_id}/onboarding/stages/", response={201: StageOut}, summary="Add an onboarding stage")
def add_stage(request, account_id: int, payload: StageIn):
    account = _account(request, account_id)
    require_edit(request.user, account)
    try:
        stage = onboarding.add_stage(account, by=request.user, name=payload.name, planned=payload.planned,
                                     owner=active_user(payload.owner_id, "owner_id"), checklist=payload.checklist)
    except ValidationError as error:
        raise _owner_field(error) from None
    return Status(201, onboarding.stage_dict(stage))


@router.patch("/onboarding-stages/{stage_id}", response={200: StageOut, 409: VersionConflictOut},
              summary="Change a stage: name, owner, planned date, done on (null: not done), checklist, order")
def patch_stage(request, stage_id: int, payload: StagePatch):
    stage = _stage(request, stage_id)
    require_edit(request.user, stage.account)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    if "owner_id" in changes:
        changes["owner"] = active_user(changes.pop("owner_id"), "owner_id")
    try:
        stage = onboarding.update_stage(stage, by=request.user, changes=changes, version=version)
    except ValidationError as error:
        raise _owner_field(error) from None
    return onboarding.stage_dict(stage)


@router.delete("/onboarding-stages/{stage_id}", response={204: None, 409: VersionConflictOut}, summary="Remove an onboarding stage")
def delete_stage(request, stage_id: int, version: int | None = None):
    onboarding.remove_stage(_stage(request, stage_id), by=request.user, version=version_from(request, version))
    return Status(204, None)


@router.get("/accounts/{account_id}/payments", response=PaymentsOut,
            summary="Payment delays: invoices due in the last 180 days, unpaid past due, days late on average, the latest invoices")
def payments(request, account_id: int):
    return services.payments_summary(_account(request, account_id))
