"""API input and output shapes for account plans; the rules stay in the services."""

import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from keyplan.accounts.schemas import UserRef
from keyplan.core.schemas import InputSchema, VersionConflictOut, choice
from keyplan.planning.models import (
    ActionStatus,
    CellState,
    GoalStatus,
    Horizon,
    Metric,
    OpportunityKind,
    PlanState,
    Stage,
)

StateChoice = choice(PlanState)
HorizonChoice = choice(Horizon)
MetricChoice = choice(Metric)
GoalStatusChoice = choice(GoalStatus)
ActionStatusChoice = choice(ActionStatus)
OpportunityKindChoice = choice(OpportunityKind)
StageChoice = choice(Stage)
CellStateChoice = choice(CellState)


class PlanOut(Schema):
    id: int
    account_id: int
    period: str
    starts: datetime.date
    ends: datetime.date
    state: str
    summary: str
    reviewed_at: datetime.date | None
    wallet: Decimal | None = Field(None, description="The customer's estimated yearly spend in our categories")
    copied_from_id: int | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class PortfolioRowOut(Schema):
    account: dict[str, Any] = Field(..., description="id, external_id, name")
    kam: str
    plan: dict[str, Any] | None = Field(None, description="The current plan: the active one, else the newest draft")
    living: bool = Field(..., description="An active plan for today's period, reviewed within the cadence")
    quality: dict[str, Any] | None
    overdue_actions: int


class PortfolioPage(Schema):
    items: list[PortfolioRowOut]
    count: int


class PlanIn(InputSchema):
    period: str = Field(..., max_length=20, description="For example FY2027; FY and a year gives that calendar year")
    starts: datetime.date | None = None
    ends: datetime.date | None = None
    summary: str = Field("", max_length=5000)


class PlanPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    period: str | None = Field(None, max_length=20)
    starts: datetime.date | None = None
    ends: datetime.date | None = None
    summary: str | None = Field(None, max_length=5000)
    wallet: Decimal | None = Field(None, description="The customer's estimated yearly spend in our categories "
                                   "(share of wallet = revenue of the last 12 months / wallet); null clears it")


class PlanStateIn(InputSchema):
    state: StateChoice = Field(..., description="active or archived")
    version: int | None = None


class PlanReviewIn(InputSchema):
    version: int | None = None
    on: datetime.date | None = None


class SectionOut(Schema):
    key: str
    content: dict[str, Any]
    version: int
    updated_at: datetime.datetime


class SectionPatch(InputSchema):
    version: int | None = None
    content: dict[str, Any] | None = Field(None, description="The section's fields; only those given change")


class SectionVersionOut(Schema):
    history_id: int
    version: int
    when: datetime.datetime
    who: str
    content: dict[str, Any]


class RestoreIn(InputSchema):
    history_id: int
    version: int | None = None


class ActionOut(Schema):
    id: int
    plan_id: int
    goal_id: int
    title: str
    notes: str
    owner: UserRef | None
    start: datetime.date | None
    due: datetime.date | None
    status: ActionStatusChoice
    milestone: bool
    stakeholder_id: int | None
    opportunity_id: int | None
    depends_on: list[int]
    version: int

    @staticmethod
    def resolve_depends_on(action) -> list[int]:
        return sorted(a.pk for a in action.depends_on.all())


class GoalOut(Schema):
    id: int
    plan_id: int
    title: str
    description: str
    horizon: HorizonChoice
    owner: UserRef | None
    metric: MetricChoice
    target_value: Decimal | None
    current_value: Decimal | None = Field(None, description="Entered by hand (metric 'manual')")
    due: datetime.date | None
    status: GoalStatusChoice
    version: int
    text_code: str = Field("", description="Set when Keyplan wrote the goal (e.g. 'save_plan'): while title and "
                           "description are still Keyplan's English text, render them from text_params in the "
                           "reader's language; empty for a goal a person wrote.")
    text_params: dict = Field(default_factory=dict)


class GoalDetailOut(GoalOut):
    measured: float | None = Field(None, description="The current value as Keyplan measures it, or the one entered")
    progress: float | None = None
    overdue: bool = False
    actions: list[ActionOut] = []


class OpportunityOut(Schema):
    id: int
    account_id: int
    name: str
    product_line: str
    division: str
    kind: OpportunityKindChoice
    stage: StageChoice
    amount: Decimal
    probability: Decimal
    expected_value: Decimal = Field(..., description="amount × probability")
    expected_close: datetime.date | None
    owner: UserRef | None
    closed_on: datetime.date | None
    reason: str
    version: int


class OpportunityIn(InputSchema):
    name: str = Field(..., max_length=200)
    product_line: str = Field("", max_length=100)
    division: str = Field("", max_length=120)
    kind: OpportunityKindChoice = "cross_sell"
    stage: StageChoice = "qualify"
    amount: Decimal = Decimal(0)
    probability: Decimal = Decimal("0.1")
    expected_close: datetime.date | None = None
    owner_id: int | None = None
    closed_on: datetime.date | None = None
    reason: str = Field("", max_length=5000)


class OpportunityPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    name: str | None = Field(None, max_length=200)
    product_line: str | None = Field(None, max_length=100)
    division: str | None = Field(None, max_length=120)
    kind: OpportunityKindChoice | None = None
    stage: StageChoice | None = None
    amount: Decimal | None = None
    probability: Decimal | None = None
    expected_close: datetime.date | None = None
    owner_id: int | None = None
    closed_on: datetime.date | None = None
    reason: str | None = Field(None, max_length=5000)


class CellOut(Schema):
    division: str
    product_line: str
    state: str = Field(..., description="in_use, open_opportunity, competitor, not_relevant or whitespace")
    competitor: str
    estimated_value: Decimal | None
    note: str
    opportunities: list[int]
    revenue: Decimal = Field(..., description="Revenue of the ledger's lines naming this division and product, "
                                              "in its last two calendar years (reporting currency)")
    version: int = Field(0, description="The version of the team's mark; 0 when nobody marked the cell")


class WhitespaceOut(Schema):
    divisions: list[str]
    product_lines: list[str]
    cells: list[CellOut]
    row_totals: dict[str, Decimal]
    column_totals: dict[str, Decimal]
    whitespace_value: Decimal
    counts: dict[str, int]


class CellIn(InputSchema):
    division: str = Field(..., max_length=120)
    product_line: str = Field(..., max_length=100)
    state: CellStateChoice
    competitor: str = Field("", max_length=200)
    estimated_value: Decimal | None = None
    note: str = Field("", max_length=5000)
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409")


class WhitespaceCellOut(Schema):
    id: int
    division: str
    product_line: str
    state: CellStateChoice
    competitor: str
    estimated_value: Decimal | None
    note: str
    version: int


class PlanDetailOut(PlanOut):
    sections: list[SectionOut]
    swot: dict[str, list[str]]
    goals: list[GoalDetailOut]
    relationships: dict[str, Any]
    value: dict[str, Any]
    quality: dict[str, Any]
    opportunities: list[OpportunityOut]
    pipeline: dict[str, Any] = Field(..., description="open, weighted, won and lost for the plan's period")


class GoalIn(InputSchema):
    title: str = Field(..., max_length=200)
    description: str = Field("", max_length=5000)
    horizon: HorizonChoice = "short"
    owner_id: int | None = None
    metric: MetricChoice = "manual"
    target_value: Decimal | None = None
    current_value: Decimal | None = None
    due: datetime.date | None = None
    status: GoalStatusChoice = "open"


class GoalPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    horizon: HorizonChoice | None = None
    owner_id: int | None = None
    metric: MetricChoice | None = None
    target_value: Decimal | None = None
    current_value: Decimal | None = None
    due: datetime.date | None = None
    status: GoalStatusChoice | None = None


class ActionIn(InputSchema):
    goal_id: int
    title: str = Field(..., max_length=200)
    notes: str = Field("", max_length=5000)
    owner_id: int | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    status: ActionStatusChoice = "not_started"
    milestone: bool = False
    stakeholder_id: int | None = None
    opportunity_id: int | None = None
    depends_on: list[int] = Field(default_factory=list, max_length=100)


class ActionPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    goal_id: int | None = None
    title: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    owner_id: int | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    status: ActionStatusChoice | None = None
    milestone: bool | None = None
    stakeholder_id: int | None = None
    opportunity_id: int | None = None
    depends_on: list[int] | None = Field(None, max_length=100)


ConflictOut = VersionConflictOut  # the one 409 body (keyplan.core.schemas)


class DeleteIn(Schema):
    version: int | None = None


class CharterOut(Schema):
    version: int
    updated_at: datetime.datetime
    content: dict[str, Any] = Field(..., description="purpose, objectives, success_measures, roles and a note_<code> "
                                    "per readiness question")
    readiness: list[dict[str, Any]] = Field(..., description="code, verdict (yes, partly, no, unknown) and the figures")
    selection: dict[str, Any] = Field(..., description="criteria and review cadence, read from the selection settings")
    sponsors: list[dict[str, Any]]
    rollout: list[dict[str, Any]]


class CharterTextOut(Schema):
    version: int
    updated_at: datetime.datetime
    content: dict[str, Any]


class CharterPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    content: dict[str, Any] = Field(default_factory=dict, description="The fields to change; the others stay")


class CharterVersionOut(Schema):
    history_id: int
    version: int
    when: datetime.datetime
    who: str
    content: dict[str, Any]


class RolloutStepOut(Schema):
    id: int
    phase: str
    title: str
    notes: str
    owner: UserRef | None
    start: datetime.date | None
    due: datetime.date | None
    status: ActionStatusChoice
    milestone: bool
    version: int


class RolloutStepIn(InputSchema):
    phase: str = Field(..., max_length=100)
    title: str = Field(..., max_length=200)
    notes: str = Field("", max_length=5000)
    owner_id: int | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    status: ActionStatusChoice = "not_started"
    milestone: bool = False


class RolloutStepPatch(InputSchema):
    version: int | None = Field(None, description="The version you read; a stale one is answered with 409 (send it)")
    phase: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    owner_id: int | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    status: ActionStatusChoice | None = None
    milestone: bool | None = None
