"""Accounts and contacts from CRM exports, on the ledger's machinery: read whole (`_read_small`), every row
checked, all rows or none, one batch that a rollback undoes, a report per bad row (line, column, reason).

**Upsert.** Accounts are matched by their external id; contacts by their id in the CRM (a ``contact_id``
column) or else by e-mail address within the account. A match is updated field by field, with history,
where the file's value differs from what is stored; anything else is created; a row the same as what is
stored is left alone (importing the same file twice changes nothing). An empty cell leaves the stored value
as it is: an export that lacks a value does not erase what a KAM typed. Nothing is deleted.

**Rollback.** What the batch changed goes back to what it was (a value changed again since stays), the
KAM and sponsor it set give way to those before, a key status it changed returns with a tier change that
says why, and the accounts and contacts it created are archived (kept, out of every list).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier, TierChange, currency_codes, time_zone_names
from keyplan.core.db import bulk_insert, fetch_rows, in_list, staged
from keyplan.core.models import User
from keyplan.crm import columns, presets
from keyplan.crm.models import AccountSource, StakeholderSource
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.importing import inspection
from keyplan.revenue.importing.batch import _finish
from keyplan.revenue.importing.inspection import ImportResult, RowError, can_import
from keyplan.revenue.importing.small import SmallImportOptions, _read_small, _small_batch, _stop_small_import
from keyplan.revenue.models import BatchStatus, ImportBatch
from keyplan.revenue.reading import LINE, ReadError

__all__ = ["ACCOUNTS", "STAKEHOLDERS", "CrmImportResult", "ReadError", "SmallImportOptions", "import_accounts",
           "import_stakeholders"]

MAX_ROWS = 1_000_000
DEFAULT_SYSTEM = "file"
CREATED_REASON = gettext_noop("Created by a CRM import")

# Why a row is refused, by code (added to the revenue area's reasons, so that the batch page says them in
# the reader's language; the command line and the API say them in English).
REASONS = {
    "crm_repeated": gettext_noop("the same record as line %(earlier)s"),
    "crm_unknown_parent": gettext_noop("no account has this external id, in the file or in Keyplan"),
    "crm_own_parent": gettext_noop("an account cannot be its own parent"),
    "crm_parent_cycle": gettext_noop("the parents make a cycle: %(path)s"),
    "crm_unknown_user": gettext_noop("no active user has this username or e-mail address"),
    "crm_unknown_industry": gettext_noop("unknown industry; use one of %(choices)s"),
    "crm_unknown_lifecycle": gettext_noop("unknown lifecycle; use prospect, onboarding, active or churned"),
    "crm_unknown_tier": gettext_noop("unknown key status; use key, candidate or standard"),
    "crm_tier_reason": gettext_noop("the key status changes from %(before)s to %(after)s: give the reason (tier_reason column)"),
    "crm_unknown_country": gettext_noop("unknown country; use a name or an ISO code such as DE or DEU"),
    "crm_unknown_time_zone": gettext_noop("unknown time zone; use an IANA name such as Europe/Amsterdam"),
    "crm_not_a_url": gettext_noop("not a web address"),
    "crm_not_a_count": gettext_noop("not a whole number of 0 or more"),
    "crm_unknown_account": gettext_noop("unknown account; import the accounts first"),
    "crm_no_name": gettext_noop("the name is missing (a name column, or first and last name)"),
    "crm_not_an_email": gettext_noop("not an e-mail address"),
    "crm_email_twice": gettext_noop("this e-mail address belongs to two contacts of the account"),
    "crm_unknown_manager": gettext_noop("no contact of this account has this e-mail address or contact id"),
    "crm_own_manager": gettext_noop("a person cannot report to themselves"),
    "crm_manager_cycle": gettext_noop("the reporting lines make a cycle: %(path)s"),
    "crm_unknown_choice": gettext_noop("unknown value; use one of %(choices)s"),
    "crm_not_on_team": gettext_noop("%(user)s is not on this account's team; add them to the team first"),
    "crm_contact_elsewhere": gettext_noop("this contact id belongs to a contact of account %(account)s"),
    "crm_archived_manager": gettext_noop("the manager is archived; choose someone still on the map"),
}
inspection.REASONS.update(REASONS)


def _error(at: int, column: str, value, code: str, **params) -> RowError:
    return RowError.of(at, column, None if value is None else str(value), code, **params)


@dataclass
class CrmImportResult(ImportResult):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    system: str = DEFAULT_SYSTEM
    preset: str | None = None  # the CRM export the file was read as
    undo: dict = field(default_factory=dict)  # what a rollback needs; kept on the batch's report

    def as_dict(self) -> dict:
        return {**super().as_dict(), "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "source_system": self.system, "preset": self.preset}


def _finish_crm(batch: ImportBatch, result: CrmImportResult) -> None:
    result.batch = batch
    result.rows_imported, result.rows_duplicate = result.created + result.updated, result.unchanged
    _finish(batch, result, BatchStatus.DONE)
    batch.report = {**batch.report, "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                    "source_system": result.system, "preset": result.preset, "undo": result.undo}
    batch.save(update_fields=["report"])


def _users() -> dict[str, User]:
    """Active users by username, by e-mail address and by full name (case aside; CRMs export owners as names);
    the first by id where two share an address, nobody where two share a name."""
    found: dict[str, User] = {}
    names: dict[str, list[User]] = {}
    for user in User.objects.filter(is_active=True):
        full = " ".join(f"{user.first_name} {user.last_name}".split()).casefold()
        if full:
            names.setdefault(full, []).append(user)
    found.update({name: users[0] for name, users in names.items() if len(users) == 1})
    for user in User.objects.filter(is_active=True).order_by("-pk"):
        if user.email:
            found[user.email.strip().casefold()] = user
    for user in User.objects.filter(is_active=True):
        found[user.username.casefold()] = user
    return found


def _text(row: dict, name: str) -> str:
    value = row.get(name)
    return "" if value is None else " ".join(str(value).split())


def _system(system: str | None, preset: str | None) -> str:
    """Where the records come from: as given, else the CRM whose export the file is, else "file"."""
    return ((system or "").strip() or preset or DEFAULT_SYSTEM)[:40]


def _read(path: Path, kind: str, options: SmallImportOptions, required: tuple, numbers: tuple):
    """The file read whole, with the mapping of the CRM export it is (chosen, or recognised from its header)."""
    chosen = presets.find(options.preset)
    if options.preset and chosen is None:
        raise ReadError(f"Unknown preset {options.preset!r}; use one of {', '.join(presets.NAMES)}.")
    found: list[str | None] = [chosen]

    def choose(headers):
        found[0] = chosen or presets.detect(headers, kind)
        return presets.fields(kind, found[0])

    frame, mapping, errors = _read_small(path, presets.fields(kind), required, options, (), numbers, choose=choose)
    return frame, mapping, errors, found[0]


def _cycle(start: str, parent_of: Callable[[str], str | None]) -> list[str] | None:
    """The cycle met walking up from ``start``, as the path from ``start`` back to it, or None."""
    path, seen, node = [start], {start}, parent_of(start)
    while node is not None:
        if node == start:
            return [*path, start]
        if node in seen:
            return None  # a cycle above, not through start: reported from its own rows
        seen.add(node)
        path.append(node)
        node = parent_of(node)
    return None


# ---------------------------------------------------------------- accounts

ACCOUNT_TEXT = {"name": 200, "city": 100, "external_id": 64}
ACCOUNT_WRITTEN = ("name", "industry", "employees", "country", "city", "time_zone", "website", "lifecycle",
                   "reporting_currency")


def _json(value):
    return value if value is None or isinstance(value, int | str) else str(value)


def import_accounts(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                    batch: ImportBatch | None = None, system: str | None = None,
                    progress: Callable[[str], None] | None = None) -> CrmImportResult:
    """Accounts from a CRM export (CSV or XLSX), upserted by external id: all rows or none."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import accounts.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors, preset = _read(path, "accounts", options, columns.ACCOUNT_REQUIRED, columns.ACCOUNT_NUMBERS)
    if frame.height > MAX_ROWS:
        raise ReadError(f"The file has {frame.height:,} rows; an accounts import takes at most {MAX_ROWS:,}.")
    result = CrmImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run, system=_system(system, preset),
                             preset=preset)
    return _accounts(frame, mapping, errors, result, by=by, path=path, batch=batch, dry_run=options.dry_run, progress=progress)


def _accounts(frame, mapping, errors, result: CrmImportResult, *, by, path, batch, dry_run, progress) -> CrmImportResult:
    column = {name: mapping.get(name, name) for name in columns.ACCOUNT_FIELDS}
    bad = {e.line for e in errors}
    stored = {a.external_id: a for a in Account.objects.all()}  # parents may name any account; 100,000 rows are read in 1 s
    users = _users()
    url = URLValidator()
    zones, currencies = time_zone_names(), currency_codes()
    industries = ", ".join(columns.Industry.values)

    seen: dict[str, int] = {}
    rows: dict[str, dict] = {}  # external id -> the row's values (only the fields the file gives)
    lines: dict[str, int] = {}
    parents: dict[str, str] = {}
    names = [n for n in columns.ACCOUNT_FIELDS]
    for i, row in enumerate(frame.select(LINE, *names, "_employees").iter_rows(named=True)):
        if progress and i and i % 10_000 == 0:
            progress(f"{i:,} rows checked")
        line = row[LINE]
        external_id = _text(row, "external_id")
        if not external_id:
            continue  # reported as missing
        if external_id in seen:
            errors.append(_error(line, column["external_id"], external_id, "crm_repeated", earlier=seen[external_id]))
            continue
        seen[external_id] = line
        values: dict = {}

        def refuse(name, code, **params):
            errors.append(_error(line, column[name], row[name], code, **params))

        for name, limit in ACCOUNT_TEXT.items():
            if len(_text(row, name)) > limit:
                refuse(name, "too_long", limit=limit)
        if _text(row, "name"):
            values["name"] = _text(row, "name")[:200]
        if _text(row, "industry"):
            values["industry"] = columns.industry(row["industry"])
            if values["industry"] is None:
                refuse("industry", "crm_unknown_industry", choices=industries)
        if row["_employees"] is not None:
            count = row["_employees"]
            if count < 0 or count != int(count) or count >= 2**31:
                refuse("employees", "crm_not_a_count")
            else:
                values["employees"] = int(count)
        if _text(row, "country"):
            values["country"] = columns.country(row["country"])
            if values["country"] is None:
                refuse("country", "crm_unknown_country")
        if _text(row, "city"):
            values["city"] = _text(row, "city")[:100]
        if _text(row, "time_zone"):
            values["time_zone"] = _text(row, "time_zone")
            if values["time_zone"] not in zones:
                refuse("time_zone", "crm_unknown_time_zone")
        if _text(row, "website"):
            values["website"] = columns.website(_text(row, "website"))
            try:
                url(values["website"])
                if len(values["website"]) > 200:
                    raise ValidationError("long")
            except ValidationError:
                refuse("website", "crm_not_a_url")
        if _text(row, "lifecycle"):
            values["lifecycle"] = columns.LIFECYCLES.get(columns.word(row["lifecycle"]))
            if values["lifecycle"] is None:
                refuse("lifecycle", "crm_unknown_lifecycle")
        if _text(row, "reporting_currency"):
            values["reporting_currency"] = _text(row, "reporting_currency").upper()
            if values["reporting_currency"] not in currencies:
                refuse("reporting_currency", "unknown_currency")
        if _text(row, "tier"):
            values["tier"] = columns.TIERS.get(columns.word(row["tier"]))
            if values["tier"] is None:
                refuse("tier", "crm_unknown_tier")
        values["tier_reason"] = _text(row, "tier_reason")
        for role in ("kam", "executive_sponsor"):
            if _text(row, role):
                values[role] = users.get(_text(row, role).casefold())
                if values[role] is None:
                    refuse(role, "crm_unknown_user")
        account = stored.get(external_id)
        tier = values.get("tier")
        if account is not None and tier and tier != account.tier and not values["tier_reason"]:
            refuse("tier", "crm_tier_reason", before=account.tier, after=tier)
        if _text(row, "parent"):
            parents[external_id] = _text(row, "parent")
        rows[external_id], lines[external_id] = values, line

    # Parents, in any order within the file: each names an account of the file or of Keyplan; the
    # hierarchy as it would stand afterwards has no cycle.
    def parent_of(external_id: str) -> str | None:
        if external_id in parents:
            return parents[external_id]
        account = stored.get(external_id)
        return None if account is None or account.parent_id is None else by_pk.get(account.parent_id)

    by_pk = {a.pk: ext for ext, a in stored.items()}
    # A parent named rather than identified (Dynamics exports lookups as names): the one account of that name.
    named: dict[str, str | None] = {}
    for ext, account in stored.items():
        key = account.name.casefold()
        named[key] = ext if key not in named or named[key] == ext else None
    for ext, values in rows.items():
        key = values.get("name", "").casefold()
        if key:
            named[key] = ext if key not in named or named[key] in (ext, stored.get(ext) and ext) else None
    for external_id, parent in list(parents.items()):
        if parent not in rows and parent not in stored and named.get(parent.casefold()):
            parents[external_id] = named[parent.casefold()]
    for external_id, parent in parents.items():
        line = lines[external_id]
        if parent == external_id:
            errors.append(_error(line, column["parent"], parent, "crm_own_parent"))
        elif parent not in rows and parent not in stored:
            errors.append(_error(line, column["parent"], parent, "crm_unknown_parent"))
    if not any(e.code in ("crm_own_parent", "crm_unknown_parent") for e in errors):
        for external_id in parents:
            cycle = _cycle(external_id, parent_of)
            if cycle:
                errors.append(_error(lines[external_id], column["parent"], parents[external_id], "crm_parent_cycle",
                                     path=" → ".join(cycle)))

    result.rows_rejected = len({e.line for e in errors} | bad)
    if errors:
        return _stop_small_import(result, errors, batch, dry_run=dry_run)

    # What would change: new accounts, changed fields, changed key status and team.
    holders = {(m.account_id, m.role): m for m in TeamMember.objects.filter(role__in=(TeamRole.KAM, TeamRole.EXECUTIVE_SPONSOR))
               .select_related("user")}
    new, changed, tiers, team = [], [], [], []
    for external_id, values in rows.items():
        account = stored.get(external_id)
        parent = parents.get(external_id)
        if account is None:
            new.append(external_id)
            continue
        diff = {f: values[f] for f in ACCOUNT_WRITTEN if f in values and getattr(account, f) != values[f]}
        if parent is not None and (account.parent_id is None or by_pk[account.parent_id] != parent):
            diff["parent"] = parent
        if values.get("tier") and values["tier"] != account.tier:
            tiers.append((external_id, account.tier, values["tier"], values["tier_reason"]))
        for role, name in ((TeamRole.KAM, "kam"), (TeamRole.EXECUTIVE_SPONSOR, "executive_sponsor")):
            holder = holders.get((account.pk, role))
            if values.get(name) is not None and (holder is None or holder.user_id != values[name].pk):
                team.append((external_id, role, holder, values[name]))
        if diff:
            changed.append((external_id, diff))
    touched = {ext for ext, _ in changed} | {t[0] for t in tiers} | {t[0] for t in team}
    result.created, result.updated = len(new), len(touched)
    result.unchanged = len(rows) - result.created - result.updated
    if dry_run:
        return result

    with transaction.atomic():
        if parents:
            from keyplan.accounts.services import _serialize_hierarchy

            _serialize_hierarchy()
        batch = _small_batch("accounts", path, by, mapping, batch)
        now = timezone.now()
        undo = {"created": [], "replaced": [], "tiers": [], "team": []}
        ids = {ext: a.pk for ext, a in stored.items()}
        ids.update(_create_accounts(new, rows, parents, ids, by=by, batch=batch, now=now))
        created_ids = [ids[ext] for ext in new]
        undo["created"] = created_ids
        # Changed accounts: field by field, one history row each, their version raised.
        if changed:
            locked = {a.external_id: a for a in Account.objects.select_for_update().filter(pk__in=[stored[e].pk for e, _ in changed])}
            objects, fields = [], set()
            for ext, diff in changed:
                account = locked[ext]
                before = {}
                for name, value in diff.items():
                    if name == "parent":
                        before["parent"] = account.parent_id
                        account.parent_id = ids[value]
                        diff = {**diff, "parent": ids[value]}
                        fields.add("parent")
                    else:
                        before[name] = _json(getattr(account, name))
                        setattr(account, name, value)
                        fields.add(name)
                account.version += 1
                objects.append(account)
                undo["replaced"].append([account.pk, before, {k: _json(v) for k, v in diff.items()}])
            bulk_update_with_history(objects, Account, [*sorted(fields), "version", "updated_at"], batch_size=1000,
                                     default_user=by, default_change_reason=f"Import batch {batch.pk}")
        for ext, before, after, reason in tiers:
            from keyplan.accounts.services import set_tier

            set_tier(Account(pk=ids[ext]), by=by, tier=after, reason=reason)
            undo["tiers"].append([ids[ext], before, after])
        for ext, role, holder, user in team:
            if holder is not None:
                holder._history_user = by
                holder.delete()
            member = TeamMember(account_id=ids[ext], user=user, role=role)
            member._history_user = by
            member.save()
            undo["team"].append([ids[ext], role, holder.user_id if holder else None, user.pk])
        new_members = [TeamMember(account_id=ids[ext], user=rows[ext][name], role=role) for ext in new
                       for role, name in ((TeamRole.KAM, "kam"), (TeamRole.EXECUTIVE_SPONSOR, "executive_sponsor"))
                       if rows[ext].get(name) is not None]
        bulk_create_with_history(new_members, TeamMember, batch_size=1000, default_user=by)
        # Where each account came from, and when it was last in step with it.
        sources = {s.account_id: s for s in AccountSource.objects.filter(account_id__in=[ids[e] for e in rows])}
        fresh, synced = [], []
        for ext in rows:
            source = sources.get(ids[ext])
            if source is None:
                fresh.append(AccountSource(account_id=ids[ext], system=result.system, last_synced_at=now, batch=batch))
            else:
                source.system, source.last_synced_at = result.system, now
                if ext in touched:  # the batch that last wrote it (a sync that changed nothing leaves no batch)
                    source.batch = batch
                synced.append(source)
        _insert(AccountSource, [{"account_id": f.account_id, "system": f.system, "last_synced_at": now, "batch_id": batch.pk}
                                 for f in fresh])
        _note_sync(AccountSource, synced, system=result.system, now=now, batch=batch, fields=["batch"])
        result.undo = undo
        _finish_crm(batch, result)
    return result


def _insert(model, rows: list[dict]) -> None:
    """Rows of ``model`` (attname -> value; the others take their defaults) in one bulk write, no ORM object each."""
    if not rows:
        return
    given = set().union(*rows)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in given]
    template = model()  # the defaults (and the time of auto_now fields) of the columns the rows leave out
    columns = {}
    for f in fields:
        if f.attname in given:
            values = [_db(f, row.get(f.attname, getattr(template, f.attname))) for row in rows]
        else:
            values = [_db(f, f.pre_save(template, add=True))] * len(rows)
        first = next((v for v in values if v is not None), None)
        columns[f.column] = pl.Series(f.column, values, dtype=pl.Int64 if isinstance(first, int) else pl.String, strict=False)
    bulk_insert(model._meta.db_table, pl.DataFrame(list(columns.values())))


def _db(field, value):
    """A value as the bulk write takes it: texts, numbers or None (a bool as 1 or 0, dates and times as ISO text)."""
    if field.get_internal_type() == "JSONField":
        return json.dumps(value)
    value = field.get_db_prep_save(value, connection)
    if value is None or isinstance(value, int | str):
        return int(value) if isinstance(value, bool) else value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _create_accounts(new: list[str], rows: dict[str, dict], parents: dict[str, str], ids: dict[str, int], *, by, batch,
                     now) -> dict[str, int]:
    """The new accounts as one bulk write, then their parents as one staged UPDATE, then their history rows
    ("+", by whom, when, as simple_history writes them) and first key status copied by the database from what
    was stored (``INSERT … SELECT``), as ``accounts.services.create_accounts_in_bulk`` does: no ORM object per
    account (10,000 accounts: the ORM's objects and their history took most of the import's time)."""
    if not new:
        return {}
    table = Account._meta.db_table
    _insert(Account, [{"external_id": ext, "tier": rows[ext].get("tier") or Tier.STANDARD,
                       **{f: rows[ext][f] for f in ACCOUNT_WRITTEN if f in rows[ext]}} for ext in new])
    created_sql, created_params = in_list("external_id", new, "text")
    made = dict(fetch_rows(f"SELECT external_id, id FROM {table} WHERE {created_sql}", created_params))
    every = {**ids, **made}
    linked = [(made[ext], every[parents[ext]]) for ext in new if parents.get(ext)]
    if linked:
        frame = pl.DataFrame(linked, schema={"id": pl.Int64, "parent_id": pl.Int64}, orient="row")
        staged(table, frame, f"UPDATE {table} SET parent_id = s.parent_id FROM {{staging}} AS s WHERE {table}.id = s.id")
    historical = Account.history.model
    copied = ", ".join(f.column for f in historical._meta.concrete_fields if not f.name.startswith("history_"))
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {historical._meta.db_table} ({copied}, history_date, history_change_reason, history_type, "
            f"history_user_id) SELECT {copied}, %s, %s, '+', %s FROM {table} WHERE {created_sql}",
            [stamp, f"Created by import batch {batch.pk}", by.pk, *created_params])
    _insert(TierChange, [{"account_id": made[ext], "from_tier": "", "to_tier": rows[ext].get("tier") or Tier.STANDARD,
                          "reason": rows[ext]["tier_reason"] or CREATED_REASON, "effective_date": now.date(),
                          "changed_by_id": by.pk, "changed_at": now} for ext in new])
    return made


def undo_accounts_batch(batch: ImportBatch) -> None:
    """A rolled-back accounts import (inside the rollback's transaction): see the module's docstring."""
    undo = (batch.report or {}).get("undo") or {}
    by, why = batch.rolled_back_by, f"import batch {batch.pk} was rolled back"
    restored = []
    for pk, before, after in undo.get("replaced", []):
        account = Account.objects.filter(pk=pk).first()
        if account is None:
            continue
        back = False
        for name, value in before.items():
            attname = "parent_id" if name == "parent" else name
            if _json(getattr(account, attname)) == after[name]:  # unless changed again since
                setattr(account, attname, value)
                back = True
        if back:
            account.version += 1
            restored.append(account)
    fields = sorted({("parent" if n == "parent" else n) for _, before, _ in undo.get("replaced", []) for n in before})
    if restored:
        bulk_update_with_history(restored, Account, [*fields, "version"], batch_size=1000, default_user=by,
                                 default_change_reason=f"Restored: {why}")
    for pk, before, after in undo.get("tiers", []):
        account = Account.objects.filter(pk=pk, tier=after).first()
        if account is not None:
            TierChange.objects.create(account=account, from_tier=after, to_tier=before, reason=f"Import batch {batch.pk} was rolled back",
                                      effective_date=timezone.localdate(), changed_by=by)
            account.tier = before
            account.version += 1
            account._history_user = by
            account.save(update_fields=["tier", "version", "updated_at"])
    for account_id, role, before, after in undo.get("team", []):
        member = TeamMember.objects.filter(account_id=account_id, role=role, user_id=after).first()
        if member is None:
            continue  # someone chose another holder since
        member._history_user = by
        member.delete()
        if before is not None and User.objects.filter(pk=before, is_active=True).exists():
            TeamMember.objects.filter(account_id=account_id, role=role, user_id=before).delete()
            restored_member = TeamMember(account_id=account_id, role=role, user_id=before)
            restored_member._history_user = by
            restored_member.save()
    created = list(Account.objects.filter(pk__in=undo.get("created", []), archived_at__isnull=True))
    now = timezone.now()
    for account in created:
        account.archived_at = now
        account.version += 1
    bulk_update_with_history(created, Account, ["archived_at", "version"], batch_size=1000, default_user=by,
                             default_change_reason=f"Archived: {why}")
    batch.report = {**(batch.report or {}), "archived": sorted(a.pk for a in created)}


class _Kind:
    """What the upload, the preview and the background task need of a kind (keyplan.revenue.importing.undo)."""

    def __init__(self, kind: str, required: tuple, numbers: tuple, function):
        self.kind, self.required, self.numbers, self.function = kind, required, numbers, function

    def choose(self, headers: list[str], preset: str | None) -> tuple[str | None, dict]:
        preset = preset or presets.detect(headers, self.kind)
        return preset, presets.fields(self.kind, preset)

    @property
    def spec(self):
        from keyplan.revenue.uploads import KindSpec

        fields = presets.fields(self.kind)
        return KindSpec(tuple(fields), self.required, (), self.numbers, fields, {name: columns.LABELS[name] for name in fields},
                        presets.NAMES, self.choose)

    def run(self, path, *, by, options, batch):
        return self.function(path, by=by, options=options, batch=batch)


# ---------------------------------------------------------------- contacts -> stakeholders

STAKEHOLDER_TEXT = {"name": 200, "title": 200, "department": 120, "phone": 50, "email": 254, "contact_id": 64}
STAKEHOLDER_WRITTEN = ("name", "title", "department", "email", "phone", "buying_role", "decision_power", "sentiment",
                       "is_key_contact", "owner_id")
CHOICES = {"buying_role": columns.BUYING_ROLES, "decision_power": columns.DECISION_POWERS, "sentiment": columns.SENTIMENTS}
CHOICE_NAMES = {"buying_role": ", ".join(columns.BuyingRole.values), "decision_power": "high, medium, low",
                "sentiment": "supporter, neutral, critic"}


def import_stakeholders(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                        batch: ImportBatch | None = None, system: str | None = None,
                        progress: Callable[[str], None] | None = None) -> CrmImportResult:
    """Contacts from a CRM export (CSV or XLSX) as stakeholders, upserted by contact id or by e-mail within
    the account: all rows or none; reporting lines resolved within the file and checked for cycles."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import contacts.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors, preset = _read(path, "stakeholders", options, columns.STAKEHOLDER_REQUIRED, ())
    if frame.height > MAX_ROWS:
        raise ReadError(f"The file has {frame.height:,} rows; a contacts import takes at most {MAX_ROWS:,}.")
    result = CrmImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run, system=_system(system, preset),
                             preset=preset)
    return _stakeholders(frame, mapping, errors, result, by=by, path=path, batch=batch, dry_run=options.dry_run,
                         progress=progress)


def _stakeholders(frame, mapping, errors, result: CrmImportResult, *, by, path, batch, dry_run, progress) -> CrmImportResult:
    column = {name: mapping.get(name, name) for name in columns.STAKEHOLDER_FIELDS}
    if "name" not in mapping and "first_name" in mapping:
        column["name"] = mapping["first_name"]
    bad = {e.line for e in errors}
    external_ids = {str(v).strip() for v in frame["account_id"].drop_nulls().to_list()}
    accounts = {a.external_id: a for a in Account.objects.filter(external_id__in=external_ids)} if len(external_ids) < 30_000 else \
        {a.external_id: a for a in Account.objects.all() if a.external_id in external_ids}
    unknown = external_ids - set(accounts)
    if unknown:  # an account named rather than identified (Dynamics exports a contact's company as its name)
        by_name: dict[str, Account | None] = {}
        for a in Account.objects.filter(archived_at__isnull=True):
            key = a.name.casefold()
            by_name[key] = a if key not in by_name else None
        accounts.update({name: by_name[name.casefold()] for name in unknown if by_name.get(name.casefold())})
    account_ids = [a.pk for a in accounts.values()]
    stored: dict[int, Stakeholder] = {}
    by_email: dict[tuple[int, str], list[int]] = {}
    for start in range(0, len(account_ids), 5000):
        for s in Stakeholder.objects.filter(account_id__in=account_ids[start:start + 5000]):
            stored[s.pk] = s
            if s.email:
                by_email.setdefault((s.account_id, s.email.casefold()), []).append(s.pk)
    sources = {s.source_id: s.stakeholder_id for s in StakeholderSource.objects.filter(system=result.system).exclude(source_id="")}
    users = _users()
    team = {}
    for member in TeamMember.objects.filter(account_id__in=account_ids).values_list("account_id", "user_id"):
        team.setdefault(member[0], set()).add(member[1])
    email_ok = EmailValidator()

    planned: list[dict] = []  # per good row: line, account, node, values, manager reference
    seen: dict[object, int] = {}
    file_ids: dict[tuple[int, str], object] = {}  # (account pk, contact id or e-mail) -> node
    names = list(columns.STAKEHOLDER_FIELDS)
    for i, row in enumerate(frame.select(LINE, *names).iter_rows(named=True)):
        if progress and i and i % 10_000 == 0:
            progress(f"{i:,} rows checked")
        line = row[LINE]
        problems = len(errors)

        def refuse(name, code, value=None, **params):
            errors.append(_error(line, column[name], row.get(name) if value is None else value, code, **params))

        external_id = _text(row, "account_id")
        account = accounts.get(external_id)
        if external_id and account is None:
            refuse("account_id", "crm_unknown_account")
            continue
        if account is None:
            continue  # the missing value is reported already
        for name, limit in STAKEHOLDER_TEXT.items():
            if len(_text(row, name)) > limit:
                refuse(name, "too_long", limit=limit)
        values: dict = {}
        name = _text(row, "name") or " ".join(p for p in (_text(row, "first_name"), _text(row, "last_name")) if p)
        if name:
            values["name"] = name[:200]
        for field_name in ("title", "department", "phone"):
            if _text(row, field_name):
                values[field_name] = _text(row, field_name)[:STAKEHOLDER_TEXT[field_name]]
        email = _text(row, "email")
        if email:
            try:
                email_ok(email)
                values["email"] = email
            except ValidationError:
                refuse("email", "crm_not_an_email")
        for field_name, table in CHOICES.items():
            if _text(row, field_name):
                values[field_name] = table.get(columns.word(row[field_name]))
                if values[field_name] is None:
                    refuse(field_name, "crm_unknown_choice", choices=CHOICE_NAMES[field_name])
        if _text(row, "key_contact"):
            flag = columns.word(row["key_contact"])
            if flag in columns.TRUE or flag in columns.FALSE:
                values["is_key_contact"] = flag in columns.TRUE
            else:
                refuse("key_contact", "crm_unknown_choice", choices="yes, no")
        if _text(row, "owner"):
            owner = users.get(_text(row, "owner").casefold())
            if owner is None:
                refuse("owner", "crm_unknown_user")
            elif owner.pk not in team.get(account.pk, set()):
                refuse("owner", "crm_not_on_team", user=owner.username)
            else:
                values["owner_id"] = owner.pk
        # Which stored contact the row is: by its id in the CRM, else by e-mail address within the account.
        contact_id = _text(row, "contact_id")
        target = None
        if contact_id and contact_id in sources:
            target = stored.get(sources[contact_id])
            if target is None or target.account_id != account.pk:
                other = target.account.external_id if target is not None else \
                    Stakeholder.objects.filter(pk=sources[contact_id]).values_list("account__external_id", flat=True).first()
                refuse("contact_id", "crm_contact_elsewhere", account=other or "?")
                continue
        elif email:
            matches = by_email.get((account.pk, email.casefold()), [])
            if len(matches) > 1:
                refuse("email", "crm_email_twice")
                continue
            target = stored[matches[0]] if matches else None
        node = target.pk if target is not None else ("new", line)
        keys = [k for k in ((account.pk, contact_id.casefold()) if contact_id else None,
                            (account.pk, email.casefold()) if email else None) if k]
        key = node if target is not None else (keys[0] if keys else node)
        if key in seen:
            refuse("contact_id" if contact_id else "email", "crm_repeated", earlier=seen[key])
            continue
        seen[key] = line
        for k in keys:
            if k in file_ids and file_ids[k] != node:
                refuse("email", "crm_email_twice")
            file_ids[k] = node
        if target is None and "name" not in values:
            refuse("name", "crm_no_name", value="")
        if len(errors) > problems or line in bad:
            continue
        planned.append({"line": line, "account": account, "node": node, "target": target, "values": values,
                        "manager": _text(row, "reports_to"), "contact_id": contact_id})

    # Reporting lines, resolved within the file (by e-mail or contact id), else among the account's contacts.
    stored_keys: dict[tuple[int, str], int] = {}
    for s in stored.values():
        if s.email:
            stored_keys.setdefault((s.account_id, s.email.casefold()), s.pk)
    for source_id, pk in sources.items():
        if pk in stored:
            stored_keys[(stored[pk].account_id, source_id.casefold())] = pk
    person_names: dict[tuple[int, str], object] = {}
    named_in_file = {p["node"] for p in planned}
    for s in stored.values():
        if s.pk not in named_in_file and s.archived_at is None:
            key = (s.account_id, s.name.casefold())
            person_names[key] = s.pk if key not in person_names else None
    for p in planned:
        name = p["values"].get("name") or (p["target"].name if p["target"] is not None else "")
        key = (p["account"].pk, name.casefold())
        person_names[key] = p["node"] if key not in person_names else None
    managers: dict[object, object] = {}
    for plan in planned:
        reference = plan["manager"]
        if not reference:
            continue
        key = (plan["account"].pk, reference.casefold())
        manager = file_ids.get(key, stored_keys.get(key))
        if manager is None and "@" not in reference:
            manager = person_names.get(key)  # a manager named (Dynamics exports lookups as names), if only one has it
        if manager is None:
            errors.append(_error(plan["line"], column["reports_to"], reference, "crm_unknown_manager"))
        elif manager == plan["node"]:
            errors.append(_error(plan["line"], column["reports_to"], reference, "crm_own_manager"))
        elif not isinstance(manager, tuple) and stored[manager].archived_at is not None and manager not in \
                {p["node"] for p in planned}:
            errors.append(_error(plan["line"], column["reports_to"], reference, "crm_archived_manager"))
        else:
            managers[plan["node"]] = manager
            plan["manager_node"] = manager
    if not any(e.code in ("crm_unknown_manager", "crm_own_manager") for e in errors):
        names_of = {p["node"]: p["values"].get("name") or p["target"].name for p in planned}

        def manager_of(node):
            if node in managers:
                return managers[node]
            return None if isinstance(node, tuple) else stored[node].reports_to_id if node in stored else None

        for plan in planned:
            if plan["node"] in managers:
                cycle = _cycle(plan["node"], manager_of)
                if cycle:
                    path = " → ".join(names_of.get(n) or (stored[n].name if n in stored else str(n)) for n in cycle)
                    errors.append(_error(plan["line"], column["reports_to"], plan["manager"], "crm_manager_cycle", path=path))

    result.rows_rejected = len({e.line for e in errors} | bad)
    if errors:
        return _stop_small_import(result, errors, batch, dry_run=dry_run)

    new, changed = [], []
    for plan in planned:
        target = plan["target"]
        if target is None:
            new.append(plan)
            continue
        diff = {f: v for f, v in plan["values"].items() if getattr(target, f) != v}
        manager = plan.get("manager_node")
        if manager is not None and (isinstance(manager, tuple) or manager != target.reports_to_id):
            diff["reports_to"] = manager
        if diff:
            changed.append((plan, diff))
    result.created, result.updated = len(new), len(changed)
    result.unchanged = len(planned) - len(new) - len(changed)
    if dry_run:
        return result

    with transaction.atomic():
        # The maps' writes one at a time: their accounts locked in one statement, in the order of their ids.
        locking = sorted({p["account"].pk for p in planned})
        for start in range(0, len(locking), 5000):
            list(Account.objects.select_for_update().filter(pk__in=locking[start:start + 5000]).order_by("pk")
                 .values_list("pk", flat=True))
        batch = _small_batch("stakeholders", path, by, mapping, batch)
        now = timezone.now()
        ids: dict[object, int] = {p["node"]: p["node"] for p in planned if p["target"] is not None}
        ids.update(zip((p["node"] for p in new), _reserve_ids(Stakeholder, len(new))))
        _create_stakeholders(new, ids, by=by, batch=batch)
        undo = {"created": [ids[p["node"]] for p in new], "replaced": []}
        if changed:
            locked = {s.pk: s for s in Stakeholder.objects.select_for_update().filter(pk__in=[p["target"].pk for p, _ in changed])}
            objects, fields = [], set()
            for plan, diff in changed:
                person = locked[plan["target"].pk]
                before, after = {}, {}
                for name, value in diff.items():
                    attname = "reports_to_id" if name == "reports_to" else name
                    if name == "reports_to":
                        value = ids.get(value, value)
                    before[attname], after[attname] = _json(getattr(person, attname)), _json(value)
                    setattr(person, attname, value)
                    fields.add(name if name != "owner_id" else "owner")
                person.version += 1
                objects.append(person)
                undo["replaced"].append([person.pk, before, after])
            bulk_update_with_history(objects, Stakeholder, [*sorted(fields), "version", "updated_at"], batch_size=1000,
                                     default_user=by, default_change_reason=f"Import batch {batch.pk}")
        known = {s.stakeholder_id: s for s in StakeholderSource.objects.filter(stakeholder_id__in=list(ids.values()))}
        changed_nodes = {plan["node"] for plan, _ in changed}
        fresh, synced = [], []
        for plan in planned:
            pk = ids[plan["node"]]
            source = known.get(pk)
            if source is None:
                fresh.append(StakeholderSource(stakeholder_id=pk, system=result.system, source_id=plan["contact_id"],
                                               last_synced_at=now, batch=batch))
            else:
                source.system, source.last_synced_at = result.system, now
                if plan["node"] in changed_nodes:
                    source.batch = batch
                if plan["contact_id"] and plan["contact_id"] != source.source_id:
                    source.source_id, source._id_changed = plan["contact_id"], True
                synced.append(source)
        StakeholderSource.objects.bulk_create(fresh, batch_size=1000)
        _note_sync(StakeholderSource, synced, system=result.system, now=now, batch=batch, fields=["batch", "source_id"])
        result.undo = undo
        _finish_crm(batch, result)
    return result


def _note_sync(model, sources: list, *, system: str, now, batch, fields: list[str]) -> None:
    """Every record of the file was in step at ``now``: one UPDATE per 5,000 (a CASE per row, as bulk_update
    writes it, made a re-import of 50,000 unchanged contacts take a minute); rows whose batch or id changed
    get theirs."""
    pks = [s.pk for s in sources]
    for start in range(0, len(pks), 5000):
        model.objects.filter(pk__in=pks[start:start + 5000]).update(system=system, last_synced_at=now)
    changed = [s for s in sources if s.batch_id == batch.pk or getattr(s, "_id_changed", False)]
    model.objects.bulk_update(changed, fields, batch_size=1000)


def _reserve_ids(model, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``model``, taken before they are written: so that rows pointing at one
    another (a contact and their manager) go in as one bulk write, whatever their order. PostgreSQL hands them
    out from the table's sequence; on SQLite the import holds the database's write lock (it wrote its batch
    already), and the ids follow the highest ever given (AUTOINCREMENT's sqlite_sequence moves on as they go in)."""
    if not count:
        return []
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        return [pk for (pk,) in fetch_rows("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                                           [table, count])]
    (top,) = fetch_rows(f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                        f"coalesce((SELECT max(id) FROM {table}), 0))", [table])[0]
    return list(range(top + 1, top + 1 + count))


def _create_stakeholders(new: list[dict], ids: dict, *, by, batch) -> None:
    """The new contacts as one bulk write with the ids reserved for them (their managers' too: the reporting
    lines need no order), and their history rows ("+", by whom, when) copied by the database (``INSERT …
    SELECT``); no ORM object per contact."""
    if not new:
        return
    now = timezone.now()
    _insert(Stakeholder, [{"id": ids[p["node"]], "account_id": p["account"].pk, **p["values"],
                           "reports_to_id": ids.get(p["manager_node"], p["manager_node"]) if p.get("manager_node") is not None else None,
                           "created_at": now, "updated_at": now} for p in new])
    table, historical = Stakeholder._meta.db_table, Stakeholder.history.model
    copied = ", ".join(f.column for f in historical._meta.concrete_fields if not f.name.startswith("history_"))
    created_sql, created_params = in_list("id", [ids[p["node"]] for p in new], "bigint")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {historical._meta.db_table} ({copied}, history_date, history_change_reason, history_type, "
            f"history_user_id) SELECT {copied}, %s, %s, '+', %s FROM {table} WHERE {created_sql}",
            [connection.ops.adapt_datetimefield_value(now), f"Created by import batch {batch.pk}", by.pk, *created_params])


def undo_stakeholders_batch(batch: ImportBatch) -> None:
    """A rolled-back contacts import: changed values go back (unless changed since), created contacts are archived."""
    undo = (batch.report or {}).get("undo") or {}
    by, why = batch.rolled_back_by, f"import batch {batch.pk} was rolled back"
    restored, fields = [], set()
    for pk, before, after in undo.get("replaced", []):
        person = Stakeholder.objects.filter(pk=pk).first()
        if person is None:
            continue
        back = False
        for attname, value in before.items():
            if _json(getattr(person, attname)) == after[attname]:
                setattr(person, attname, value)
                fields.add(attname.removesuffix("_id") if attname in ("reports_to_id", "owner_id") else attname)
                back = True
        if back:
            person.version += 1
            restored.append(person)
    if restored:
        bulk_update_with_history(restored, Stakeholder, [*sorted(fields), "version"], batch_size=1000, default_user=by,
                                 default_change_reason=f"Restored: {why}")
    created = list(Stakeholder.objects.filter(pk__in=undo.get("created", []), archived_at__isnull=True))
    now = timezone.now()
    for person in created:
        person.archived_at = now
        person.version += 1
    bulk_update_with_history(created, Stakeholder, ["archived_at", "version"], batch_size=1000, default_user=by,
                             default_change_reason=f"Archived: {why}")
    batch.report = {**(batch.report or {}), "archived": sorted(p.pk for p in created)}


ACCOUNTS = _Kind("accounts", columns.ACCOUNT_REQUIRED, columns.ACCOUNT_NUMBERS, import_accounts)
STAKEHOLDERS = _Kind("stakeholders", columns.STAKEHOLDER_REQUIRED, (), import_stakeholders)
