"""API input and output of the selection (django-ninja schemas)."""

import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from keyplan.core.schemas import VERSION_IN, VERSION_OUT, InputSchema, choice
from keyplan.accounts.schemas import TierChoice
from keyplan.scoring.models import (
    Cadence,
    CriterionGroup,
    CriterionSource,
    DecisionAction,
    ProposalAction,
    ProposalStatus,
)

GroupChoice = choice(CriterionGroup)
SourceChoice = choice(CriterionSource)
CadenceChoice = choice(Cadence)
ProposalActionChoice = choice(ProposalAction)
ProposalStatusChoice = choice(ProposalStatus)
DecisionActionChoice = choice(DecisionAction)


class CriterionOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    name: str
    description: str
    group: GroupChoice = Field(description="growth (growth potential) or harmony")
    weight: Decimal
    source: SourceChoice = Field(description="manual, or the data it is computed from")
    archived_at: datetime.datetime | None


class CriterionIn(InputSchema):
    name: str
    group: GroupChoice = Field(description="growth or harmony")
    weight: Decimal = Decimal(20)
    description: str = ""
    source: SourceChoice = "manual"


class CriterionPatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    name: str | None = None
    group: GroupChoice | None = None
    weight: Decimal | None = None
    description: str | None = None
    source: SourceChoice | None = None


class CriterionQuery(Schema):
    group: GroupChoice | None = None
    archived: bool = False


class ScoreOut(Schema):
    id: int
    account_id: int
    criterion_id: int
    value: int
    note: str = Field(description="in English; when Keyplan wrote it (a score computed from data), note_code and "
                                  "note_params let a program write it in its reader's language")
    note_code: str = Field(description="what Keyplan's note says, as a code (revenue_trend, margin, clv, …); empty for "
                                       "a person's note")
    note_params: dict = Field(description="the figures of the coded note, e.g. {\"now\": 120000, \"then\": 100000}")
    scored_by: str | None = None
    scored_at: datetime.datetime
    estimate: bool = Field(description="a person's estimate on a computed criterion, until the data gives a score")
    computed_at: datetime.datetime | None = Field(description="when a score computed from data was last computed")

    @staticmethod
    def resolve_scored_by(obj) -> str | None:
        return obj.scored_by.username if obj.scored_by else None


class ScoreIn(InputSchema):
    account_id: int
    criterion_id: int
    value: Any = Field(description="1 to 10")
    note: str = ""


class ScoreQuery(Schema):
    account_id: int | None = None
    criterion_id: int | None = None


class ScoreHistoryOut(Schema):
    value: int
    note: str
    note_code: str
    note_params: dict
    by: str | None
    at: datetime.datetime
    change: str


class RoundIn(InputSchema):
    name: str
    date: datetime.date | None = None
    notes: str = ""


class RoundOut(Schema):
    id: int
    name: str
    date: datetime.date
    notes: str
    capacity: int
    kam_count: int
    cutoff: Decimal | None


class RoundAccountOut(Schema):
    account_id: int
    growth_total: Decimal | None
    harmony_total: Decimal | None
    total: Decimal | None
    rank: int | None
    tier: TierChoice


class ProposalOut(Schema):
    id: int
    round_id: int
    account_id: int
    action: ProposalActionChoice = Field(description="promote (make key account) or demote (scale back)")
    from_tier: TierChoice
    to_tier: TierChoice
    rank: int | None
    total: Decimal | None
    explanation: dict
    status: ProposalStatusChoice
    decision_reason: str = Field(description="Why it was decided, in the request's language (Accept-Language)")
    decision_code: str = Field(description="selected or superseded when Keyplan gave the reason itself, else empty")
    decision_params: dict = Field(description="The values of a coded reason (round, rank, total, cut-off, carried)")
    effective_date: datetime.date | None

    @staticmethod
    def resolve_decision_reason(proposal) -> str:
        return proposal.decision_text


class ProposalQuery(Schema):
    round_id: int | None = None
    status: ProposalStatusChoice | None = None


class DecisionIn(InputSchema):
    reason: str = ""
    effective_date: datetime.date | None = None


class KeyStatusReviewIn(InputSchema):
    as_of: datetime.date | None = None
    round_id: int | None = None
    notes: str = ""


class ReviewDecisionOut(Schema):
    account_id: int
    action: DecisionActionChoice
    note: str
    by: str | None
    at: str = Field(description="When it was decided (ISO 8601)")


class KeyStatusReviewOut(Schema):
    id: int
    round_id: int | None
    as_of: datetime.date
    cadence: CadenceChoice
    findings: dict
    notes: str
    decisions: list[ReviewDecisionOut]

    @staticmethod
    def resolve_decisions(obj) -> list[dict]:
        return [{"account_id": d.account_id, "action": d.action, "note": d.note,
                 "by": d.decided_by.username if d.decided_by else None, "at": d.decided_at.isoformat()}
                for d in obj.decisions.select_related("decided_by")]


class ReviewDecisionIn(InputSchema):
    account_id: int
    action: DecisionActionChoice
    note: str = ""
    effective_date: datetime.date | None = None


class SettingsOut(Schema):
    review_cadence: CadenceChoice = Field(description="monthly or quarterly: how often key status is reviewed")
    team_cost_per_member: Decimal = Field(description="yearly cost of one team member on an account, in the reporting "
                                                      "currency: the effort side of an account's return on effort")
    next_review_due: datetime.date | None = Field(description="the last review's date plus the cadence; null before "
                                                              "the first review")


class SelectionSettingsPatch(InputSchema):
    review_cadence: CadenceChoice | None = None
    team_cost_per_member: Decimal | None = None
