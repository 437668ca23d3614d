"""``keyplan import opportunities FILE``: a CRM export of opportunities, read and checked whole, written all or nothing.

Reading, the column mapping (``--map``), dates and decimals are the revenue imports' own
(``revenue.importing.small._read_small``); the rules of an opportunity are the services' own
(``services._clean_opportunity``), so a file can hold nothing the page would refuse. A row is
matched to an opportunity by the ``id`` column when the file has one, else by the account's
external id and the opportunity's name (case and spaces aside): a match is updated, anything
else is created, a row the same as what is stored is left alone. One bad row and nothing is
written; the report names each bad row's line, column and reason.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account
from keyplan.core.models import User
from keyplan.planning import services
from keyplan.planning.models import Opportunity, OpportunityKind, Stage
from keyplan.revenue.importing.inspection import MAX_REPORTED_ERRORS, SHOWN_VALUE_CHARS, RowError
from keyplan.revenue.importing.small import SmallImportOptions, _read_small
from keyplan.revenue.reading import LEDGER_FIELDS, LINE, ReadError

__all__ = ["OPPORTUNITY_COLUMNS", "OpportunityImport", "ReadError", "SmallImportOptions", "import_opportunities"]

OPPORTUNITY_COLUMNS = {
    "id": ("id", "opportunity_id", "keyplan_id"),
    "account_id": LEDGER_FIELDS["account_id"],
    "name": ("name", "opportunity", "opportunity_name", "deal", "deal_name", "title", "kans", "naam", "chance", "opportunita"),
    "product_line": ("product_line", "product", "productlijn", "produktlinie", "produkt", "linea_prodotto", "prodotto"),
    "division": ("division", "buying_center", "department", "divisie", "afdeling", "bereich", "abteilung", "divisione"),
    "kind": ("kind", "type", "opportunity_type", "soort", "art", "tipo"),
    "stage": ("stage", "phase", "sales_stage", "fase", "stufe", "phase_verkauf"),
    "amount": ("amount", "value", "deal_value", "bedrag", "waarde", "betrag", "wert", "importo", "valore"),
    "probability": ("probability", "win_probability", "kans_percentage", "wahrscheinlichkeit", "probabilita"),
    "expected_close": ("expected_close", "close_date", "expected_close_date", "closing_date", "verwachte_sluiting",
                       "abschlussdatum", "data_chiusura"),
    "owner": ("owner", "owner_username", "eigenaar", "verantwortlich", "responsabile"),
    "closed_on": ("closed_on", "closed_date", "date_closed", "gesloten_op", "abgeschlossen_am", "chiuso_il"),
    "reason": ("reason", "reason_won_lost", "win_loss_reason", "reden", "grund", "motivo"),
}
REQUIRED = ("account_id", "name")
DATES = ("expected_close", "closed_on")
NUMBERS = ("amount", "probability")
MAX_ROWS = 50_000

# Why a row is refused, by code; the page says it in the reader's language, the CLI and the API in English.
REASONS = {
    "value_missing": gettext_noop("the %(field)s is missing"),
    "not_a_date": gettext_noop("not a date in the format %(format)s"),
    "not_a_number": gettext_noop("not a number"),
    "unknown_account": gettext_noop("unknown account; create it first"),
    "not_yours": gettext_noop("you may not change this account's plans"),
    "unknown_id": gettext_noop("this account has no opportunity with this id"),
    "not_an_id": gettext_noop("an id is a whole number"),
    "ambiguous_name": gettext_noop("the account has several opportunities of this name; give the id column"),
    "repeated": gettext_noop("the same opportunity as line %(line)s"),
    "unknown_kind": gettext_noop("unknown kind; use cross_sell, upsell or new_business"),
    "unknown_stage": gettext_noop("unknown stage; use qualify, develop, propose, negotiate, won or lost"),
    "unknown_owner": gettext_noop("no active user has this username or e-mail address"),
    "rule": gettext_noop("%(message)s"),
}
KINDS = {"cross_sell": OpportunityKind.CROSS_SELL, "cross_selling": OpportunityKind.CROSS_SELL,
         "crosssell": OpportunityKind.CROSS_SELL, "upsell": OpportunityKind.UPSELL, "upselling": OpportunityKind.UPSELL,
         "up_sell": OpportunityKind.UPSELL, "new_business": OpportunityKind.NEW_BUSINESS, "new": OpportunityKind.NEW_BUSINESS,
         "newbusiness": OpportunityKind.NEW_BUSINESS}
STAGES = {**{s: s for s in Stage.values}, "closed_won": Stage.WON, "closed_lost": Stage.LOST, "qualification": Stage.QUALIFY,
          "qualified": Stage.QUALIFY, "proposal": Stage.PROPOSE, "negotiation": Stage.NEGOTIATE,
          "development": Stage.DEVELOP}
WRITTEN = ("name", "product_line", "division", "kind", "stage", "amount", "probability", "expected_close", "owner_id",
           "closed_on", "reason")


def _row_error(at: int, column: str, value, code: str, **params) -> RowError:
    value = None if value is None else str(value)
    if value is not None and len(value) > SHOWN_VALUE_CHARS:
        value = value[:SHOWN_VALUE_CHARS] + "…"
    return RowError(at, column, value, REASONS[code] % params, code, {k: str(v) for k, v in params.items()})


def _word(text: str | None) -> str:
    return "_".join((text or "").strip().casefold().replace("-", " ").split())


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class OpportunityImport:
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def status(self) -> str:
        return "rejected" if self.error_count else "dry_run" if self.dry_run else "done"

    def as_dict(self) -> dict:
        return {"status": self.status, "rows_total": self.rows_total, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "error_count": self.error_count, "mapping": self.mapping,
                "errors": [{"line": e.line, "column": e.column, "value": e.value, "reason": e.reason, "code": e.code,
                            "params": e.params} for e in self.errors]}


def _owners(names: set[str]) -> dict[str, User]:
    """The active users named (by username or e-mail address, case aside), by the name as folded."""
    found: dict[str, User] = {}
    for name in names:  # a handful of distinct owners in a CRM export
        user = User.objects.filter(is_active=True).filter(Q(username__iexact=name) | Q(email__iexact=name)).order_by("pk").first()
        if user is not None:
            found[name.casefold()] = user
    return found


def import_opportunities(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                         progress: Callable[[str], None] | None = None) -> OpportunityImport:
    """Read ``path`` (CSV or XLSX), check every row, and write all rows or none (nothing with ``dry_run``)."""
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, OPPORTUNITY_COLUMNS, REQUIRED, options, DATES, NUMBERS)
    result = OpportunityImport(rows_total=frame.height, dry_run=options.dry_run, mapping=mapping)
    if frame.height > MAX_ROWS:
        raise ReadError(f"The file has {frame.height:,} rows; an opportunities import takes at most {MAX_ROWS:,}.")
    column = {name: mapping.get(name, name) for name in OPPORTUNITY_COLUMNS}
    errors = [_row_error(e.line, e.column, e.value, e.code, **e.params) if e.code in REASONS else e for e in errors]
    bad_lines = {e.line for e in errors}

    visible = Account.objects.visible_to(by)
    external_ids = {str(v).strip() for v in frame["account_id"].drop_nulls().to_list()}
    accounts = {a.external_id: a for a in visible.filter(external_id__in=external_ids)}
    editable = {ext: services.can_edit(by, a) for ext, a in accounts.items()}
    existing: dict[int, dict[str, list[Opportunity]]] = {}
    by_id: dict[int, Opportunity] = {}
    for o in Opportunity.objects.filter(account__in=accounts.values()).select_related("account", "owner"):
        existing.setdefault(o.account_id, {}).setdefault(_key(o.name), []).append(o)
        by_id[o.pk] = o
    owners = _owners({str(v).strip() for v in frame["owner"].drop_nulls().to_list() if str(v).strip()})

    seen: dict[tuple, int] = {}
    planned: list[tuple[Opportunity, bool]] = []  # (opportunity with the row's values, is new)
    columns = [*OPPORTUNITY_COLUMNS, *(f"_{n}" for n in DATES + NUMBERS)]
    for i, row in enumerate(frame.select(LINE, *columns).iter_rows(named=True)):
        if progress and i and i % 1000 == 0:
            progress(f"{i:,} rows checked")
        line = row[LINE]
        external_id = (row["account_id"] or "").strip()
        account = accounts.get(external_id)
        if external_id and account is None:
            errors.append(_row_error(line, column["account_id"], external_id, "unknown_account"))
            continue
        if account is None:
            continue  # the missing value is reported already
        if not editable[external_id]:
            errors.append(_row_error(line, column["account_id"], external_id, "not_yours"))
            continue
        name = (row["name"] or "").strip()
        target: Opportunity | None = None
        raw_id = (row["id"] or "").strip()
        if raw_id:
            if not raw_id.isdigit():
                errors.append(_row_error(line, column["id"], raw_id, "not_an_id"))
                continue
            target = by_id.get(int(raw_id))
            if target is None or target.account_id != account.pk:
                errors.append(_row_error(line, column["id"], raw_id, "unknown_id"))
                continue
            key = ("id", target.pk)
        else:
            same = existing.get(account.pk, {}).get(_key(name), [])
            if len(same) > 1:
                errors.append(_row_error(line, column["name"], name, "ambiguous_name"))
                continue
            target = same[0] if same else None
            key = ("id", target.pk) if target else ("name", account.pk, _key(name))
        if key in seen:
            errors.append(_row_error(line, column["name"], name, "repeated", line=seen[key]))
            continue
        seen[key] = line
        if line in bad_lines:
            continue

        values: dict = {}
        for name_, table in (("kind", KINDS), ("stage", STAGES)):
            raw = row[name_]
            if raw is None or not str(raw).strip():
                continue
            if _word(raw) not in table:
                errors.append(_row_error(line, column[name_], raw, f"unknown_{name_}"))
                break
            values[name_] = table[_word(raw)]
        else:
            owner_name = (row["owner"] or "").strip()
            if owner_name:
                owner = owners.get(owner_name.casefold())
                if owner is None:
                    errors.append(_row_error(line, column["owner"], owner_name, "unknown_owner"))
                    continue
                values["owner"] = owner
            for name_ in ("product_line", "division", "reason"):
                if name_ in mapping and row[name_] is not None:
                    values[name_] = row[name_].strip()
            if row["_amount"] is not None:
                values["amount"] = decimal.Decimal(str(row["_amount"]))
            if row["_probability"] is not None:
                values["probability"] = decimal.Decimal(str(row["_probability"]))
            for name_ in DATES:
                if name_ in mapping:
                    values[name_] = row[f"_{name_}"]
            values["name"] = name
            opportunity = Opportunity(account=account) if target is None else _copy(target)
            for name_, value in values.items():
                setattr(opportunity, name_, value)
            try:
                services._clean_opportunity(opportunity)
            except ValidationError as error:
                for field_name, messages in error.message_dict.items():
                    errors.append(_row_error(line, column.get(field_name, field_name), row.get(field_name), "rule",
                                             message=" ".join(messages)))
                continue
            planned.append((opportunity, target is None))

    result.errors = sorted(errors, key=lambda e: (e.line, e.column))[:MAX_REPORTED_ERRORS]
    result.error_count = len(errors)
    if errors:
        return result
    changed = []
    for opportunity, new in planned:
        if new:
            result.created += 1
        elif [getattr(opportunity, f) for f in WRITTEN] != [getattr(by_id[opportunity.pk], f) for f in WRITTEN]:
            result.updated += 1
            changed.append(opportunity)
        else:
            result.unchanged += 1
    if options.dry_run:
        return result
    with transaction.atomic():
        for opportunity, new in planned:
            if new:
                services._save(opportunity, by=by)
        for opportunity in changed:
            stored = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
            opportunity.version = stored.version + 1
            services._save(opportunity, by=by)
    return result


def _copy(opportunity: Opportunity) -> Opportunity:
    """An unsaved copy to apply a row to, so that the stored one stays as it was to compare with."""
    copy = Opportunity(**{f.attname: getattr(opportunity, f.attname) for f in Opportunity._meta.concrete_fields})
    copy.account = opportunity.account
    return copy


def import_upload(file, *, by: User, options: SmallImportOptions | None = None) -> OpportunityImport:
    """An uploaded file (the page's and the API's), read from a private temporary folder and removed after.

    Raises ValidationError naming ``file`` for a missing, empty, too large or unreadable file."""
    import tempfile

    from django.conf import settings

    from keyplan.revenue.uploads import EXTENSIONS, _safe_name, max_upload_bytes

    if file is None:
        raise ValidationError({"file": "Choose a file to upload."})
    name = _safe_name(file.name)
    if Path(name).suffix not in EXTENSIONS:
        raise ValidationError({"file": f"{file.name}: upload a CSV or an Excel workbook (.xlsx)."})
    if not file.size:
        raise ValidationError({"file": f"{file.name} is empty."})
    if file.size > max_upload_bytes():
        raise ValidationError({"file": f"{file.name} is {file.size / 1048576:.0f} MB; the limit is "
                                       f"{settings.KEYPLAN_UPLOAD_MAX_MB} MB. Larger files import with `keyplan import`."})
    with tempfile.TemporaryDirectory(prefix="keyplan-opportunities-") as folder:
        path = Path(folder) / name
        with open(path, "wb") as target:
            for chunk in file.chunks():
                target.write(chunk)
        try:
            return import_opportunities(path, by=by, options=options)
        except ReadError as error:
            raise ValidationError({"file": str(error)}) from None
