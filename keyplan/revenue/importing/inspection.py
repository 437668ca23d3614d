"""Stage 1 of an import: who may import, its options, the reasons a row can be refused, and a look at
the file (columns, formats, mapping) before anything runs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_noop

from keyplan.core.models import User
from keyplan.revenue.models import (
    BatchStatus,
    ImportBatch,
)
from keyplan.revenue.reading import (
    LEDGER_FIELDS,
    LEDGER_REQUIRED,
    ReadError,
    Table,
    detect_date_format,
    detect_decimal,
    detect_mapping,
    known_columns,
    open_table,
)

MAX_REPORTED_ERRORS = 1000
SHOWN_VALUE_CHARS = 100


Progress = Callable[[float, str], None]


def can_import(user: User) -> bool:
    # An import changes the numbers of every account: leads and admins only.
    return user.is_authenticated and user.edits_all_accounts


def reporting_currency() -> str:
    return settings.KEYPLAN_REPORTING_CURRENCY


@dataclass
class LedgerOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # source column -> field, overriding detection
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    create_accounts: bool = False
    skip_invalid: bool = False
    dry_run: bool = False


# Why a row is refused, by code. Marked for translation: the batch page shows them in the user's language.
REASONS = {
    "account_missing": gettext_noop("the account id is missing"),
    "date_missing": gettext_noop("the date is missing"),
    "not_a_date": gettext_noop("not a date in the format %(format)s"),
    "date_out_of_range": gettext_noop("the date lies outside %(first)s to %(last)s"),
    "date_format_unknown": gettext_noop("not a recognisable date; give the date format (--date-format)"),
    "amount_missing": gettext_noop("the amount is missing"),
    "value_missing": gettext_noop("the %(field)s is missing"),
    "not_a_number": gettext_noop("not a number"),
    "unknown_currency": gettext_noop("unknown currency; use an ISO 4217 code such as EUR or USD"),
    "unknown_account": gettext_noop("unknown account; create it first or import with --create-accounts"),
    "unknown_account_create_first": gettext_noop("unknown account; create it first"),
    "no_rate": gettext_noop("no exchange rate for %(currency)s on or before %(date)s; import exchange rates first"),
    "line_id_repeated": gettext_noop("this line id appears earlier in the file"),
    "key_collision": gettext_noop("its key collides with line %(line_id)s already imported; change this line id"),
    "key_collision_in_file": gettext_noop("its key collides with line %(line_id)s earlier in the file; change this line id"),
    "rate_not_positive": gettext_noop("a rate must be above 0"),
    "amount_negative": gettext_noop("a monthly amount cannot be negative"),
    "end_before_start": gettext_noop("the end must be after the start"),
    "too_long": gettext_noop("longer than %(limit)s characters"),
    "number_too_large": gettext_noop("too large: at most 16 digits before the decimal point"),
}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str | None
    reason: str  # in English, as the command line, the API and the file of rejected rows say it
    code: str = ""  # a key of REASONS: the batch page says the reason in the user's language
    params: dict = field(default_factory=dict)

    @classmethod
    def of(cls, line: int, column: str, value: str | None, code: str, **params) -> "RowError":
        if value is not None and len(value) > SHOWN_VALUE_CHARS:  # the report quotes the value, not a megabyte of it
            value = value[:SHOWN_VALUE_CHARS] + "…"
        return cls(line, column, value, REASONS[code] % params, code, {k: str(v) for k, v in params.items()})

    def __str__(self) -> str:
        shown = "" if self.value is None else f" ({self.value!r})"
        return f"line {self.line}, {self.column}{shown}: {self.reason}"


@dataclass
class Inspection:
    """What Keyplan makes of a file before importing it: shown as the preview."""

    table: Table
    mapping: dict[str, str]  # field -> source column
    decimal: str
    date_format: str | None

    @property
    def missing(self) -> list[str]:
        return [f for f in LEDGER_REQUIRED if f not in self.mapping]


@dataclass
class ImportResult:
    batch: ImportBatch | None
    rows_total: int = 0
    rows_imported: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    accounts_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rejected_file: Path | None = None
    dry_run: bool = False
    # Rows of rates or subscriptions that the import changed: [pk, values before, values after],
    # kept in the batch report so that a rollback can put the values before back.
    replaced: list[list] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0 or (self.batch is not None and self.batch.status == BatchStatus.DONE)

    def as_dict(self) -> dict:
        return {
            "batch": self.batch.pk if self.batch else None,
            "status": self.batch.status if self.batch else ("dry_run" if self.dry_run else None),
            "rows_total": self.rows_total,
            "rows_imported": self.rows_imported,
            "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected,
            "accounts_created": self.accounts_created,
            "error_count": self.error_count,
            "errors": [e.__dict__ for e in self.errors],
            "rejected_file": str(self.rejected_file) if self.rejected_file else None,
        }


def _apply_overrides(detected: dict[str, str], headers: list[str], overrides: dict[str, str]) -> dict[str, str]:
    mapping = dict(detected)
    for source, target in overrides.items():
        if not target and source in headers:
            # An empty field ignores the column, even one the detection had mapped (the web preview's "ignore").
            mapping = {f: s for f, s in mapping.items() if s != source}
            continue
        if target not in LEDGER_FIELDS:
            raise ReadError(f"--map {source}={target}: {target!r} is not a field; fields are {', '.join(LEDGER_FIELDS)}.")
        if source not in headers:
            raise ReadError(f"--map {source}={target}: the file has no column {source!r}; its columns are {', '.join(headers)}.")
        mapping = {f: s for f, s in mapping.items() if s != source and f != target}
        mapping[target] = source
    return mapping


def inspect_ledger(path: str | Path, options: LedgerOptions | None = None) -> Inspection:
    """Read the header and the first rows, and detect mapping, decimal separator and date format."""
    options = options or LedgerOptions()
    table = open_table(path, delimiter=options.delimiter, sheet=options.sheet,
                       fields=known_columns(LEDGER_FIELDS, options.mapping))
    mapping = _apply_overrides(detect_mapping(table.headers), table.headers, options.mapping)
    column = {h: i for i, h in enumerate(table.headers)}

    def sample(name: str) -> list[str | None]:
        if name not in mapping:
            return []
        index = column[mapping[name]]
        return [row[index] if index < len(row) else None for row in table.sample]

    decimal = options.decimal or detect_decimal(sample("amount") + sample("cost"), delimiter=table.delimiter)
    date_format = options.date_format or detect_date_format(sample("date"))
    return Inspection(table, mapping, decimal, date_format)
