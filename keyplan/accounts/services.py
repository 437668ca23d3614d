"""What may happen to accounts, teams, competitors and key status.

Every write is one function: it checks permission, validates, writes inside
one transaction and leaves history (who, when, which fields, old and new).
Views, the API, the CLI and the demo generator all go through here.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account, Competitor, TeamMember, TeamRole, Tier, TierChange
from keyplan.core import history
from keyplan.core.history import LogEntry
from keyplan.core.models import User
from keyplan.core.versions import bump, check_version

# Profile fields a user may set directly; key status goes through set_tier(), archiving through archive_account().
PROFILE_FIELDS = (
    "name",
    "external_id",
    "parent",
    "referred_by",
    "industry",
    "employees",
    "revenue_band",
    "country",
    "city",
    "time_zone",
    "website",
    "lifecycle",
    "onboarding_status",
    "reporting_currency",
    "business_plan",
    "target_audience",
    "relationship_start",
    "relationship_history",
)
SINGLE_HOLDER_ROLES = (TeamRole.KAM, TeamRole.EXECUTIVE_SPONSOR)


# ---------------------------------------------------------------- permissions


def can_create_accounts(user: User) -> bool:
    return user.is_authenticated and user.edits_all_accounts


def can_edit(user: User, account: Account) -> bool:
    return Account.objects.editable_by(user).filter(pk=account.pk).exists()


def can_set_tier(user: User) -> bool:
    # Key status is a program decision: KAM leads and admins take it.
    return user.is_authenticated and user.edits_all_accounts


def _require_edit(user: User, account: Account) -> None:
    if not can_edit(user, account):
        raise PermissionDenied(_("You may not change this account."))


def can_archive(user: User) -> bool:
    # Archiving takes an account out of every list and count: a program decision, like key status.
    return user.is_authenticated and user.edits_all_accounts


def can_assign_leadership(user: User) -> bool:
    """Who adds, changes or removes an account's KAM or executive sponsor: KAM leads and admins."""
    return user.is_authenticated and user.edits_all_accounts


def can_manage_team(user: User, account: Account) -> bool:
    """Who changes the rest of the team: KAM leads, admins and the account's own KAM."""
    if not user.is_authenticated or user.is_read_only:
        return False
    if user.edits_all_accounts:
        return True
    return TeamMember.objects.filter(account=account, user=user, role=TeamRole.KAM).exists()


def can_change_member(user: User, member: TeamMember, *, role: str | None = None) -> bool:
    """Whether ``user`` may change or remove ``member`` (and, with ``role``, give them that role)."""
    if member.role in SINGLE_HOLDER_ROLES or role in SINGLE_HOLDER_ROLES:
        return can_assign_leadership(user)
    return can_manage_team(user, member.account)


def _require_team(user: User, account: Account, *, role: str | None = None, current_role: str | None = None) -> None:
    _require_edit(user, account)
    if role in SINGLE_HOLDER_ROLES or current_role in SINGLE_HOLDER_ROLES:
        if not can_assign_leadership(user):
            raise PermissionDenied(_("Only KAM leads and admins choose an account's key account manager and executive sponsor."))
    elif not can_manage_team(user, account):
        raise PermissionDenied(_("Only the account's key account manager, KAM leads and admins change the team."))


# ---------------------------------------------------------------- lookups


def visible_ids(user: User, ids) -> set[int]:
    """Which of these account ids ``user`` may see (all of them for those who see every account)."""
    ids = {i for i in ids if i is not None}
    if not ids or (user.is_authenticated and user.sees_all_accounts):
        return ids
    return set(Account.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def visible_or_none(user: User, account: Account | None) -> Account | None:
    """``account`` if ``user`` may see it: a parent or referrer outside one's reach is not shown at all."""
    if account is None or not visible_ids(user, [account.pk]):
        return None
    return account


def find_account(user: User, *, pk: int | None = None, external_id: str | None = None) -> Account | None:
    """The account with this id or external id, if ``user`` may see it."""
    accounts = Account.objects.visible_to(user)
    if pk is not None:
        return accounts.filter(pk=pk).first()
    if external_id:
        return accounts.filter(external_id=external_id.strip()).first()
    return None


# ---------------------------------------------------------------- accounts


def _check_profile_fields(data: dict) -> None:
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})


def _save_validated(account: Account, *, by: User) -> None:
    account.full_clean()
    account._history_user = by
    try:
        account.save()
    except IntegrityError as exc:  # a concurrent writer took the external id first
        raise ValidationError({"external_id": _("An account with this external id already exists.")}) from exc


@transaction.atomic
def create_account(
    *, by: User, data: dict, tier: str = Tier.STANDARD, tier_reason: str = ""
) -> Account:
    if not can_create_accounts(by):
        raise PermissionDenied(_("Only KAM leads and admins create accounts."))
    _check_profile_fields(data)
    account = Account(**data, tier=tier)
    _save_validated(account, by=by)
    TierChange.objects.create(
        account=account,
        from_tier="",
        to_tier=account.tier,
        # Stored in English and translated when shown: readers of the history speak other languages.
        reason=tier_reason or gettext_noop("Account created"),
        effective_date=timezone.localdate(),
        changed_by=by,
    )
    return account


@transaction.atomic
def create_accounts_in_bulk(names: dict[str, str], *, by: User, reporting_currency: str, reason: str,
                            ids: dict[str, int] | None = None) -> dict[str, int]:
    """Create many accounts at once (the unknown customers of a revenue import), each as create_account()
    leaves it: its history row (created, by whom, when) and its first key status, in one transaction.

    ``names``: external id -> name. Set-based, because a first import can bring 100,000 customers:
    the accounts go in as one bulk write (every other field its default), and the database copies
    their history rows and key status changes from the stored rows (``INSERT … SELECT``), so no
    ORM object is built per account (100,000 accounts: 1.3 s on SQLite, where
    ``bulk_create_with_history`` took 55 s). Returns external id -> primary key. ``ids``: the ids reserved for
    them (``keyplan.core.db.reserve_ids``), else the database gives them.
    """
    import polars as pl  # here: the command line's start-up does not load it

    from keyplan.core.db import bulk_insert, fetch_rows, in_list

    if not can_create_accounts(by):
        raise PermissionDenied(_("Only KAM leads and admins create accounts."))
    if not names:
        return {}
    table = Account._meta.db_table
    now = timezone.now()
    template = Account(name="", external_id="", reporting_currency=reporting_currency)
    constants = {field.column: _copyable(field.get_db_prep_save(field.pre_save(template, add=True), connection))
                 for field in Account._meta.concrete_fields
                 if not field.primary_key and field.attname not in ("name", "external_id")}
    frame = pl.DataFrame({"external_id": list(names), "name": [(name or external_id)[:200] for external_id, name in names.items()]},
                         schema={"external_id": pl.String, "name": pl.String})
    if ids is not None:
        frame = frame.with_columns(pl.Series("id", [ids[external_id] for external_id in names], dtype=pl.Int64))
    bulk_insert(table, frame.with_columns(pl.lit(value, dtype=pl.String if value is None else None).alias(column)
                                          for column, value in constants.items()))
    if ids is None:
        created, created_params = in_list("external_id", list(names), "text")
        ids = dict(fetch_rows(f"SELECT external_id, id FROM {table} WHERE {created}", created_params))
    else:
        created, created_params = in_list("id", list(ids.values()), "bigint")
    # The history rows simple_history would write ("+", by whom, when), copied from what was stored.
    historical = Account.history.model
    copied = ", ".join(field.column for field in historical._meta.concrete_fields if not field.name.startswith("history_"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {historical._meta.db_table} ({copied}, history_date, history_change_reason, history_type, "
            f"history_user_id) SELECT {copied}, %s, NULL, '+', %s FROM {table} WHERE {created}",
            [connection.ops.adapt_datetimefield_value(now), by.pk, *created_params],
        )
        cursor.execute(
            f"INSERT INTO {TierChange._meta.db_table} (account_id, from_tier, to_tier, reason, reason_code, reason_params, "
            f"effective_date, changed_by_id, changed_at) SELECT id, '', tier, %s, '', '{{}}', %s, %s, %s FROM {table} "
            f"WHERE {created}",
            [reason, connection.ops.adapt_datefield_value(timezone.localdate()), by.pk,
             connection.ops.adapt_datetimefield_value(now), *created_params],
        )
    return ids


def delete_accounts_in_bulk(ids: list[int]) -> None:
    """Take back accounts that ``create_accounts_in_bulk`` wrote for an import that then failed: the accounts,
    their history rows and key status changes. Nothing else can point at them yet."""
    from keyplan.core.db import in_list

    condition, params = in_list("id", ids, "bigint")
    account_condition, _ = in_list("account_id", ids, "bigint")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TierChange._meta.db_table} WHERE {account_condition}", params)
        cursor.execute(f"DELETE FROM {Account.history.model._meta.db_table} WHERE {condition}", params)
        cursor.execute(f"DELETE FROM {Account._meta.db_table} WHERE {condition}", params)


def _copyable(value):
    """A field's database value as a bulk write takes it: texts, numbers or None (a bool as 1 or 0)."""
    if value is None or isinstance(value, int | float | str):
        return int(value) if isinstance(value, bool) else value
    return str(value)  # dates and times in ISO form, which both databases read


HIERARCHY_LOCK = 0x6B70_6172  # an arbitrary number of Keyplan's own: "kpar"


def _serialize_hierarchy() -> None:
    """Parent changes go one at a time, so that the cycle check sees every committed change.

    Two concurrent changes (A under B, B under A) lock different rows, and each would find no cycle
    in what the other has not committed yet. On PostgreSQL a transaction-scoped advisory lock orders
    them (the second then reads the first's parent and refuses); SQLite's write transactions
    (``transaction_mode: IMMEDIATE``) already run one at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HIERARCHY_LOCK])


@transaction.atomic
def update_account(account: Account, *, by: User, changes: dict, version: int | None = None) -> Account:
    """Change profile fields. With ``version`` (the one the writer read): a Conflict if someone saved since."""
    _require_edit(by, account)
    if "tier" in changes:
        raise ValidationError({"tier": _("Change the key status with a reason, not as a profile field.")})
    _check_profile_fields(changes)
    if "parent" in changes:
        # Before the row lock: saving a parent takes a share lock on the parent's row, which the other
        # writer holds; taking the hierarchy lock first keeps the two from waiting on each other.
        _serialize_hierarchy()
    account = Account.objects.select_for_update().get(pk=account.pk)
    check_version(account, version)
    changed = {name: value for name, value in changes.items() if getattr(account, name) != value}
    if not changed:
        return account
    if "external_id" in changed and not by.sees_all_accounts:
        # The external id links the account to the ERP's exports; and a uniqueness error would tell a
        # team member which ids accounts outside their reach hold.
        raise PermissionDenied(_("Only KAM leads and admins change an account's external id."))
    for name, value in changed.items():
        setattr(account, name, value)
    bump(account)
    _save_validated(account, by=by)
    return account


@transaction.atomic
def set_tier(
    account: Account,
    *,
    by: User,
    tier: str,
    reason: str,
    effective_date: datetime.date | None = None,
    reason_code: str = "",
    reason_params: dict | None = None,
) -> TierChange:
    if not can_set_tier(by):
        raise PermissionDenied(_("Only KAM leads and admins change key status."))
    if tier not in Tier.values:
        raise ValidationError({"tier": _("Choose one of: %(choices)s.") % {"choices": ", ".join(Tier.values)}})
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Say why the key status changes; it is kept in the tier history.")})
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.tier == tier:
        raise ValidationError({"tier": _("The account already has this key status.")})
    change = TierChange.objects.create(
        account=account,
        from_tier=account.tier,
        to_tier=tier,
        reason=reason.strip(),
        reason_code=reason_code,
        reason_params=reason_params or {},
        effective_date=effective_date or timezone.localdate(),
        changed_by=by,
    )
    account.tier = tier
    bump(account)
    account._history_user = by
    account.save(update_fields=["tier", "version", "updated_at"])
    return change


def _require_archive(user: User, account: Account) -> None:
    _require_edit(user, account)
    if not can_archive(user):
        raise PermissionDenied(_("Only KAM leads and admins archive or restore an account."))


@transaction.atomic
def archive_account(account: Account, *, by: User, version: int | None = None) -> Account:
    """Accounts with history are never destroyed: archiving hides them from lists and keeps everything."""
    _require_archive(by, account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    check_version(account, version)
    if account.archived_at is None:
        account.archived_at = timezone.now()
        bump(account)
        account._history_user = by
        account.save(update_fields=["archived_at", "version", "updated_at"])
    return account


@transaction.atomic
def restore_account(account: Account, *, by: User) -> Account:
    _require_archive(by, account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.archived_at is not None:
        account.archived_at = None
        bump(account)
        account._history_user = by
        account.save(update_fields=["archived_at", "version", "updated_at"])
    return account


# ---------------------------------------------------------------- teams


def _check_single_holder(account: Account, role: str, *, exclude_pk: int | None = None) -> None:
    if role not in SINGLE_HOLDER_ROLES:
        return
    holder = TeamMember.objects.filter(account=account, role=role).exclude(pk=exclude_pk).select_related("user").first()
    if holder is not None:
        raise ValidationError(
            {
                "role": _("An account has only one %(role)s role, and %(user)s has it already.")
                % {"user": holder.user, "role": TeamRole(role).label}
            }
        )


def _save_member(member: TeamMember, *, by: User) -> TeamMember:
    member.full_clean(validate_constraints=False)
    member._history_user = by
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:
        raise ValidationError({"role": _("This person already has this role on the account.")}) from exc
    return member


@transaction.atomic
def add_team_member(
    account: Account, *, by: User, user: User, role: str, responsibilities: str = ""
) -> TeamMember:
    _require_team(by, account, role=role)
    if role not in TeamRole.values:
        raise ValidationError({"role": _("Choose one of: %(choices)s.") % {"choices": ", ".join(TeamRole.values)}})
    # Lock the account so two people cannot both add a KAM at once.
    Account.objects.select_for_update().get(pk=account.pk)
    _check_single_holder(account, role)
    if TeamMember.objects.filter(account=account, user=user, role=role).exists():
        raise ValidationError({"user": _("%(user)s already has this role on the account.") % {"user": user}})
    if not user.is_active:
        raise ValidationError({"user": _("%(user)s is not an active user.") % {"user": user}})
    member = TeamMember(account=account, user=user, role=role, responsibilities=responsibilities.strip())
    return _save_member(member, by=by)


@transaction.atomic
def update_team_member(
    member: TeamMember, *, by: User, role: str | None = None, responsibilities: str | None = None,
    version: int | None = None,
) -> TeamMember:
    Account.objects.select_for_update().get(pk=member.account_id)
    member = TeamMember.objects.select_related("account").get(pk=member.pk)
    new_role = role if role is not None and role != member.role else None
    _require_team(by, member.account, role=new_role, current_role=member.role if new_role else None)
    check_version(member, version)
    if new_role is not None and new_role not in TeamRole.values:
        raise ValidationError({"role": _("Choose one of: %(choices)s.") % {"choices": ", ".join(TeamRole.values)}})
    before = (member.role, member.responsibilities)
    if new_role is not None:
        _check_single_holder(member.account, role, exclude_pk=member.pk)
        member.role = role
    if responsibilities is not None:
        member.responsibilities = responsibilities.strip()
    if (member.role, member.responsibilities) == before:
        return member
    bump(member)
    return _save_member(member, by=by)


@transaction.atomic
def remove_team_member(member: TeamMember, *, by: User, version: int | None = None) -> None:
    _require_team(by, member.account, current_role=member.role)
    Account.objects.select_for_update().get(pk=member.account_id)
    member = TeamMember.objects.select_related("account", "user").get(pk=member.pk)
    check_version(member, version)
    member._history_user = by
    member.delete()


# ---------------------------------------------------------------- competitors


@transaction.atomic
def add_competitor(account: Account, *, by: User, name: str, unique_selling_point: str = "") -> Competitor:
    _require_edit(by, account)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Name the competitor.")})
    if account.competitors.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("%(name)s is already listed for this account.") % {"name": name}})
    competitor = Competitor(account=account, name=name, unique_selling_point=unique_selling_point.strip())
    competitor.full_clean()
    competitor._history_user = by
    competitor.save()
    return competitor


@transaction.atomic
def remove_competitor(competitor: Competitor, *, by: User, version: int | None = None) -> None:
    _require_edit(by, competitor.account)
    competitor = Competitor.objects.select_for_update().select_related("account").get(pk=competitor.pk)
    check_version(competitor, version)
    competitor._history_user = by
    competitor.delete()


# ---------------------------------------------------------------- history


def change_log(account: Account, *, limit: int | None = 100, user: User | None = None) -> list[LogEntry]:
    """Every change to the account, its team and its competitors, newest first.

    With ``user``: a parent or referrer outside their reach is shown as such, not by name."""
    account_fields = [f for f in PROFILE_FIELDS] + ["tier", "archived_at"]
    records = list(account.history.select_related("history_user").order_by("history_date", "history_id"))
    hidden = None
    if user is not None and not user.sees_all_accounts:
        related = {r.parent_id for r in records} | {r.referred_by_id for r in records}
        seen = visible_ids(user, related)
        hidden = lambda name, value: name in ("parent", "referred_by") and value is not None and value not in seen  # noqa: E731
    entries = history.entries(records, account_fields, lambda r: _("Profile"), hidden=hidden)
    members = TeamMember.history.filter(account_id=account.pk).select_related("history_user", "user")
    for records in history.grouped(members):
        entries += history.entries(
            records,
            ["role", "responsibilities"],
            lambda r: _("Team: %(user)s, %(role)s") % {"user": r.user, "role": r.get_role_display()},
        )
    competitors = Competitor.history.filter(account_id=account.pk).select_related("history_user")
    for records in history.grouped(competitors):
        entries += history.entries(
            records, ["name", "unique_selling_point"], lambda r: _("Competitor: %(name)s") % {"name": r.name}
        )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


# ---------------------------------------------------------------- workload


@dataclass
class KamLoad:
    kam: User
    key_accounts: list[Account]
    accounts_total: int

    @property
    def capacity(self) -> int:
        return self.kam.capacity

    @property
    def over_capacity(self) -> bool:
        return len(self.key_accounts) > self.capacity


@dataclass
class Workload:
    kams: list[KamLoad]
    key_accounts_without_kam: list[Account]

    @property
    def over_capacity(self) -> list[KamLoad]:
        return [load for load in self.kams if load.over_capacity]


def kam_workload(user: User) -> Workload:
    """Each key account manager with the key accounts they carry, against their capacity.

    Team members see their own line only; leads, admins and viewers see every KAM.
    """
    memberships = TeamMember.objects.filter(role=TeamRole.KAM, account__archived_at__isnull=True)
    if not user.sees_all_accounts:
        memberships = memberships.filter(user=user)
    totals = {
        row["user_id"]: row["n"]
        for row in memberships.values("user_id").annotate(n=models.Count("id")).order_by()
    }
    kams = {u.pk: KamLoad(u, [], totals[u.pk]) for u in User.objects.filter(pk__in=totals)}
    for member in memberships.filter(account__tier=Tier.KEY).select_related("account").order_by("account__name"):
        kams[member.user_id].key_accounts.append(member.account)
    loads = sorted(kams.values(), key=lambda load: (-len(load.key_accounts), str(load.kam)))
    without_kam = []
    if user.sees_all_accounts:
        without_kam = list(
            Account.objects.active()
            .filter(tier=Tier.KEY)
            .exclude(pk__in=TeamMember.objects.filter(role=TeamRole.KAM).values("account_id"))
            .order_by("name")
        )
    return Workload(loads, without_kam)
