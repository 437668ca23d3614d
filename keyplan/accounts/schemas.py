"""API input and output shapes for accounts; validation of values stays in the model and services."""

import datetime

from ninja import Field, Schema

from keyplan.accounts.models import (
    Account,
    Industry,
    Lifecycle,
    OnboardingStatus,
    RevenueBand,
    TeamRole,
    Tier,
)
from keyplan.core.schemas import VERSION_IN, VERSION_OUT, InputSchema, choice

IndustryChoice = choice(Industry, blank=True)
RevenueBandChoice = choice(RevenueBand, blank=True)
LifecycleChoice = choice(Lifecycle)
OnboardingChoice = choice(OnboardingStatus)
TierChoice = choice(Tier)
TeamRoleChoice = choice(TeamRole)


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(user) -> str:
        return user.get_full_name() or user.username


class AccountOut(Schema):
    id: int
    name: str
    external_id: str
    parent_id: int | None
    referred_by_id: int | None = Field(None, description="Id of the account that referred this one")
    industry: IndustryChoice
    employees: int | None
    revenue_band: RevenueBandChoice
    country: str
    city: str
    time_zone: str
    website: str
    lifecycle: LifecycleChoice
    onboarding_status: OnboardingChoice
    reporting_currency: str
    business_plan: str
    target_audience: str
    relationship_start: datetime.date | None
    relationship_history: str
    tier: TierChoice
    archived_at: datetime.datetime | None
    version: int = Field(description="Raised by every saved change; send it back in a PATCH or DELETE (or If-Match) to be told of a concurrent change (409)")
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_country(account: Account) -> str:
        return account.country.code or ""

    # A parent or referrer outside the reader's reach is null: nothing about it is shown, not even its id.
    @staticmethod
    def resolve_parent_id(account: Account, context) -> int | None:
        return _if_visible(account.parent_id, context)

    @staticmethod
    def resolve_referred_by_id(account: Account, context) -> int | None:
        return _if_visible(account.referred_by_id, context)


def _if_visible(account_id: int | None, context) -> int | None:
    request = (context or {}).get("request")
    if account_id is None or request is None or request.user.sees_all_accounts:
        return account_id
    if not hasattr(request, "keyplan_visible_accounts"):  # once per request, not once per row
        request.keyplan_visible_accounts = set(Account.objects.visible_to(request.user).values_list("pk", flat=True))
    return account_id if account_id in request.keyplan_visible_accounts else None


class AccountIn(InputSchema):
    name: str
    external_id: str
    parent_id: int | None = None
    referred_by_id: int | None = Field(None, description="Id of the account that referred this one")
    industry: IndustryChoice = ""
    employees: int | None = None
    revenue_band: RevenueBandChoice = ""
    country: str = ""
    city: str = ""
    time_zone: str = ""
    website: str = ""
    lifecycle: LifecycleChoice = "prospect"
    onboarding_status: OnboardingChoice = "not_started"
    reporting_currency: str = "EUR"
    business_plan: str = ""
    target_audience: str = ""
    relationship_start: datetime.date | None = None
    relationship_history: str = ""
    tier: TierChoice = "standard"
    tier_reason: str = ""


class AccountPatch(InputSchema):
    version: int | None = Field(None, description="The version you read: a stale one is 409 and nothing is written")
    name: str | None = None
    external_id: str | None = None
    parent_id: int | None = None
    referred_by_id: int | None = None
    industry: IndustryChoice | None = None
    employees: int | None = None
    revenue_band: RevenueBandChoice | None = None
    country: str | None = None
    city: str | None = None
    time_zone: str | None = None
    website: str | None = None
    lifecycle: LifecycleChoice | None = None
    onboarding_status: OnboardingChoice | None = None
    reporting_currency: str | None = None
    business_plan: str | None = None
    target_audience: str | None = None
    relationship_start: datetime.date | None = None
    relationship_history: str | None = None


class AccountQuery(Schema):
    """Query parameters of the account list; their meaning is keyplan.accounts.filters.AccountFilter."""

    q: str | None = None
    external_id: str | None = None
    tier: TierChoice | None = None
    industry: IndustryChoice | None = None
    country: str | None = None
    lifecycle: LifecycleChoice | None = None
    kam: int | None = Field(None, description="User id of the key account manager")
    parent: int | None = Field(None, description="Id of the parent account")
    archived: bool = Field(False, description="List archived accounts instead of active ones")
    sort: str | None = Field(None, description="name, -name, external_id, -external_id, tier, country, industry, lifecycle, -updated")


class TeamMemberOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    user: UserRef
    role: TeamRoleChoice
    responsibilities: str


class TeamMemberIn(InputSchema):
    user_id: int | None = None
    username: str | None = None
    role: TeamRoleChoice
    responsibilities: str = ""


class TeamMemberPatch(InputSchema):
    version: int | None = Field(None, description=VERSION_IN)
    role: TeamRoleChoice | None = None
    responsibilities: str | None = None


class CompetitorOut(Schema):
    id: int
    version: int = Field(description=VERSION_OUT)
    name: str
    unique_selling_point: str


class CompetitorIn(InputSchema):
    name: str
    unique_selling_point: str = ""


class TierIn(InputSchema):
    tier: TierChoice
    reason: str
    effective_date: datetime.date | None = None


class TierChangeOut(Schema):
    id: int
    from_tier: choice(Tier, blank=True) = Field(description='The key status before; "" for an account\'s first')
    to_tier: TierChoice
    reason: str
    reason_code: str = Field("", description="Set when Keyplan wrote the reason (e.g. 'selected'): render it from "
                             "reason_params in the reader's language; empty for a reason a person gave.")
    reason_params: dict = Field(default_factory=dict)
    effective_date: datetime.date
    changed_by: UserRef | None
    changed_at: datetime.datetime


class ChangeOut(Schema):
    field: str
    old: str
    new: str


class LogEntryOut(Schema):
    when: datetime.datetime
    who: str
    subject: str
    action: str
    changes: list[ChangeOut]
