"""/api/v1/criteria/, scores/, rounds/, proposals/, reviews/, selection-settings and /analysis/scores: the same
services as the pages."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from keyplan.accounts.models import Account
from keyplan.api.gates import gate, portfolio_readers, requires
from keyplan.core.pagination import LimitOffset
from keyplan.core.schemas import InputSchema, VersionConflictOut
from keyplan.core.versions import version_from
from keyplan.scoring import services
from keyplan.scoring.models import Criterion, Proposal, Review, Score, SelectionRound
from keyplan.scoring.schemas import (
    CriterionIn,
    CriterionOut,
    CriterionPatch,
    CriterionQuery,
    DecisionIn,
    ProposalOut,
    ProposalQuery,
    ReviewDecisionIn,
    KeyStatusReviewIn,
    KeyStatusReviewOut,
    RoundAccountOut,
    RoundIn,
    RoundOut,
    ScoreHistoryOut,
    ScoreIn,
    ScoreOut,
    ScoreQuery,
    SettingsOut,
    SelectionSettingsPatch,
)

router = Router(tags=["selection"])
# Mounted at /analysis/ before the portfolio analyses' /analysis/{name}, so that this exact path wins.
analysis_router = Router(tags=["analysis"])
CONFIGURE = requires(services.can_configure, _("Only KAM leads and admins configure the selection."))


def _lead(request) -> None:
    if not services.can_configure(request.user):
        raise PermissionDenied("Only KAM leads and admins do this.")


def _reviews_visible(request) -> None:
    if not request.user.sees_all_accounts:
        raise Http404


@analysis_router.get("/scores", response=dict[str, Any], summary="Every account with its scores, group totals, total and rank")
def analysis_scores(request):
    return services.scores_payload(request.user)


# ---------------------------------------------------------------- criteria


@router.get("/criteria/", response=list[CriterionOut], summary="Selection criteria (growth or harmony)")
@paginate(LimitOffset)
def list_criteria(request, filters: Query[CriterionQuery]):
    criteria = Criterion.objects.all() if filters.archived else Criterion.objects.active()
    if filters.group:
        criteria = criteria.filter(group=filters.group)
    return criteria


@router.post("/criteria/", response={201: CriterionOut}, summary="Add a criterion")
@gate(CONFIGURE)
def create_criterion(request, payload: CriterionIn):
    return Status(201, services.create_criterion(by=request.user, **payload.dict()))


# Before /criteria/{criterion_id}: URLs resolve in order.
class SuggestedCriterionIn(InputSchema):
    key: str = Field(description="One of the suggested criteria's keys (the Criteria page lists them)", max_length=64)
    weight: Decimal = Field(Decimal(20), ge=0, le=1000)


class RefreshOut(Schema):
    created: int
    updated: int
    removed: int
    skipped: dict[str, str] = {}


@router.post("/criteria/suggested", response={201: CriterionOut}, summary="Add one of the suggested criteria (KAM leads and admins)")
@gate(CONFIGURE)
def add_suggested_criterion(request, payload: SuggestedCriterionIn):
    return Status(201, services.add_suggested_criterion(by=request.user, key=payload.key, weight=payload.weight))


@router.post("/criteria/refresh", response=RefreshOut,
             summary="Recompute the scores of the criteria computed from data (KAM leads and admins)")
@gate(CONFIGURE)
def refresh_criteria(request):
    result = services.refresh_computed_scores(by=request.user)
    return {"created": result.created, "updated": result.updated, "removed": result.removed,
            "skipped": {str(name): str(message) for name, message in (result.skipped or {}).items()}}


@router.get("/criteria/{criterion_id}", response=CriterionOut, summary="One criterion")
def get_criterion(request, criterion_id: int):
    return get_object_or_404(Criterion, pk=criterion_id)


@router.patch("/criteria/{criterion_id}", response={200: CriterionOut, 409: VersionConflictOut},
              summary="Change a criterion's name, weight, group or description")
@gate(CONFIGURE)
def patch_criterion(request, criterion_id: int, payload: CriterionPatch):
    criterion = get_object_or_404(Criterion, pk=criterion_id)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    return services.update_criterion(criterion, by=request.user, changes=changes, version=version)


@router.delete("/criteria/{criterion_id}", response={200: dict[str, str], 409: VersionConflictOut},
               summary="Delete a criterion; one that past rounds used is archived instead and they keep their numbers")
@gate(CONFIGURE)
def delete_criterion(request, criterion_id: int, version: int | None = None):
    outcome = services.remove_criterion(get_object_or_404(Criterion, pk=criterion_id), by=request.user,
                                        version=version_from(request, version))
    return Status(200, {"result": outcome})


@router.post("/criteria/{criterion_id}/restore", response=CriterionOut, summary="Bring an archived criterion back")
@gate(CONFIGURE)
def restore_criterion(request, criterion_id: int):
    return services.restore_criterion(get_object_or_404(Criterion, pk=criterion_id), by=request.user)


# ---------------------------------------------------------------- scores


@router.get("/scores/", response=list[ScoreOut], summary="Current scores of the accounts you may see")
@paginate(LimitOffset)
def list_scores(request, filters: Query[ScoreQuery]):
    scores = Score.objects.filter(account__in=Account.objects.visible_to(request.user),
                                  criterion__archived_at__isnull=True).select_related("scored_by").order_by("account_id", "criterion_id")
    if filters.account_id:
        scores = scores.filter(account_id=filters.account_id)
    if filters.criterion_id:
        scores = scores.filter(criterion_id=filters.criterion_id)
    return scores


@router.post("/scores/", response={200: ScoreOut}, summary="Score an account on a criterion (1–10); the earlier score stays in the history")
def set_score(request, payload: ScoreIn):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=payload.account_id)
    criterion = Criterion.objects.filter(pk=payload.criterion_id).first()
    if criterion is None:
        raise ValidationError({"criterion_id": f"No criterion has id {payload.criterion_id}."})
    return services.set_score(account, by=request.user, criterion=criterion, value=payload.value, note=payload.note)


@router.get("/scores/history", response=list[ScoreHistoryOut], summary="Every score an account had on a criterion, newest first")
@paginate(LimitOffset)
def score_history(request, account_id: int, criterion_id: int):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)
    records = Score.history.filter(account_id=account.pk, criterion_id=criterion_id).select_related("history_user") \
        .order_by("-history_date", "-history_id")
    changes = {"+": "created", "~": "changed", "-": "removed"}
    return [{"value": r.value, "note": r.note, "note_code": r.note_code, "note_params": r.note_params, "by": r.history_user.username if r.history_user else None,
             "at": r.history_date, "change": changes[r.history_type]} for r in records]


# ---------------------------------------------------------------- rounds and proposals


@router.get("/rounds/", response=list[RoundOut], summary="Selection rounds, newest first")
@paginate(LimitOffset)
def list_rounds(request):
    return SelectionRound.objects.all()


@router.post("/rounds/", response={201: RoundOut}, summary="Take a round: freeze today's scores and propose key accounts within capacity")
@gate(CONFIGURE)
def create_round(request, payload: RoundIn):
    return Status(201, services.create_round(by=request.user, **payload.dict()))


@router.get("/rounds/{round_id}", response=RoundOut, summary="One round")
def get_round(request, round_id: int):
    return get_object_or_404(SelectionRound, pk=round_id)


@router.get("/rounds/{round_id}/accounts", response=list[RoundAccountOut], summary="The frozen totals and ranks of a round")
@paginate(LimitOffset)
def round_accounts(request, round_id: int):
    selection_round = get_object_or_404(SelectionRound, pk=round_id)
    return selection_round.accounts.filter(account__in=Account.objects.visible_to(request.user)).order_by("rank", "pk")


@router.get("/proposals/", response=list[ProposalOut], summary="Proposed changes of key status")
@paginate(LimitOffset)
def list_proposals(request, filters: Query[ProposalQuery]):
    proposals = Proposal.objects.filter(account__in=Account.objects.visible_to(request.user))
    if filters.round_id:
        proposals = proposals.filter(round_id=filters.round_id)
    if filters.status:
        proposals = proposals.filter(status=filters.status)
    return proposals


def _proposal(request, proposal_id: int) -> Proposal:
    return get_object_or_404(Proposal.objects.filter(account__in=Account.objects.visible_to(request.user)), pk=proposal_id)


@router.post("/proposals/{proposal_id}/accept", response=ProposalOut,
             summary="Accept: the key status changes in the tier history (scaling back needs reason and effective_date)")
@gate(CONFIGURE)
def accept_proposal(request, proposal_id: int, payload: DecisionIn):
    return services.accept_proposal(_proposal(request, proposal_id), by=request.user, **payload.dict())


@router.post("/proposals/{proposal_id}/reject", response=ProposalOut, summary="Reject a proposal")
@gate(CONFIGURE)
def reject_proposal(request, proposal_id: int, payload: DecisionIn):
    return services.reject_proposal(_proposal(request, proposal_id), by=request.user, reason=payload.reason)


# ---------------------------------------------------------------- reviews


@router.get("/reviews/", response=list[KeyStatusReviewOut], summary="Reviews of key status, newest first")
@paginate(LimitOffset)
def list_reviews(request):
    _reviews_visible(request)
    return Review.objects.all()


@router.post("/reviews/", response={201: KeyStatusReviewOut}, summary="Run a review now and save it")
@gate(CONFIGURE)
def run_review(request, payload: KeyStatusReviewIn):
    _lead(request)
    selection_round = None
    if payload.round_id is not None:
        selection_round = SelectionRound.objects.filter(pk=payload.round_id).first()
        if selection_round is None:
            raise ValidationError({"round_id": f"No round has id {payload.round_id}."})
    return Status(201, services.run_review(by=request.user, as_of=payload.as_of, selection_round=selection_round,
                                           notes=payload.notes))


@router.get("/reviews/{review_id}", response=KeyStatusReviewOut, summary="One review with its findings and decisions")
def get_review(request, review_id: int):
    _reviews_visible(request)
    return get_object_or_404(Review, pk=review_id)


@router.post("/reviews/{review_id}/decisions", response={201: KeyStatusReviewOut}, summary="Record a decision taken in a review")
@gate(portfolio_readers)
def add_decision(request, review_id: int, payload: ReviewDecisionIn):
    _reviews_visible(request)
    review = get_object_or_404(Review, pk=review_id)
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=payload.account_id)
    services.record_decision(review, by=request.user, account=account, action=payload.action, note=payload.note,
                             effective_date=payload.effective_date)
    return Status(201, Review.objects.get(pk=review.pk))


# ---------------------------------------------------------------- settings


def _settings_out() -> dict[str, Any]:
    current = services.scoring_settings()
    return {"review_cadence": current.review_cadence, "team_cost_per_member": current.team_cost_per_member,
            "next_review_due": services.next_review_due()}


@router.get("/selection-settings", response=SettingsOut, summary="Review cadence, next review due, cost of a team member")
def get_settings(request):
    return _settings_out()


@router.patch("/selection-settings", response=SettingsOut, summary="Change the review cadence or the cost of a team member")
@gate(CONFIGURE)
def patch_settings(request, payload: SelectionSettingsPatch):
    services.update_settings(by=request.user, **payload.dict(exclude_unset=True))
    return _settings_out()
