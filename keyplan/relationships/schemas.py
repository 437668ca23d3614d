"""API input and output shapes for relationships; the rules stay in the services."""

import datetime

from ninja import Field, Schema

from keyplan.accounts.schemas import UserRef
from keyplan.core.schemas import VERSION_IN, VERSION_OUT, InputSchema, choice
from keyplan.relationships.models import (
    BuyingRole,
    ContactStrength,
    DecisionPower,
    InteractionKind,
    LineStrength,
    Polarity,
    Sentiment,
)

BuyingRoleChoice = choice(BuyingRole, blank=True)
DecisionPowerChoice = choice(DecisionPower)
SentimentChoice = choice(Sentiment)
ContactStrengthChoice = choice(ContactStrength)
PolarityChoice = choice(Polarity)
LineStrengthChoice = choice(LineStrength)
KindChoice = choice(InteractionKind)


class StakeholderRef(Schema):
    id: int
    name: str


class StakeholderOut(Schema):
    id: int
    version: int
    account_id: int
    name: str
    title: str
    department: str
    external_organisation: str
    is_external: bool
    email: str
    phone: str
    reports_to_id: int | None
    buying_role: BuyingRoleChoice
    decision_power: DecisionPowerChoice
    sentiment: SentimentChoice
    contact_strength: ContactStrengthChoice = Field(description="The value set by hand; used while no interaction is logged")
    contact: str = Field(description="The effective contact strength: computed from interactions when any were held")
    last_contact: datetime.date | None
    is_key_contact: bool
    owner: UserRef | None
    notes: str
    archived_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class StakeholderIn(InputSchema):
    name: str
    title: str = ""
    department: str = ""
    external_organisation: str = ""
    email: str = ""
    phone: str = ""
    reports_to_id: int | None = None
    buying_role: BuyingRoleChoice = ""
    decision_power: DecisionPowerChoice = "medium"
    sentiment: SentimentChoice = "neutral"
    contact_strength: ContactStrengthChoice = "none"
    is_key_contact: bool = False
    owner_id: int | None = None
    notes: str = ""


class StakeholderPatch(InputSchema):
    version: int | None = Field(None, description="The version you read: a stale one is 409 and nothing is written")
    name: str | None = None
    title: str | None = None
    department: str | None = None
    external_organisation: str | None = None
    email: str | None = None
    phone: str | None = None
    reports_to_id: int | None = None
    buying_role: BuyingRoleChoice | None = None
    decision_power: DecisionPowerChoice | None = None
    sentiment: SentimentChoice | None = None
    contact_strength: ContactStrengthChoice | None = None
    is_key_contact: bool | None = None
    owner_id: int | None = None
    notes: str | None = None


class StakeholderQuery(Schema):
    """Query parameters of the stakeholder list; their meaning is keyplan.relationships.filters.StakeholderFilter."""

    q: str | None = None
    department: str | None = None
    buying_role: BuyingRoleChoice | None = None
    decision_power: DecisionPowerChoice | None = None
    sentiment: SentimentChoice | None = None
    contact: str | None = Field(None, description="Effective contact strength: none, weak, medium, strong")
    key_contact: bool | None = Field(None, description="true: key contact points only; false: only the others; absent: both")
    side: str | None = Field(None, description="customer or external")
    owner: int | None = Field(None, description="User id of the relationship owner")
    archived: bool = Field(False, description="List archived stakeholders instead of active ones")
    sort: str | None = Field(None, description="name, -name, department, power, sentiment, last_contact, -last_contact")


class RemovalOut(Schema):
    id: int
    archived: bool = Field(description="True: kept as archived because the interaction log names them; false: deleted")


class InfluenceLineOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    source: StakeholderRef
    target: StakeholderRef
    polarity: PolarityChoice
    strength: LineStrengthChoice
    note: str
    since: datetime.date | None


class InfluenceLineIn(InputSchema):
    source_id: int
    target_id: int
    polarity: PolarityChoice = "positive"
    strength: LineStrengthChoice = "medium"
    note: str = ""
    since: datetime.date | None = None


class InfluenceLinePatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    polarity: PolarityChoice | None = None
    strength: LineStrengthChoice | None = None
    note: str | None = None
    since: datetime.date | None = None


class InteractionOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    kind: KindChoice
    date: datetime.date
    time: datetime.time | None
    duration_minutes: int
    location: str
    summary: str
    stakeholders: list[StakeholderRef]
    users: list[UserRef]
    next_step: str
    next_step_owner: UserRef | None
    next_step_due: datetime.date | None
    next_step_done: bool
    possible_duplicate_of: list[int] = Field(description="Interactions whose open next step looks the same")
    created_by: UserRef | None
    created_at: datetime.datetime

    @staticmethod
    def resolve_stakeholders(interaction) -> list:
        return list(interaction.stakeholders.all())

    @staticmethod
    def resolve_users(interaction) -> list:
        return list(interaction.users.all())

    @staticmethod
    def resolve_possible_duplicate_of(interaction) -> list[int]:
        return getattr(interaction, "possible_duplicate_of", [])


class InteractionIn(InputSchema):
    kind: KindChoice = "meeting"
    date: datetime.date
    time: datetime.time | None = None
    duration_minutes: int = 60
    location: str = ""
    summary: str
    stakeholder_ids: list[int] = []
    user_ids: list[int] = []
    next_step: str = ""
    next_step_owner_id: int | None = None
    next_step_due: datetime.date | None = None


class InteractionPatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    kind: KindChoice | None = None
    date: datetime.date | None = None
    time: datetime.time | None = None
    duration_minutes: int | None = None
    location: str | None = None
    summary: str | None = None
    stakeholder_ids: list[int] | None = None
    user_ids: list[int] | None = None
    next_step: str | None = None
    next_step_owner_id: int | None = None
    next_step_due: datetime.date | None = None
    next_step_done: bool | None = None


class InteractionQuery(Schema):
    """Query parameters of the interaction log; their meaning is keyplan.relationships.filters.InteractionFilter."""

    q: str | None = None
    kind: KindChoice | None = None
    stakeholder: int | None = Field(None, description="Stakeholder id")
    user: int | None = Field(None, description="User id of a participant or next-step owner")
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    when: str | None = Field(None, description="held or planned")
    open_steps: bool = Field(False, description="Only interactions with an open next step")


class ReasonOut(Schema):
    code: str
    text: str


class OwnerRef(Schema):
    id: int
    username: str
    name: str


class PathDetailOut(Schema):
    steps: int
    weakest_line: str = Field(description="weak, medium or strong; reporting when a reporting line is the weakest step")
    links: list[str] = Field(description="Each step in order: influence (a positive influence line) or reporting "
                                         "(a reporting line, up or down)")
    owner: OwnerRef | None = Field(description="The team member who owns the relationship with the path's first person")
    start_contact: str = Field(description="The effective contact strength of the path's first person")
    start_last_contact: datetime.date | None
    stale: bool = Field(description="Nobody contacted the path's first person for the stale threshold or longer (or ever)")


class RiskOut(Schema):
    stakeholder: StakeholderRef
    strength: str
    note: str


class TargetOut(Schema):
    rank: int
    stakeholder: StakeholderRef
    urgent: bool
    score: int
    reasons: list[ReasonOut]
    paths: list[list[StakeholderRef]] = Field(
        description="Each path from the supporter or external party to the target, best first: a start a team member "
                    "owns, then the start's contact strength, then fewer steps, then the stronger weakest step")
    path_details: list[PathDetailOut] = Field(description="For each path, in the same order: its length, weakest line and owner")
    no_path: bool
    best_path_owner: OwnerRef | None
    risks: list[RiskOut] = Field(description="Negative influence lines into the target")


class BuyingCenterOut(Schema):
    department: str
    stakeholders: list[StakeholderRef]


class GapsOut(Schema):
    decision_makers_without_owner: list[StakeholderRef]
    buying_centers_without_contact: list[BuyingCenterOut]


class StaleOut(Schema):
    account: StakeholderRef = Field(description="The account (id and name)")
    stakeholder: StakeholderRef
    key_contact: bool
    buying_role: str
    decision_power: str
    last_contact: datetime.date | None
    days_since: int | None = Field(description="Days since the last contact; null when never contacted")
    owner: OwnerRef | None = Field(description="The team member who owns the relationship")


class InteractionPage(Schema):
    items: list[InteractionOut]
    count: int


class StalePage(Schema):
    items: list[StaleOut]
    count: int


class StaleSettingsOut(Schema):
    days: int = Field(description="A watched relationship with no contact for this many days or more is stale")
    powers: list[str] = Field(description="Decision powers watched: high, medium, low")
    roles: list[str] = Field(description="Buying roles watched: decision_maker, economic_buyer, influencer, champion, "
                                         "user, gatekeeper, blocker")
    key_contacts: bool = Field(description="Whether every key contact point is watched")


class StaleSettingsPatch(InputSchema):
    days: int | None = Field(None, ge=1, le=3650)
    powers: list[str] | None = Field(None, max_length=3)
    roles: list[str] | None = Field(None, max_length=7)
    key_contacts: bool | None = None


class StaleQuery(Schema):
    days: int | None = Field(None, ge=1, le=3650,
                             description="Alert after this many days without contact; the stale threshold setting when left out")
