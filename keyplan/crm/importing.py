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
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_update_with_history

from keyplan.accounts.models import (
    Account,
    Lifecycle,
    TeamMember,
    TeamRole,
    Tier,
    TierChange,
    currency_codes,
    time_zone_names,
)
from keyplan.core.db import bulk_insert, fetch_rows, in_list, reserve_ids, staged
from keyplan.core.models import User
from keyplan.crm import checks, columns, presets
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


def _plain(value) -> str | None:
    """A choice (a TextChoices member) as the plain text a frame holds."""
    return None if value is None else str(value)


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
    """Check every row a column at a time (``keyplan.crm.checks``), compare with what is stored by column, write
    the new accounts set-based and the changed ones with their history."""
    column = {name: mapping.get(name, name) for name in columns.ACCOUNT_FIELDS}
    bad = {e.line for e in errors}
    users = _users()
    zones, currencies = sorted(time_zone_names()), sorted(currency_codes())
    if progress:
        progress(f"{frame.height:,} rows read, checking them")
    names = list(columns.ACCOUNT_FIELDS)
    work = frame.select(LINE, *names, "_employees").with_columns(checks.text(n).alias(f"t_{n}") for n in names)
    work = work.filter(pl.col("t_external_id").is_not_null())  # a row without one is reported as missing
    work = work.with_columns(pl.col(LINE).first().over("t_external_id").alias("_first"))
    repeated = work.filter(pl.col(LINE) != pl.col("_first"))
    errors += [_error(line, column["external_id"], ext, "crm_repeated", earlier=first)
               for line, ext, first in repeated.select(LINE, "t_external_id", "_first").iter_rows()]
    work = work.filter(pl.col(LINE) == pl.col("_first"))

    def given(name: str) -> pl.Series:  # the cell as read where it holds something, else null
        return work.select(pl.when(pl.col(f"t_{name}").is_not_null()).then(pl.col(name)))[name]

    count = pl.col("_employees")
    website = work.select(pl.when(pl.col("t_website").str.contains("://", literal=True)).then(pl.col("t_website"))
                          .otherwise(pl.lit("https://") + pl.col("t_website")))["t_website"]
    work = work.with_columns(
        pl.col("t_name").str.slice(0, 200).alias("v_name"),
        checks.lookup(given("industry"), lambda v: _plain(columns.industry(v)), pl.String).alias("v_industry"),
        (count.is_not_null() & ((count < 0) | (count != count.floor()) | (count >= 2**31) | count.is_nan())).alias("_bad_count"),
        checks.lookup(given("country"), columns.country, pl.String).alias("v_country"),
        pl.col("t_city").str.slice(0, 100).alias("v_city"),
        pl.col("t_time_zone").alias("v_time_zone"),
        website.alias("v_website"),
        (checks.valid_urls(website) & (website.str.len_chars() <= 200)).alias("_good_website"),
        checks.lookup(given("lifecycle"), lambda v: _plain(columns.LIFECYCLES.get(columns.word(v))), pl.String).alias("v_lifecycle"),
        pl.col("t_reporting_currency").str.to_uppercase().alias("v_reporting_currency"),
        checks.lookup(given("tier"), lambda v: _plain(columns.TIERS.get(columns.word(v))), pl.String).alias("v_tier"),
        pl.col("t_tier_reason").fill_null("").alias("v_tier_reason"),
        *[checks.lookup(work[f"t_{role}"], lambda v: getattr(users.get(v.casefold()), "pk", None), pl.Int64).alias(f"v_{role}")
          for role in ("kam", "executive_sponsor")],
    ).with_columns(pl.when(~pl.col("_bad_count")).then(count.cast(pl.Int64, strict=False)).alias("v_employees"))
    stored = _stored_accounts()
    work = work.join(stored, left_on="t_external_id", right_on="s_external_id", how="left", maintain_order="left")

    def refuse(name: str, where: pl.Expr, code: str, **params):
        errors.extend(checks.refusals(work, where, column[name], name, code, **params))

    for name, limit in ACCOUNT_TEXT.items():
        refuse(name, pl.col(f"t_{name}").str.len_chars() > limit, "too_long", limit=limit)
    refuse("industry", pl.col("t_industry").is_not_null() & pl.col("v_industry").is_null(), "crm_unknown_industry",
           choices=", ".join(columns.Industry.values))
    refuse("employees", pl.col("_bad_count"), "crm_not_a_count")
    refuse("country", pl.col("t_country").is_not_null() & pl.col("v_country").is_null(), "crm_unknown_country")
    refuse("time_zone", pl.col("t_time_zone").is_not_null() & ~pl.col("t_time_zone").is_in(zones), "crm_unknown_time_zone")
    refuse("website", pl.col("t_website").is_not_null() & ~pl.col("_good_website"), "crm_not_a_url")
    refuse("lifecycle", pl.col("t_lifecycle").is_not_null() & pl.col("v_lifecycle").is_null(), "crm_unknown_lifecycle")
    refuse("reporting_currency", pl.col("t_reporting_currency").is_not_null() & ~pl.col("v_reporting_currency").is_in(currencies),
           "unknown_currency")
    refuse("tier", pl.col("t_tier").is_not_null() & pl.col("v_tier").is_null(), "crm_unknown_tier")
    for role in ("kam", "executive_sponsor"):
        refuse(role, pl.col(f"t_{role}").is_not_null() & pl.col(f"v_{role}").is_null(), "crm_unknown_user")
    no_reason = pl.col("s_id").is_not_null() & pl.col("v_tier").is_not_null() & (pl.col("v_tier") != pl.col("s_tier")) \
        & (pl.col("v_tier_reason") == "")
    errors += [_error(line, column["tier"], cell, "crm_tier_reason", before=before, after=after)
               for line, cell, before, after in work.filter(no_reason).select(LINE, "tier", "s_tier", "v_tier").iter_rows()]

    # Parents, in any order within the file: each names an account of the file or of Keyplan; the
    # hierarchy as it would stand afterwards has no cycle.
    in_file = set(work["t_external_id"].to_list())
    known = set(stored["s_external_id"].to_list())
    lines = dict(work.select("t_external_id", LINE).iter_rows())
    parents = dict(work.filter(pl.col("t_parent").is_not_null()).select("t_external_id", "t_parent").iter_rows())
    if any(parent not in in_file and parent not in known for parent in parents.values()):
        # A parent named rather than identified (Dynamics exports lookups as names): the one account of that name.
        named: dict[str, str | None] = {}
        for ext, name in stored.select("s_external_id", "s_name").iter_rows():
            key = name.casefold()
            named[key] = ext if key not in named or named[key] == ext else None
        for ext, name in work.select("t_external_id", "v_name").iter_rows():
            key = (name or "").casefold()
            if key:
                named[key] = ext if key not in named or named[key] in (ext, ext if ext in known else None) else None
        for external_id, parent in list(parents.items()):
            if parent not in in_file and parent not in known and named.get(parent.casefold()):
                parents[external_id] = named[parent.casefold()]
    for external_id, parent in parents.items():
        line = lines[external_id]
        if parent == external_id:
            errors.append(_error(line, column["parent"], parent, "crm_own_parent"))
        elif parent not in in_file and parent not in known:
            errors.append(_error(line, column["parent"], parent, "crm_unknown_parent"))
    if parents and not any(e.code in ("crm_own_parent", "crm_unknown_parent") for e in errors):
        stored_parents = dict(stored.filter(pl.col("s_parent").is_not_null()).select("s_external_id", "s_parent").iter_rows())
        for external_id, cycle in checks.cycles(list(parents), lambda ext: parents.get(ext, stored_parents.get(ext))).items():
            errors.append(_error(lines[external_id], column["parent"], parents[external_id], "crm_parent_cycle",
                                 path=" → ".join(cycle)))

    result.rows_rejected = len({e.line for e in errors} | bad)
    if errors:
        return _stop_small_import(result, errors, batch, dry_run=dry_run)

    # What would change, compared by column: new accounts, changed fields, changed key status and team.
    holders = pl.DataFrame(fetch_rows(f"SELECT account_id, role, user_id FROM {TeamMember._meta.db_table} WHERE role IN (%s, %s)",
                                      [str(TeamRole.KAM), str(TeamRole.EXECUTIVE_SPONSOR)]),
                           schema={"s_id": pl.Int64, "role": pl.String, "user_id": pl.Int64}, orient="row")
    for role, name in ((TeamRole.KAM, "kam"), (TeamRole.EXECUTIVE_SPONSOR, "executive_sponsor")):
        work = work.join(holders.filter(pl.col("role") == role).select("s_id", pl.col("user_id").alias(f"h_{name}")),
                         on="s_id", how="left", maintain_order="left")
    work = work.with_columns(pl.col("t_external_id").replace_strict(parents, default=None, return_dtype=pl.String).alias("v_parent")
                             if parents else pl.lit(None, dtype=pl.String).alias("v_parent"))
    differs = {name: pl.col(f"v_{name}").is_not_null() & pl.col(f"v_{name}").ne_missing(pl.col(f"s_{name}"))
               for name in (*ACCOUNT_WRITTEN, "parent")}
    team_differs = {name: pl.col(f"v_{name}").is_not_null() & pl.col(f"v_{name}").ne_missing(pl.col(f"h_{name}"))
                    for name in ("kam", "executive_sponsor")}
    old = pl.col("s_id").is_not_null()
    work = work.with_columns(**{f"d_{n}": old & d for n, d in differs.items()}, **{f"d_{n}": old & d for n, d in team_differs.items()},
                             d_tier=old & pl.col("v_tier").is_not_null() & (pl.col("v_tier") != pl.col("s_tier")))
    flags = [f"d_{n}" for n in (*differs, *team_differs, "tier")]
    work = work.with_columns(pl.any_horizontal(flags).alias("_touched"))
    new = work.filter(~old)
    touched = work.filter(pl.col("_touched"))
    result.created, result.updated = new.height, touched.height
    result.unchanged = work.height - result.created - result.updated
    if dry_run:
        return result

    with transaction.atomic():
        if parents:
            from keyplan.accounts.services import _serialize_hierarchy

            _serialize_hierarchy()
        batch = _small_batch("accounts", path, by, mapping, batch)
        now = timezone.now()
        if progress:
            progress(f"writing {new.height:,} new and {touched.height:,} changed accounts")
        ids = dict(stored.select("s_external_id", "s_id").iter_rows())
        made = _create_accounts(new, ids, by=by, batch=batch, now=now)
        ids.update(made)
        undo = {"created": list(made.values()), "replaced": [], "tiers": [], "team": []}
        # Changed accounts: field by field, one history row each, their version raised.
        changed = touched.filter(pl.any_horizontal([f"d_{n}" for n in differs]))
        if changed.height:
            locked = {a.external_id: a for a in Account.objects.select_for_update().filter(pk__in=changed["s_id"].to_list())}
            objects, fields = [], set()
            for row in changed.iter_rows(named=True):
                account = locked[row["t_external_id"]]
                before, after = {}, {}
                for name in differs:
                    if not row[f"d_{name}"]:
                        continue
                    if name == "parent":
                        before["parent"], after["parent"] = account.parent_id, ids[row["v_parent"]]
                        account.parent_id = ids[row["v_parent"]]
                    else:
                        before[name], after[name] = _json(getattr(account, name)), _json(row[f"v_{name}"])
                        setattr(account, name, row[f"v_{name}"])
                    fields.add(name)
                account.version += 1
                objects.append(account)
                undo["replaced"].append([account.pk, before, after])
            bulk_update_with_history(objects, Account, [*sorted(fields), "version", "updated_at"], batch_size=1000,
                                     default_user=by, default_change_reason=f"Import batch {batch.pk}")
        from keyplan.accounts.services import set_tier

        for ext, before, after, reason in touched.filter("d_tier").select("t_external_id", "s_tier", "v_tier", "v_tier_reason").iter_rows():
            set_tier(Account(pk=ids[ext]), by=by, tier=after, reason=reason)
            undo["tiers"].append([ids[ext], before, after])
        for role, name in ((TeamRole.KAM, "kam"), (TeamRole.EXECUTIVE_SPONSOR, "executive_sponsor")):
            for account_id, user_id in touched.filter(f"d_{name}").select("s_id", f"v_{name}").iter_rows():
                holder = TeamMember.objects.filter(account_id=account_id, role=role).first()
                if holder is not None:
                    holder._history_user = by
                    holder.delete()
                member = TeamMember(account_id=account_id, user_id=user_id, role=role)
                member._history_user = by
                member.save()
                undo["team"].append([account_id, role, holder.user_id if holder else None, user_id])
        # Where each account came from, and when it was last in step with it.
        _note_sources(AccountSource, "account_id", work.filter(old).select(pl.col("s_id").alias("account_id")),
                      touched["s_id"].to_list(), created=pl.DataFrame({"account_id": list(made.values())}, schema={"account_id": pl.Int64}),
                      system=result.system, now=now, batch=batch)
        result.undo = undo
        _finish_crm(batch, result)
    return result


def _stored_accounts() -> pl.DataFrame:
    """Every account's imported fields and its parent's external id, as a frame (``s_`` before each name)."""
    table = Account._meta.db_table
    names = ("id", "external_id", "name", *[n for n in ACCOUNT_WRITTEN if n != "name"], "tier")
    schema = {f"s_{n}": (pl.Int64 if n in ("id", "employees") else pl.String) for n in names}
    rows = fetch_rows(f"SELECT {', '.join(f'a.{n}' for n in names)}, p.external_id FROM {table} a "
                      f"LEFT JOIN {table} p ON p.id = a.parent_id", [])
    return pl.DataFrame(rows, schema={**schema, "s_parent": pl.String}, orient="row")


def _insert(model, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``model`` from a frame of some of its fields (by attname), in one bulk write; every other column
    takes its default, the same for every row (one literal). Returns the rows as written (by column)."""
    if not frame.height:
        return frame
    template = model()  # the defaults (and the time of auto_now fields) of the columns the frame leaves out
    extra = []
    renamed = {}
    for f in model._meta.concrete_fields:
        if f.attname in frame.columns:
            if f.column != f.attname:
                renamed[f.attname] = f.column
        elif not f.primary_key:
            value = _db(f, f.pre_save(template, add=True))
            extra.append(pl.lit(value, dtype=pl.Int64 if isinstance(value, int) else pl.String).alias(f.column))
    rows = frame.rename(renamed).with_columns(extra)
    bulk_insert(model._meta.db_table, rows)
    return rows


def _db(field, value):
    """A value as the bulk write takes it: texts, numbers or None (a bool as 1 or 0, dates and times as ISO text)."""
    if field.get_internal_type() == "JSONField":
        return json.dumps(value)
    value = field.get_db_prep_save(value, connection)
    if value is None or isinstance(value, int | str):
        return int(value) if isinstance(value, bool) else value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _create_accounts(new: pl.DataFrame, ids: dict[str, int], *, by, batch, now) -> dict[str, int]:
    """The new accounts as one bulk write, then their parents as one staged UPDATE, then their history rows
    ("+", by whom, when, as simple_history writes them), first key status and team copied or written
    set-based (``INSERT … SELECT``), as ``accounts.services.create_accounts_in_bulk`` does: no ORM object per
    account (10,000 accounts: the ORM's objects and their history took most of the import's time)."""
    if not new.height:
        return {}
    table = Account._meta.db_table
    defaults = {"industry": "", "country": "", "city": "", "time_zone": "", "website": "", "lifecycle": Lifecycle.PROSPECT,
                "reporting_currency": Account._meta.get_field("reporting_currency").default}
    _insert(Account, new.select(
        pl.col("t_external_id").alias("external_id"), pl.col("v_tier").fill_null(Tier.STANDARD).alias("tier"),
        pl.col("v_name").alias("name"), pl.col("v_employees").alias("employees"),
        *[pl.col(f"v_{n}").fill_null(value).alias(n) for n, value in defaults.items()],
    ))
    created_sql, created_params = in_list("external_id", new["t_external_id"].to_list(), "text")
    made = dict(fetch_rows(f"SELECT external_id, id FROM {table} WHERE {created_sql}", created_params))
    every = {**ids, **made}
    linked = [(made[ext], every[parent]) for ext, parent in new.select("t_external_id", "v_parent").iter_rows() if parent]
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
    account_id = pl.col("t_external_id").replace_strict(made, return_dtype=pl.Int64).alias("account_id")
    _insert(TierChange, new.select(
        account_id, pl.lit("").alias("from_tier"), pl.col("v_tier").fill_null(Tier.STANDARD).alias("to_tier"),
        pl.when(pl.col("v_tier_reason") != "").then(pl.col("v_tier_reason")).otherwise(pl.lit(CREATED_REASON)).alias("reason"),
        pl.lit(now.date().isoformat()).alias("effective_date"), pl.lit(by.pk, dtype=pl.Int64).alias("changed_by_id"),
        pl.lit(_db(TierChange._meta.get_field("changed_at"), now)).alias("changed_at")))
    members = pl.concat([new.filter(pl.col(f"v_{name}").is_not_null()).select(
        account_id, pl.col(f"v_{name}").alias("user_id"), pl.lit(str(role)).alias("role"))
        for role, name in ((TeamRole.KAM, "kam"), (TeamRole.EXECUTIVE_SPONSOR, "executive_sponsor"))])
    if members.height:
        _insert(TeamMember, members)
        member_table, member_history = TeamMember._meta.db_table, TeamMember.history.model
        copied = ", ".join(f.column for f in member_history._meta.concrete_fields if not f.name.startswith("history_"))
        accounts_sql, accounts_params = in_list("account_id", members["account_id"].unique().to_list(), "bigint")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {member_history._meta.db_table} ({copied}, history_date, history_change_reason, history_type, "
                f"history_user_id) SELECT {copied}, %s, NULL, '+', %s FROM {member_table} WHERE {accounts_sql}",
                [stamp, by.pk, *accounts_params])
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
    """Check every row a column at a time, find the stored contact each row is (by contact id, else e-mail within
    the account) with joins, compare by column, and write the new contacts set-based."""
    column = {name: mapping.get(name, name) for name in columns.STAKEHOLDER_FIELDS}
    if "name" not in mapping and "first_name" in mapping:
        column["name"] = mapping["first_name"]
    bad = {e.line for e in errors}
    if progress:
        progress(f"{frame.height:,} rows read, checking them")
    names = list(columns.STAKEHOLDER_FIELDS)
    work = frame.select(LINE, *names).with_columns(checks.text(n).alias(f"t_{n}") for n in names)

    # The accounts, by external id; else by name, where one account has it (Dynamics exports a company as its name).
    account_table = Account._meta.db_table
    external_ids = work["t_account_id"].drop_nulls().unique().to_list()
    sql, params = in_list("external_id", external_ids, "text")
    accounts = dict(fetch_rows(f"SELECT external_id, id FROM {account_table} WHERE {sql}", params))
    unknown = set(external_ids) - set(accounts)
    if unknown:
        by_name: dict[str, int | None] = {}
        for pk, name in fetch_rows(f"SELECT id, name FROM {account_table} WHERE archived_at IS NULL ORDER BY name, external_id", []):
            key = name.casefold()
            by_name[key] = pk if key not in by_name else None
        accounts.update({name: by_name[name.casefold()] for name in unknown if by_name.get(name.casefold())})
    work = work.with_columns(pl.col("t_account_id").replace_strict(accounts, default=None, return_dtype=pl.Int64).alias("acc"))
    errors.extend(checks.refusals(work, pl.col("t_account_id").is_not_null() & pl.col("acc").is_null(), column["account_id"],
                                  "account_id", "crm_unknown_account"))
    work = work.filter(pl.col("acc").is_not_null())  # a row without an account id is reported as missing
    account_ids = work["acc"].unique().to_list()
    stored = _stored_stakeholders(account_ids)
    users = _users()
    usernames = {user.pk: user.username for user in users.values()}
    team_sql, team_params = in_list("account_id", account_ids, "bigint")
    team = pl.DataFrame(fetch_rows(f"SELECT DISTINCT account_id, user_id FROM {TeamMember._meta.db_table} WHERE {team_sql}",
                                   team_params), schema={"acc": pl.Int64, "v_owner": pl.Int64}, orient="row", )

    def given(name: str) -> pl.Series:  # the cell as read where it holds something, else null
        return work.select(pl.when(pl.col(f"t_{name}").is_not_null()).then(pl.col(name)))[name]

    def flag(value: str) -> bool | None:
        key = columns.word(value)
        return True if key in columns.TRUE else False if key in columns.FALSE else None

    full = pl.concat_str([pl.col("t_first_name"), pl.col("t_last_name")], separator=" ", ignore_nulls=True)
    work = work.with_columns(
        pl.coalesce(pl.col("t_name"), pl.when(full != "").then(full)).str.slice(0, 200).alias("v_name"),
        *[pl.col(f"t_{n}").str.slice(0, STAKEHOLDER_TEXT[n]).alias(f"v_{n}") for n in ("title", "department", "phone")],
        checks.valid_emails(work["t_email"]).alias("_good_email"),
        *[checks.lookup(given(n), lambda v, table=table: _plain(table.get(columns.word(v))), pl.String).alias(f"v_{n}")
          for n, table in CHOICES.items()],
        checks.lookup(given("key_contact"), flag, pl.Boolean).alias("v_is_key_contact"),
        checks.lookup(work["t_owner"], lambda v: getattr(users.get(v.casefold()), "pk", None), pl.Int64).alias("v_owner"),
        checks.folded(work["t_contact_id"]).alias("_contact_key"),
        checks.folded(work["t_email"]).alias("_email_key"),
    ).with_columns(pl.when(pl.col("_good_email")).then(pl.col("t_email")).alias("v_email"))
    work = work.join(team.with_columns(pl.lit(True).alias("_on_team")), on=["acc", "v_owner"], how="left",
                     maintain_order="left")

    def refuse(name: str, where, code: str, **params):
        errors.extend(checks.refusals(work, where, column[name], name, code, **params))

    for name, limit in STAKEHOLDER_TEXT.items():
        refuse(name, pl.col(f"t_{name}").str.len_chars() > limit, "too_long", limit=limit)
    refuse("email", pl.col("t_email").is_not_null() & ~pl.col("_good_email"), "crm_not_an_email")
    for name in CHOICES:
        refuse(name, pl.col(f"t_{name}").is_not_null() & pl.col(f"v_{name}").is_null(), "crm_unknown_choice",
               choices=CHOICE_NAMES[name])
    refuse("key_contact", pl.col("t_key_contact").is_not_null() & pl.col("v_is_key_contact").is_null(), "crm_unknown_choice",
           choices="yes, no")
    refuse("owner", pl.col("t_owner").is_not_null() & pl.col("v_owner").is_null(), "crm_unknown_user")
    strangers = work.filter(pl.col("v_owner").is_not_null() & pl.col("_on_team").is_null())
    errors += [_error(line, column["owner"], cell, "crm_not_on_team", user=usernames[owner])
               for line, cell, owner in strangers.select(LINE, "owner", "v_owner").iter_rows()]
    work = work.with_columns(pl.when(pl.col("_on_team")).then(pl.col("v_owner")).alias("v_owner_id"))

    # Which stored contact each row is: by its id in the CRM, else by e-mail address within the account.
    sources = pl.DataFrame(fetch_rows(f"SELECT source_id, stakeholder_id FROM {StakeholderSource._meta.db_table} "
                                      f"WHERE system = %s AND source_id <> ''", [result.system]),
                           schema={"t_contact_id": pl.String, "_source": pl.Int64}, orient="row").unique("t_contact_id", keep="last")
    work = work.join(sources, on="t_contact_id", how="left", maintain_order="left").join(
        stored.select(pl.col("s_id").alias("_source"), pl.col("s_account").alias("_source_account")), on="_source", how="left",
        maintain_order="left")
    by_email = stored.filter(pl.col("s_email") != "").with_columns(
        (pl.col("s_account").cast(pl.String) + "\x00" + checks.folded(stored.filter(pl.col("s_email") != "")["s_email"]))
        .alias("_key")).group_by("_key", maintain_order=True).agg(pl.len().alias("_matches"), pl.col("s_id").first().alias("_match"))
    account_key = pl.col("acc").cast(pl.String) + "\x00"
    work = work.with_columns((account_key + pl.col("_contact_key")).alias("_cid_key"), (account_key + pl.col("_email_key")).alias("_mail_key"))
    work = work.join(by_email.rename({"_key": "_mail_key"}), on="_mail_key", how="left", maintain_order="left")
    has_source = pl.col("t_contact_id").is_not_null() & pl.col("_source").is_not_null()
    elsewhere = has_source & pl.col("_source_account").ne_missing(pl.col("acc"))
    twice = ~has_source & pl.col("t_email").is_not_null() & (pl.col("_matches") > 1)
    others = work.filter(elsewhere)
    if others.height:
        found = dict(fetch_rows(f"SELECT s.id, a.external_id FROM {Stakeholder._meta.db_table} s JOIN {account_table} a "
                                f"ON a.id = s.account_id WHERE {in_list('s.id', others['_source'].to_list(), 'bigint')[0]}",
                                in_list("s.id", others["_source"].to_list(), "bigint")[1]))
        errors += [_error(line, column["contact_id"], cell, "crm_contact_elsewhere", account=found.get(source) or "?")
                   for line, cell, source in others.select(LINE, "contact_id", "_source").iter_rows()]
    refuse("email", twice, "crm_email_twice")
    work = work.filter(~(elsewhere | twice).fill_null(False)).with_columns(
        pl.when(has_source).then(pl.col("_source")).when(pl.col("_matches") == 1).then(pl.col("_match")).alias("target"))
    # A person once in the file: the same stored contact, contact id or address twice is the same record twice.
    work = work.with_columns(pl.coalesce("target", -pl.col(LINE)).alias("node"), pl.coalesce(
        "t" + pl.col("target").cast(pl.String), "k" + pl.col("_cid_key"), "k" + pl.col("_mail_key"), "n" + pl.col(LINE).cast(pl.String)
    ).alias("_key"))
    work = work.with_columns(pl.col(LINE).first().over("_key").alias("_first"))
    repeated = pl.col(LINE) != pl.col("_first")
    for name, has in (("contact_id", pl.col("t_contact_id").is_not_null()), ("email", pl.col("t_contact_id").is_null())):
        errors += [_error(line, column[name], cell, "crm_repeated", earlier=first)
                   for line, cell, first in work.filter(repeated & has).select(LINE, name, "_first").iter_rows()]
    work = work.filter(~repeated)
    # An id or address that two people of the file share.
    keys = pl.concat([work.select(LINE, "node", "email", pl.col(k).alias("_k"), pl.lit(i).alias("_i")).filter(pl.col("_k").is_not_null())
                      for i, k in enumerate(("_cid_key", "_mail_key"))]).unique([LINE, "_k"], keep="first").sort(LINE, "_i")
    keys = keys.with_columns(pl.int_range(pl.len()).over("_k").alias("_rank"))
    errors.extend(checks.refusals(keys, pl.col("_rank") > 0, column["email"], "email", "crm_email_twice"))
    file_ids = keys.group_by("_k").agg(pl.col("node").last().alias("_file_node"))
    refuse_rows = work.filter(pl.col("target").is_null() & pl.col("v_name").is_null())
    errors += [_error(line, column["name"], "", "crm_no_name") for line in refuse_rows[LINE].to_list()]
    wrong = {e.line for e in errors} | bad
    planned = work.filter(~pl.col(LINE).is_in(list(wrong))).join(
        stored.rename({"s_id": "target"}), on="target", how="left", maintain_order="left")

    # Reporting lines, resolved within the file (by e-mail or contact id), else among the account's contacts,
    # else by name where one person of the account has it (Dynamics exports lookups as names).
    stored_keys = _stored_keys(stored, sources)
    planned_nodes = planned["node"]
    people = pl.concat([
        stored.filter(~pl.col("s_id").is_in(planned_nodes.implode()) & ~pl.col("s_archived")).select(
            pl.col("s_account").alias("acc"), pl.col("s_name").alias("_name"), pl.col("s_id").alias("node")),
        planned.select("acc", pl.coalesce("v_name", "s_name").alias("_name"), "node")])
    people = people.with_columns((pl.col("acc").cast(pl.String) + "\x00" + checks.folded(people["_name"])).alias("_k")).group_by(
        "_k").agg(pl.len().alias("_n"), pl.col("node").first().alias("_named")).filter(pl.col("_n") == 1).drop("_n")
    lines_with = planned.filter(pl.col("t_reports_to").is_not_null())
    lines_with = lines_with.with_columns((pl.col("acc").cast(pl.String) + "\x00" + checks.folded(lines_with["t_reports_to"])).alias("_k"))
    lines_with = lines_with.join(file_ids, on="_k", how="left", maintain_order="left").join(
        stored_keys, on="_k", how="left", maintain_order="left").join(people, on="_k", how="left", maintain_order="left")
    lines_with = lines_with.with_columns(pl.coalesce("_file_node", "_stored_node", pl.when(
        ~pl.col("t_reports_to").str.contains("@", literal=True)).then(pl.col("_named"))).alias("manager"))
    archived = set(stored.filter("s_archived")["s_id"].to_list()) - set(planned_nodes.to_list())
    unknown_manager = pl.col("manager").is_null()
    own = pl.col("manager") == pl.col("node")
    gone = pl.col("manager").is_in(list(archived))
    errors.extend(checks.refusals(lines_with, unknown_manager, column["reports_to"], "t_reports_to", "crm_unknown_manager"))
    errors.extend(checks.refusals(lines_with, own, column["reports_to"], "t_reports_to", "crm_own_manager"))
    errors.extend(checks.refusals(lines_with, ~unknown_manager & ~own & gone, column["reports_to"], "t_reports_to",
                                  "crm_archived_manager"))
    managers = lines_with.filter(~unknown_manager & ~own & ~gone).select("node", "manager", LINE, "t_reports_to")
    if not any(e.code in ("crm_unknown_manager", "crm_own_manager") for e in errors) and managers.height:
        edges = pl.concat([managers.select(pl.col("node"), pl.col("manager").alias("up")),
                           stored.filter(pl.col("s_reports_to").is_not_null() & ~pl.col("s_id").is_in(managers["node"].implode()))
                           .select(pl.col("s_id").alias("node"), pl.col("s_reports_to").alias("up"))])
        found = checks.cycles_of(edges, managers["node"])
        if found:
            names_of = dict(planned.select("node", pl.coalesce("v_name", "s_name")).iter_rows())
            names_of.update((pk, name) for pk, name in stored.select("s_id", "s_name").iter_rows() if pk not in names_of)
            for node, line, reference in managers.filter(pl.col("node").is_in(list(found))).select("node", LINE, "t_reports_to").iter_rows():
                path = " → ".join(names_of.get(n) or str(n) for n in found[node])
                errors.append(_error(line, column["reports_to"], reference, "crm_manager_cycle", path=path))

    result.rows_rejected = len({e.line for e in errors} | bad)
    if errors:
        return _stop_small_import(result, errors, batch, dry_run=dry_run)

    # What would change, compared by column.
    planned = planned.join(managers.select("node", "manager"), on="node", how="left", maintain_order="left")
    old = pl.col("target").is_not_null()
    differs = {name: old & pl.col(f"v_{name}").is_not_null() & pl.col(f"v_{name}").ne_missing(pl.col(f"s_{name}"))
               for name in STAKEHOLDER_WRITTEN}
    differs["reports_to"] = old & pl.col("manager").is_not_null() & ((pl.col("manager") < 0) | pl.col("manager").ne_missing(pl.col("s_reports_to")))
    planned = planned.with_columns(**{f"d_{n}": d for n, d in differs.items()})
    planned = planned.with_columns(pl.any_horizontal([f"d_{n}" for n in differs]).alias("_changed"))
    new, changed = planned.filter(~old), planned.filter("_changed")
    result.created, result.updated = new.height, changed.height
    result.unchanged = planned.height - new.height - changed.height
    if dry_run:
        return result

    with transaction.atomic():
        # The maps' writes one at a time: their accounts locked in one statement, in the order of their ids
        # (SQLite has one writer at a time: the write of the batch below takes its lock).
        if connection.vendor == "postgresql":
            locking, params = in_list("id", sorted(planned["acc"].unique().to_list()), "bigint")
            fetch_rows(f"SELECT id FROM {Account._meta.db_table} WHERE {locking} ORDER BY id FOR UPDATE", params)
        batch = _small_batch("stakeholders", path, by, mapping, batch)
        now = timezone.now()
        if progress:
            progress(f"writing {new.height:,} new and {changed.height:,} changed contacts")
        reserved = pl.DataFrame({"node": new["node"], "_id": pl.Series(reserve_ids(Stakeholder, new.height), dtype=pl.Int64)})
        resolve = pl.col("manager").replace(reserved["node"], reserved["_id"])
        new = new.with_columns(reserved["_id"].alias("id"), resolve.alias("reports_to_id"))
        _create_stakeholders(new, by=by, batch=batch, now=now)
        undo = {"created": new["id"].to_list(), "replaced": []}
        if changed.height:
            changed = changed.with_columns(resolve.alias("manager"))
            locked = {s.pk: s for s in Stakeholder.objects.select_for_update().filter(pk__in=changed["target"].to_list())}
            objects, fields = [], set()
            for row in changed.iter_rows(named=True):
                person = locked[row["target"]]
                before, after = {}, {}
                for name in differs:
                    if not row[f"d_{name}"]:
                        continue
                    attname = {"reports_to": "reports_to_id"}.get(name, name)
                    value = row["manager"] if name == "reports_to" else row[f"v_{name}"]
                    before[attname], after[attname] = _json(getattr(person, attname)), _json(value)
                    setattr(person, attname, value)
                    fields.add(name if name != "owner_id" else "owner")
                person.version += 1
                objects.append(person)
                undo["replaced"].append([person.pk, before, after])
            bulk_update_with_history(objects, Stakeholder, [*sorted(fields), "version", "updated_at"], batch_size=1000,
                                     default_user=by, default_change_reason=f"Import batch {batch.pk}")
        # Where each contact came from (its id there), and when it was last in step with it.
        _note_sources(StakeholderSource, "stakeholder_id", planned.filter(old).select(pl.col("target").alias("stakeholder_id"),
                                                                                       "t_contact_id"),
                      changed["target"].to_list(), created=new.select(pl.col("id").alias("stakeholder_id"), "t_contact_id"),
                      system=result.system, now=now, batch=batch)
        result.undo = undo
        _finish_crm(batch, result)
    return result


def _stored_stakeholders(account_ids: list[int]) -> pl.DataFrame:
    """The contacts of these accounts, their imported fields as a frame (``s_`` before each name), by name."""
    table = Stakeholder._meta.db_table
    texts = ("name", "title", "department", "email", "phone", "buying_role", "decision_power", "sentiment")
    sql, params = in_list("account_id", account_ids, "bigint")
    rows = fetch_rows(f"SELECT id, account_id, {', '.join(texts)}, CASE WHEN is_key_contact THEN 1 ELSE 0 END, owner_id, "
                      f"reports_to_id, CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END FROM {table} WHERE {sql}", params)
    schema = {"s_id": pl.Int64, "s_account": pl.Int64, **{f"s_{n}": pl.String for n in texts}, "s_is_key_contact": pl.Int64,
              "s_owner_id": pl.Int64, "s_reports_to": pl.Int64, "s_archived": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.with_columns(pl.col("s_is_key_contact", "s_archived").cast(pl.Boolean)).sort("s_name", "s_id")


def _stored_keys(stored: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """(account, e-mail address or contact id, case aside) -> the stored contact it names: by its id in the CRM
    first, else the first contact (by name) with that address."""
    by_email = stored.filter(pl.col("s_email") != "")
    by_email = by_email.select((pl.col("s_account").cast(pl.String) + "\x00" + checks.folded(by_email["s_email"])).alias("_k"),
                               pl.col("s_id").alias("_stored_node"))
    ids = sources.join(stored.select(pl.col("s_id").alias("_source"), "s_account"), on="_source")
    ids = ids.select((pl.col("s_account").cast(pl.String) + "\x00" + checks.folded(ids["t_contact_id"])).alias("_k"),
                     pl.col("_source").alias("_stored_node"))
    return pl.concat([ids.unique("_k", keep="last", maintain_order=True), by_email]).unique("_k", keep="first", maintain_order=True)


def _note_sources(model, key: str, records: pl.DataFrame, changed: list[int], *, created: pl.DataFrame, system: str,
                  now, batch) -> None:
    """Every record of the file was in step with ``system`` at ``now``: one UPDATE for those with a source, one bulk
    write for those without (the records this batch ``created`` among them, not looked for); the batch that
    changed a record is noted on it (a sync that changed nothing leaves none), and a contact's new id in the CRM
    replaces the old."""
    table = model._meta.db_table
    has_id = "source_id" in {f.attname for f in model._meta.concrete_fields}
    stored_id = "source_id" if has_id else "''"
    known = pl.DataFrame(schema={key: pl.Int64, "_stored_id": pl.String})
    if records.height:
        sql, params = in_list(key, records[key].to_list(), "bigint")
        known = pl.DataFrame(fetch_rows(f"SELECT {key}, {stored_id} FROM {table} WHERE {sql}", params), schema=known.schema,
                             orient="row")
    stamp = _db(model._meta.get_field("last_synced_at"), now)
    fresh = pl.concat([records.join(known, on=key, how="anti"), created])
    _insert(model, fresh.select(key, *([pl.col("t_contact_id").fill_null("").alias("source_id")] if has_id else []),
                                pl.lit(system).alias("system"), pl.lit(stamp).alias("last_synced_at"),
                                pl.lit(batch.pk, dtype=pl.Int64).alias("batch_id")))
    if not known.height:
        return
    sql, params = in_list(key, known[key].to_list(), "bigint")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET system = %s, last_synced_at = %s WHERE {sql}", [system, stamp, *params])
        touched = [pk for pk in changed if pk is not None]
        if touched:
            sql, params = in_list(key, touched, "bigint")
            cursor.execute(f"UPDATE {table} SET batch_id = %s WHERE {sql}", [batch.pk, *params])
        if has_id:
            moved = records.join(known, on=key).filter(pl.col("t_contact_id").is_not_null()
                                                      & (pl.col("t_contact_id") != pl.col("_stored_id")))
            for pk, source_id in moved.select(key, "t_contact_id").iter_rows():
                cursor.execute(f"UPDATE {table} SET source_id = %s WHERE {key} = %s", [source_id, pk])


def _create_stakeholders(new: pl.DataFrame, *, by, batch, now) -> None:
    """The new contacts as one bulk write with the ids reserved for them (their managers' too: the reporting
    lines need no order), and their history rows ("+", by whom, when) written from the same frame, with the
    values simple_history would copy: no ORM object per contact, and no new row read back by id."""
    if not new.height:
        return
    defaults = {n: _plain(Stakeholder._meta.get_field(n).get_default())
                for n in ("title", "department", "email", "phone", "buying_role", "decision_power", "sentiment")}
    rows = _insert(Stakeholder, new.select(
        "id", pl.col("acc").alias("account_id"), pl.col("v_name").alias("name"),
        *[pl.col(f"v_{n}").fill_null(value).alias(n) for n, value in defaults.items()],
        pl.col("v_is_key_contact").fill_null(False).alias("is_key_contact"), pl.col("v_owner_id").alias("owner_id"),
        pl.col("reports_to_id").cast(pl.Int64)))
    historical = Stakeholder.history.model
    copied = [f.column for f in historical._meta.concrete_fields if not f.name.startswith("history_")]
    bulk_insert(historical._meta.db_table, rows.select(
        *copied, pl.lit(_db(historical._meta.get_field("history_date"), now)).alias("history_date"),
        pl.lit(f"Created by import batch {batch.pk}").alias("history_change_reason"), pl.lit("+").alias("history_type"),
        pl.lit(by.pk, dtype=pl.Int64).alias("history_user_id")))


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
