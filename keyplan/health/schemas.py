"""API input and output shapes for health and retention; the rules stay in the services."""

import datetime
from typing import Any

from ninja import Field, Schema

from keyplan.core.schemas import VERSION_IN, VERSION_OUT, InputSchema, choice
from keyplan.health.models import Band, Cadence, Outcome, SurveyKind

SurveyKindChoice = choice(SurveyKind)
OutcomeChoice = choice(Outcome)
CadenceChoice = choice(Cadence)
BandChoice = choice(Band)


class SurveyIn(InputSchema):
    kind: SurveyKindChoice = Field("nps", description="nps (0–10) or csat (1–5)")
    score: int
    responded_on: datetime.date
    stakeholder_id: int | None = None
    comment: str = Field("", max_length=5000)


class SurveyOut(Schema):
    id: int
    account_id: int
    stakeholder_id: int | None
    kind: SurveyKindChoice
    score: int
    responded_on: datetime.date
    comment: str
    batch_id: int | None


class ComponentOut(Schema):
    name: str
    label: str
    value: float | None = Field(None, description="What was measured: NPS, interactions, MRR change in %, overdue actions, % covered")
    contribution: int = Field(..., description="Points this component takes off 100 (0 or negative)")
    weight: int
    counted: bool = Field(..., description="False when the account has no data for it (it then costs nothing)")
    explanation: str


class HealthOut(Schema):
    account: dict[str, Any]
    as_of: datetime.date
    score: int
    band: BandChoice = Field(..., description="green, amber or red")
    components: list[ComponentOut]
    endangered: list[str] = Field(..., description="Codes of the endangerment rules the account meets")
    endangered_reasons: list[str]
    mrr: float
    plan: str
    trend: list[dict[str, Any]] = Field(..., description="Scores of the last 90 daily snapshots, oldest first")


class SettingsPatch(InputSchema):
    weights: dict[str, int] | None = None
    green_from: int | None = None
    amber_from: int | None = None
    engagement_target: int | None = None
    mrr_drop_percent: int | None = None
    overdue_actions_max: int | None = None
    low_engagement: int | None = None
    rules: list[str] | None = None
    upsell_plan: str | None = None
    upsell_from: int | None = None
    cadence_key: CadenceChoice | None = None
    cadence_candidate: CadenceChoice | None = None
    cadence_standard: CadenceChoice | None = None
    checkin_key: CadenceChoice | None = None
    checkin_candidate: CadenceChoice | None = None
    checkin_standard: CadenceChoice | None = None
    onboarding_templates: dict[str, Any] | None = None


class QueueItemOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    account: dict[str, Any] = Field(..., description="id, name")
    mrr_at_risk: float
    days_in_queue: int
    opened_on: datetime.date
    owner: dict[str, Any] | None
    reason: str
    rules: list[str]
    outcome: str | None
    closed_on: datetime.date | None
    note: str
    plan_goal: dict[str, Any] | None = Field(None, description="The account plan's goal carrying the save plan (id, plan_id)")
    actions: list[dict[str, Any]] = Field(..., description="The save plan: id, title, owner, due, done_on, done, plan_action_id")


class QueuePage(Schema):
    items: list[QueueItemOut]
    count: int
    mrr_at_risk: float


class CaseIn(InputSchema):
    reason: str = Field(..., max_length=5000)
    owner_id: int | None = None


class CasePatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    owner_id: int | None = None
    note: str | None = Field(None, max_length=5000)


class CloseIn(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    outcome: OutcomeChoice | None = Field(None, description="saved, downgraded or churned")
    closed_on: datetime.date | None = None
    note: str | None = Field(None, max_length=5000)


class SaveActionIn(InputSchema):
    title: str = Field(..., max_length=200)
    owner_id: int | None = None
    due: datetime.date | None = None


class ReviewIn(InputSchema):
    held_on: datetime.date
    what_changed: str = Field("", max_length=10000)
    plan_progress: str = Field("", max_length=10000)
    risks: str = Field("", max_length=10000)
    decisions: str = Field("", max_length=10000)


class ReviewOut(Schema):
    id: int
    account_id: int
    held_on: datetime.date
    held_by_id: int | None
    health_score: int | None
    what_changed: str
    plan_progress: str
    risks: str
    decisions: str


class SnapshotOut(Schema):
    day: datetime.date
    score: int
    band: BandChoice
    mrr: float
    plan: str
    endangered: list[str]


class StageOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    account_id: int
    position: int
    name: str
    owner: dict[str, Any] | None = Field(..., description="id, username, name")
    planned: datetime.date | None
    done_on: datetime.date | None
    overdue: bool = Field(..., description="Not done and its planned date has passed")
    checklist: list[dict[str, Any]] = Field(..., description='Items: {"item": text, "done": true/false}')


class OnboardingOut(Schema):
    account: dict[str, Any]
    status: str = Field(..., description="none, in_progress, overdue or done (derived from the stages)")
    status_label: str
    stages_total: int
    stages_done: int
    stages_overdue: int
    stages: list[StageOut]


class StartOnboardingIn(InputSchema):
    start: datetime.date | None = Field(None, description="The day the stages are planned from (default today)")
    owner_id: int | None = Field(None, description="Who owns the stages (default the account's KAM)")


class StageIn(InputSchema):
    name: str = Field(..., max_length=200)
    owner_id: int | None = None
    planned: datetime.date | None = None
    checklist: list[Any] = Field(default_factory=list, description='Texts, or {"item": text, "done": bool}')


class StagePatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    name: str | None = Field(None, max_length=200)
    owner_id: int | None = None
    planned: datetime.date | None = None
    done_on: datetime.date | None = Field(None, description="The day it was done (not in the future); null: not done")
    checklist: list[Any] | None = None
    position: int | None = None


class InvoiceOut(Schema):
    invoice_id: str
    amount: float | None
    due: datetime.date
    paid: datetime.date | None
    days_late: int


class PaymentsOut(Schema):
    invoices: int = Field(..., description="Invoices due in the last 180 days")
    overdue: int = Field(..., description="Of them, unpaid past their due date")
    days_late: float | None = Field(..., description="Average days late (unpaid ones: until today)")
    latest: list[InvoiceOut]


class CheckInIn(InputSchema):
    held_on: datetime.date
    attendees: str = Field("", max_length=300)
    feedback: str = Field("", max_length=10000)
    follow_up: str = Field("", max_length=10000)


class CheckInOut(Schema):
    id: int
    account_id: int
    held_on: datetime.date
    held_by_id: int | None
    attendees: str
    feedback: str
    follow_up: str
