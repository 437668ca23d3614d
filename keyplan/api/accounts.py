"""/api/v1/accounts/: the same services as the pages, so both always agree."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError as SchemaValidationError
from ninja.pagination import paginate

from keyplan.accounts import services
from keyplan.accounts.filters import AccountFilter
from keyplan.accounts.models import Account, Competitor, TeamMember
from keyplan.accounts.schemas import (
    AccountIn,
    AccountOut,
    AccountPatch,
    AccountQuery,
    CompetitorIn,
    CompetitorOut,
    LogEntryOut,
    TeamMemberIn,
    TeamMemberOut,
    TeamMemberPatch,
    TierChangeOut,
    TierIn,
)
from keyplan.api.errors import CONFLICT_SHAPES, validation_detail
from keyplan.api.gates import gate, requires, team_managers
from keyplan.api.lookups import require_edit
from keyplan.core.models import User
from keyplan.core.pagination import LimitOffset
from keyplan.core.schemas import InputSchema, VersionConflictOut
from keyplan.core.versions import version_from

router = Router(tags=["accounts"])
kams_router = Router(tags=["accounts"])  # /kams/: the workload page's KAMs and their capacity
CONFLICT_SHAPES[Account] = lambda account: AccountOut.from_orm(account).model_dump(mode="json")
CONFLICT_SHAPES[TeamMember] = lambda member: TeamMemberOut.from_orm(member).model_dump(mode="json")
CONFLICT_SHAPES[Competitor] = lambda competitor: CompetitorOut.from_orm(competitor).model_dump(mode="json")


def _account(request, account_id: int) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), pk=account_id)


def _parent(request, parent_id: int | None) -> Account | None:
    if parent_id is None:
        return None
    parent = services.find_account(request.user, pk=parent_id)
    if parent is None:
        raise ValidationError({"parent_id": f"No account has id {parent_id}."})
    return parent


def _referrer(request, referred_by_id: int | None) -> Account | None:
    if referred_by_id is None:
        return None
    referrer = services.find_account(request.user, pk=referred_by_id)
    if referrer is None:
        raise ValidationError({"referred_by_id": f"No account has id {referred_by_id}."})
    return referrer


def _profile(request, data: dict) -> dict:
    if "parent_id" in data:
        data["parent"] = _parent(request, data.pop("parent_id"))
    if "referred_by_id" in data:
        data["referred_by"] = _referrer(request, data.pop("referred_by_id"))
    return data


@router.get("/", response=list[AccountOut], summary="List accounts")
@paginate(LimitOffset)
def list_accounts(request, filters: Query[AccountQuery]):
    form = AccountFilter({k: v for k, v in filters.dict().items() if v is not None and v is not False})
    if not form.is_valid():
        raise SchemaValidationError(validation_detail(ValidationError(form.errors.as_data()), "query"))
    return form.apply(Account.objects.visible_to(request.user))


@router.post("/", response={201: AccountOut}, summary="Create an account")
@gate(requires(services.can_create_accounts, _("Only KAM leads and admins create accounts.")))
def create_account(request, payload: AccountIn):
    if not services.can_create_accounts(request.user):  # a refusal first, before the body's ids are looked up
        raise PermissionDenied("Only KAM leads and admins create accounts.")
    data = payload.dict()
    tier, reason = data.pop("tier"), data.pop("tier_reason")
    account = services.create_account(by=request.user, data=_profile(request, data), tier=tier, tier_reason=reason)
    return Status(201, account)


@router.get("/{account_id}", response=AccountOut, summary="One account")
def get_account(request, account_id: int):
    return _account(request, account_id)


@router.patch("/{account_id}", response={200: AccountOut, 409: VersionConflictOut}, summary="Change an account's profile")
def patch_account(request, account_id: int, payload: AccountPatch):
    account = _account(request, account_id)
    require_edit(request.user, account)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    return services.update_account(account, by=request.user, changes=_profile(request, changes), version=version)


@router.delete("/{account_id}", response={204: None, 409: VersionConflictOut}, summary="Archive an account (nothing with history is destroyed)")
@gate(requires(services.can_archive, _("Only KAM leads and admins archive or restore an account.")))
def archive_account(request, account_id: int, version: int | None = None):
    services.archive_account(_account(request, account_id), by=request.user, version=version_from(request, version))
    return Status(204, None)


@router.get("/{account_id}/history", response=list[LogEntryOut], summary="Change history of the account, its team and competitors")
@paginate(LimitOffset)
def account_history(request, account_id: int):
    return services.change_log(_account(request, account_id), user=request.user, limit=None)


@router.get("/{account_id}/tier", response=list[TierChangeOut], summary="Key status history, newest first")
@paginate(LimitOffset)
def tier_history(request, account_id: int):
    return _account(request, account_id).tier_changes.select_related("changed_by")


@router.post("/{account_id}/tier", response={201: TierChangeOut}, summary="Change key status, with a reason")
@gate(requires(services.can_set_tier, _("Only KAM leads and admins change key status.")))
def set_tier(request, account_id: int, payload: TierIn):
    change = services.set_tier(_account(request, account_id), by=request.user, **payload.dict())
    return Status(201, change)


@router.get("/{account_id}/team/", response=list[TeamMemberOut], summary="The account team")
@paginate(LimitOffset)
def list_team(request, account_id: int):
    return _account(request, account_id).team_members.select_related("user")


def _team_user(payload: TeamMemberIn) -> User:
    if payload.user_id is not None:
        user = User.objects.filter(pk=payload.user_id).first()
        if user is None:
            raise ValidationError({"user_id": f"No user has id {payload.user_id}."})
        return user
    if payload.username:
        user = User.objects.filter(username=payload.username).first()
        if user is None:
            raise ValidationError({"username": f"No user is named {payload.username!r}."})
        return user
    raise ValidationError({"user_id": "Give user_id or username."})


@router.post("/{account_id}/team/", response={201: TeamMemberOut}, summary="Add a team member")
@gate(team_managers)
def add_team_member(request, account_id: int, payload: TeamMemberIn):
    account = _account(request, account_id)
    if not services.can_manage_team(request.user, account):  # a refusal first, before naming any user
        raise PermissionDenied("Only the account's key account manager, KAM leads and admins change the team.")
    member = services.add_team_member(
        account, by=request.user, user=_team_user(payload), role=payload.role, responsibilities=payload.responsibilities
    )
    return Status(201, member)


def _member(request, account_id: int, member_id: int) -> TeamMember:
    return get_object_or_404(TeamMember.objects.select_related("user", "account"), pk=member_id, account=_account(request, account_id))


@router.patch("/{account_id}/team/{member_id}", response={200: TeamMemberOut, 409: VersionConflictOut},
              summary="Change a team member's role or responsibilities")
@gate(team_managers)
def patch_team_member(request, account_id: int, member_id: int, payload: TeamMemberPatch):
    member = _member(request, account_id, member_id)
    changes = payload.dict(exclude_unset=True)
    version = version_from(request, changes.pop("version", None))
    return services.update_team_member(member, by=request.user, version=version, **changes)


@router.delete("/{account_id}/team/{member_id}", response={204: None, 409: VersionConflictOut}, summary="Remove a team member")
@gate(team_managers)
def remove_team_member(request, account_id: int, member_id: int, version: int | None = None):
    services.remove_team_member(_member(request, account_id, member_id), by=request.user, version=version_from(request, version))
    return Status(204, None)


@router.get("/{account_id}/competitors/", response=list[CompetitorOut], summary="Key competitors")
@paginate(LimitOffset)
def list_competitors(request, account_id: int):
    return _account(request, account_id).competitors.all()


@router.post("/{account_id}/competitors/", response={201: CompetitorOut}, summary="Add a competitor")
def add_competitor(request, account_id: int, payload: CompetitorIn):
    return Status(201, services.add_competitor(_account(request, account_id), by=request.user, **payload.dict()))


@router.delete("/{account_id}/competitors/{competitor_id}", response={204: None, 409: VersionConflictOut}, summary="Remove a competitor")
def remove_competitor(request, account_id: int, competitor_id: int, version: int | None = None):
    competitor = get_object_or_404(Competitor, pk=competitor_id, account=_account(request, account_id))
    services.remove_competitor(competitor, by=request.user, version=version_from(request, version))
    return Status(204, None)


# ---------------------------------------------------------------- KAM workload and capacity


class KamLoadOut(Schema):
    user_id: int
    username: str
    name: str
    capacity: int
    kam_capacity: int | None = Field(description="The capacity set for this KAM; null: the default")
    key_accounts: list[int] = Field(description="Ids of the key accounts they are KAM of")
    accounts_total: int = Field(description="Accounts of any tier they are KAM of")
    over_capacity: bool


class CapacityIn(InputSchema):
    kam_capacity: int | None = Field(description="Key accounts this KAM can carry, 0-50; null restores the default")


def _load(load) -> dict:
    kam = load.kam
    return {"user_id": kam.pk, "username": kam.username, "name": kam.get_full_name() or kam.username,
            "capacity": load.capacity, "kam_capacity": kam.kam_capacity,
            "key_accounts": [account.pk for account in load.key_accounts], "accounts_total": load.accounts_total,
            "over_capacity": load.over_capacity}


@kams_router.get("/", response=list[KamLoadOut], summary="Key account managers with the key accounts they carry (the workload page)")
def list_kams(request):
    return [_load(load) for load in services.kam_workload(request.user).kams]


@kams_router.put("/{user_id}/capacity", response=KamLoadOut,
                 summary="Set how many key accounts a KAM can carry (KAM leads and admins)")
@gate(requires(services.can_create_accounts, "Only KAM leads and admins set capacity."))
def set_capacity(request, user_id: int, payload: CapacityIn):
    from keyplan.core.services import set_kam_capacity

    kam = get_object_or_404(User, pk=user_id, is_active=True)
    set_kam_capacity(kam, by=request.user, capacity=payload.kam_capacity)
    load = next((load for load in services.kam_workload(request.user).kams if load.kam.pk == kam.pk), None)
    if load is None:  # a KAM of no account yet
        load = services.KamLoad(kam, [], 0)
    return _load(load)
