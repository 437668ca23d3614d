"""Imports started from the web or the API: the uploaded file, its preview, and the background task.

An upload is saved under ``KEYPLAN_UPLOAD_DIR/<token>/<file name>``, where the web and
the worker processes both find it. The preview reads its header and first rows and
shows what the import would make of them; starting the import records a batch and
queues ``keyplan.revenue.tasks.run_import``, which runs the same import functions as
the command line and deletes the file afterwards (rejected rows written with
skip-invalid stay for download).
"""

import datetime
import hashlib
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile

from keyplan.core.models import User
from keyplan.revenue.models import BatchStatus, ImportBatch, ImportKind
from keyplan.revenue.reading import (
    DATE_FORMATS,
    LEDGER_FIELDS,
    LEDGER_REQUIRED,
    ReadError,
    detect_date_format,
    detect_decimal,
    detect_mapping,
    known_columns,
    open_table,
)
from keyplan.revenue.importing.batch import _file_sha256
from keyplan.revenue.services import (
    RATE_FIELDS,
    SUBSCRIPTION_FIELDS,
    LedgerOptions,
    can_import,
    inspect_ledger,
)

EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
PREVIEW_ROWS = 10
STALE_AFTER = datetime.timedelta(days=1)
REJECTED_KEPT = datetime.timedelta(days=30)
DELIMITERS = {",": ",", ";": ";", "\t": "tab", "|": "|"}
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class KindSpec:
    fields: tuple[str, ...]
    required: tuple[str, ...]
    dates: tuple[str, ...]
    numbers: tuple[str, ...]
    synonyms: dict
    labels: dict = field(default_factory=dict)  # field -> its name on the preview (FIELD_LABELS has the revenue ones)
    presets: tuple[str, ...] = ()  # named sets of column names (CRM exports) the preview offers
    # (headers, preset chosen or None) -> (the preset to read with or None, the synonyms to map with)
    choose: object = None
    # Files that are not tables (a calendar, a mailbox): the suffixes they have, the yes/no choices they take
    # (name -> label; off unless chosen), and ``summarize(path, *, by, **choices)``, a dry run shown as the preview.
    extensions: tuple[str, ...] = ()
    flags: dict = field(default_factory=dict)
    summarize: object = None

    @property
    def document(self) -> bool:
        return self.summarize is not None


KINDS = {
    ImportKind.LEDGER: KindSpec(tuple(LEDGER_FIELDS), LEDGER_REQUIRED, ("date",), ("amount", "cost"), LEDGER_FIELDS),
    ImportKind.SUBSCRIPTIONS: KindSpec(tuple(SUBSCRIPTION_FIELDS), ("account_id", "plan", "monthly_amount", "start"),
                                       ("start", "end"), ("monthly_amount",), SUBSCRIPTION_FIELDS),
    ImportKind.RATES: KindSpec(tuple(RATE_FIELDS), ("date", "currency", "rate"), ("date",), ("rate",), RATE_FIELDS),
}


def kind_spec(kind: str) -> KindSpec | None:
    """What a file of this kind holds: the revenue kinds above, or a kind an area above registered (CRM accounts …)."""
    if kind in KINDS:
        return KINDS[kind]
    from django.utils.module_loading import import_string

    from keyplan.revenue.importing.undo import IMPORTERS

    return import_string(IMPORTERS[kind]).spec if kind in IMPORTERS else None


def kind_names() -> list[str]:
    from keyplan.revenue.importing.undo import IMPORTERS

    return [*KINDS, *IMPORTERS]


def upload_dir() -> Path:
    return Path(settings.KEYPLAN_UPLOAD_DIR)


def max_upload_bytes() -> int:
    return settings.KEYPLAN_UPLOAD_MAX_MB * 1024 * 1024


# ---------------------------------------------------------------- the uploaded file


@dataclass(frozen=True)
class Upload:
    token: str
    kind: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        """The content hash, noted when the file was saved (computed again for an upload saved before it was noted)."""
        noted = self.path.parent / ".sha256"
        try:
            return noted.read_text().strip()
        except OSError:
            return _file_sha256(self.path)

    @property
    def relative(self) -> str:
        """The path under the upload folder: what the task is given, so a worker with the folder mounted elsewhere finds it."""
        return f"{self.token}/{self.path.name}"


def _safe_name(name: str) -> str:
    name = Path(name or "").name
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^\w.\- ]+", "_", stem).strip(" .") or "upload"
    return f"{stem[:120]}{suffix}"


def save_upload(file: UploadedFile | None, *, kind: str, by: User) -> Upload:
    """Keep an uploaded file for its preview and import. Raises ValidationError naming ``file`` or ``kind``."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import files.")
    if kind_spec(kind) is None:
        raise ValidationError({"kind": f"Choose what the file holds: {', '.join(kind_names())}."})
    if file is None:
        raise ValidationError({"file": "Choose a file to upload."})
    name = _safe_name(file.name)
    spec = kind_spec(kind)
    if spec.document and Path(name).suffix not in spec.extensions:
        raise ValidationError({"file": f"{file.name}: upload a {' or '.join(spec.extensions)} file; "
                                       f"{Path(file.name).suffix or 'a file without an extension'} is not read."})
    if not spec.document and Path(name).suffix not in EXTENSIONS:
        raise ValidationError({"file": f"{file.name}: upload a CSV or an Excel workbook (.xlsx); "
                                       f"{Path(file.name).suffix or 'a file without an extension'} is not read."})
    if file.size == 0:
        raise ValidationError({"file": f"{file.name} is empty."})
    if file.size > max_upload_bytes():
        raise ValidationError({"file": f"{file.name} is {file.size / 1048576:.0f} MB; the limit is "
                                       f"{settings.KEYPLAN_UPLOAD_MAX_MB} MB (KEYPLAN_UPLOAD_MAX_MB). "
                                       f"Larger files import with `keyplan import`."})
    purge_stale()
    token = secrets.token_hex(16)
    folder = upload_dir() / token
    folder.mkdir(parents=True)
    path = folder / name
    digest = hashlib.sha256()
    with open(path, "wb") as target:
        for chunk in file.chunks():
            target.write(chunk)
            digest.update(chunk)
    (folder / ".kind").write_text(kind)
    (folder / ".sha256").write_text(digest.hexdigest())
    return Upload(token, kind, path)


def find_upload(token: str) -> Upload | None:
    """The upload with this token, if it is still waiting (tokens are random; anything else is no upload)."""
    if not _TOKEN.match(token or ""):
        return None
    folder = upload_dir() / token
    try:
        kind = (folder / ".kind").read_text().strip()
    except OSError:
        return None
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and ".rejected." not in p.name]
    if kind_spec(kind) is None or len(files) != 1:
        return None
    return Upload(token, kind, files[0])


def discard(upload: Upload) -> None:
    shutil.rmtree(upload_dir() / upload.token, ignore_errors=True)


def remove_input(relative: str) -> None:
    """After an import: the file goes; rejected rows written beside it stay for download."""
    path = resolve(relative)
    if path is None:
        return
    path.unlink(missing_ok=True)
    (path.parent / ".kind").unlink(missing_ok=True)
    (path.parent / ".sha256").unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # only when nothing else (a rejected-rows file) is left
    except OSError:
        pass


def resolve(relative: str) -> Path | None:
    """A path under the upload folder, or None for anything that would lead outside it."""
    base = upload_dir().resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path != base else None


def rejected_rows_file(batch: ImportBatch) -> Path | None:
    """The rejected rows a skip-invalid import wrote, when they are in the upload folder and still there."""
    written = (batch.report or {}).get("rejected_file")
    if not written:
        return None
    path = Path(written).resolve()
    base = upload_dir().resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


def purge_stale(max_age: datetime.timedelta = STALE_AFTER, rejected_max_age: datetime.timedelta = REJECTED_KEPT) -> None:
    """Uploads previewed but never imported go after a day; files of rejected rows after a month."""
    base = upload_dir()
    if not base.is_dir():
        return
    now = time.time()
    for folder in base.iterdir():
        if not (folder.is_dir() and _TOKEN.match(folder.name)):
            continue
        keep = rejected_max_age if any(".rejected." in p.name for p in folder.iterdir()) else max_age
        if folder.stat().st_mtime < now - keep.total_seconds():
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the preview


@dataclass
class Preview:
    """What Keyplan makes of the file: columns, first rows, mapping, number and date formats."""

    kind: str
    headers: list[str]
    rows: list[list[str]]
    mapping: dict[str, str]  # field -> column
    decimal: str
    date_format: str | None
    delimiter: str | None  # CSV only
    sheet: str | None  # XLSX only
    sheets: list[str] = field(default_factory=list)
    header_line: int = 1
    preset: str | None = None  # the CRM export the header was read as (recognised or chosen)
    summary: object = None  # a file that is not a table: what importing it would do (a dry run's result)
    mapping_name: str | None = None  # the person's saved mapping the columns were read with

    @property
    def spec(self) -> KindSpec:
        return kind_spec(self.kind)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.spec.fields

    @property
    def required(self) -> tuple[str, ...]:
        return self.spec.required

    @property
    def missing(self) -> list[str]:
        return [f for f in self.required if f not in self.mapping]

    @property
    def column_fields(self) -> dict[str, str]:
        """Column -> field ("" for a column that is ignored)."""
        by_column = {column: name for name, column in self.mapping.items()}
        return {h: by_column.get(h, "") for h in self.headers}

    def samples(self, names: tuple[str, ...], mapping: dict[str, str] | None = None) -> list[str]:
        mapping = self.mapping if mapping is None else mapping
        index = {h: i for i, h in enumerate(self.headers)}
        return [row[index[mapping[n]]] for n in names if n in mapping for row in self.rows
                if index[mapping[n]] < len(row) and row[index[mapping[n]]]]


def preview(upload: Upload, *, delimiter: str | None = None, sheet: str | None = None, preset: str | None = None,
            by: User | None = None, flags: dict | None = None, saved: dict[str, str] | None = None,
            mapping_name: str | None = None, known: dict[str, str] | None = None) -> Preview:
    """Read the header and first rows (of a calendar or mailbox: what importing it would do, as ``by`` with the
    ``flags`` chosen); ``saved``, a person's saved mapping (column -> field), maps the columns the file has;
    ``known``, the columns of all their saved mappings, count as known names where the header row is looked for.
    Raises ReadError when the file as a whole cannot be read."""
    spec = kind_spec(upload.kind)
    if spec.document:
        chosen = {name: bool((flags or {}).get(name)) for name in spec.flags}
        return Preview(kind=upload.kind, headers=[], rows=[], mapping={}, decimal=".", date_format=None, delimiter=None,
                       sheet=None, summary=spec.summarize(upload.path, by=by, **chosen))
    if upload.kind == ImportKind.LEDGER:
        inspection = inspect_ledger(upload.path, LedgerOptions(delimiter=delimiter or None, sheet=sheet or None))
        table, mapping, decimal, date_format = inspection.table, inspection.mapping, inspection.decimal, inspection.date_format
    else:
        table = open_table(upload.path, delimiter=delimiter or None, sheet=sheet or None,
                           fields=known_columns(known_columns(spec.synonyms, known), saved))
        synonyms = spec.synonyms
        if spec.choose is not None:
            preset, synonyms = spec.choose(table.headers, preset if preset in spec.presets else None)
        mapping = detect_mapping(table.headers, synonyms)
        decimal = date_format = None
    mapping = _apply_saved(mapping, table.headers, saved or {})
    rows = [[("" if c is None else str(c)) for c in row] for row in table.sample]
    result = Preview(
        kind=upload.kind, headers=table.headers, rows=rows[:PREVIEW_ROWS], mapping=mapping, decimal=decimal or ".",
        date_format=date_format, delimiter=table.delimiter if table.kind == "csv" else None,
        sheet=table.sheet, sheets=_sheets(upload.path) if table.kind == "xlsx" else [], header_line=table.header_line,
        preset=preset if spec.choose is not None else None, mapping_name=mapping_name if saved else None,
    )
    if upload.kind != ImportKind.LEDGER:
        # The same detection the import makes of reference-data files, on all sampled rows.
        full = Preview(**{**result.__dict__, "rows": rows})
        result.date_format = detect_date_format(full.samples(spec.dates)) or "%Y-%m-%d"
        result.decimal = detect_decimal(full.samples(spec.numbers), delimiter=table.delimiter)
    return result


def _apply_saved(mapping: dict[str, str], headers: list[str], saved: dict[str, str]) -> dict[str, str]:
    """A saved mapping over the detected one: each of its columns the file has goes to its field (or is ignored)."""
    for column, name in saved.items():
        if column not in headers:
            continue
        mapping = {f: c for f, c in mapping.items() if c != column and f != name}
        if name:
            mapping[name] = column
    return mapping


def _sheets(path: Path) -> list[str]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def date_format_choices(current: str | None) -> list[tuple[str, str]]:
    """The known date formats, each with how 31 December 2026 looks in it."""
    example = datetime.datetime(2026, 12, 31)
    formats = list(DATE_FORMATS)
    if current and current not in formats:
        formats.insert(0, current)
    return [(f, f"{f}  ({example.strftime(f)})") for f in formats]


# ---------------------------------------------------------------- starting the import


@dataclass
class ImportChoices:
    """What the person chose on the preview (or sent to the API)."""

    mapping: dict[str, str]  # column -> field, "" to ignore the column
    decimal: str | None = None
    date_format: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    create_accounts: bool = False
    skip_invalid: bool = False
    preset: str | None = None  # the CRM export to read the file as (kinds with presets)
    flags: dict = field(default_factory=dict)  # a calendar's or mailbox's yes/no choices (the mail's bodies)
    mapping_name: str | None = None  # the person's saved mapping the preview was read with (kept on the batch)


def check_choices(upload: Upload, view: Preview, choices: ImportChoices) -> dict[str, str]:
    """The mapping field -> column the import will use. Raises ValidationError naming each bad choice."""
    spec = kind_spec(upload.kind)
    errors: dict[str, list[str]] = {}
    mapping = {name: column for name, column in view.mapping.items() if column not in choices.mapping}
    chosen: dict[str, list[str]] = {}
    for column, name in choices.mapping.items():
        if column not in view.headers:
            errors.setdefault("mapping", []).append(f"The file has no column {column!r}; its columns are {', '.join(view.headers)}.")
        elif name and name not in spec.fields:
            errors.setdefault("mapping", []).append(f"{column}: {name!r} is not a field; fields are {', '.join(spec.fields)}.")
        elif name:
            chosen.setdefault(name, []).append(column)
    for name, columns in chosen.items():
        if len(columns) > 1:
            named = " and ".join(f"{c!r}" for c in columns)
            errors.setdefault("mapping", []).append(f"The columns {named} go to the same field, {name}; map each field to one column.")
        mapping = {n: c for n, c in mapping.items() if n != name and c not in columns} | {name: columns[0]}
    if not errors.get("mapping"):
        missing = [f for f in spec.required if f not in mapping]
        if missing:
            errors.setdefault("mapping", []).append(
                f"Choose a column for {', '.join(missing)}: {'it is' if len(missing) == 1 else 'they are'} required.")
    if choices.decimal not in (None, "", ".", ","):
        errors["decimal"] = ["The decimal separator is . or ,"]
    if choices.date_format:
        problem = _date_format_problem(choices.date_format, view.samples(spec.dates, mapping))
        if problem:
            errors["date_format"] = [problem]
    if errors:
        raise ValidationError(errors)
    return mapping


def _date_format_problem(fmt: str, samples: list[str]) -> str | None:
    if "%" not in fmt:
        return f"{fmt!r} is not a date format; write it with % codes, for example %d.%m.%Y."
    if not samples:
        return None
    try:
        parsed = pl.Series(samples, dtype=pl.String).str.strip_chars().str.to_datetime(fmt, strict=False)
    except pl.exceptions.PolarsError:
        return f"{fmt!r} is not a date format; write it with % codes, for example %d.%m.%Y."
    if parsed.null_count() == len(samples):
        return f"None of the dates in the first rows reads as {fmt} (for example {samples[0]!r})."
    return None


def same_file_imported(upload: Upload) -> ImportBatch | None:
    """The latest batch that imported this very file (the same content) and still counts, if any."""
    return (ImportBatch.objects.filter(file_sha256=upload.sha256, kind=upload.kind, status=BatchStatus.DONE)
            .select_related("created_by").order_by("-created_at", "-pk").first())


def start_import(upload: Upload, *, by: User, choices: ImportChoices, view: Preview | None = None) -> ImportBatch:
    """Record the batch and queue its import. The batch page follows its progress."""
    from keyplan.revenue.tasks import run_import

    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import files.")
    if view is None:
        try:
            view = preview(upload, delimiter=choices.delimiter, sheet=choices.sheet, preset=choices.preset, by=by,
                           flags=choices.flags)
        except ReadError as error:
            raise ValidationError({"file": str(error)}) from error
    check_choices(upload, view, choices)
    batch = ImportBatch.objects.create(kind=upload.kind, file_name=upload.name, file_sha256=upload.sha256,
                                       created_by=by, status=BatchStatus.VALIDATING)
    options = {
        # Column -> field, "" to ignore; columns left out keep what the detection made of them.
        "mapping": {column: name or "" for column, name in choices.mapping.items()},
        "decimal": choices.decimal or None,
        "date_format": choices.date_format or None,
        "delimiter": choices.delimiter or view.delimiter,
        "sheet": choices.sheet or view.sheet,
        "create_accounts": bool(choices.create_accounts) and upload.kind == ImportKind.LEDGER,
        "skip_invalid": bool(choices.skip_invalid) and upload.kind == ImportKind.LEDGER,
        **({"preset": view.preset} if kind_spec(upload.kind).choose is not None else {}),
        **{name: bool(choices.flags.get(name)) for name in kind_spec(upload.kind).flags},
        **({"mapping_name": view.mapping_name} if view.mapping_name else {}),
    }
    batch.options = options
    batch.save(update_fields=["options"])
    # The mapping goes as [column, field] pairs: a JSON object's key order is lost in PostgreSQL's jsonb, and the
    # order is the file's, which the file of rejected rows keeps.
    task_options = {**options, "mapping": [[column, name] for column, name in options["mapping"].items()]}
    run_import.enqueue(batch_id=batch.pk, path=upload.relative, options=task_options)
    return batch


# ---------------------------------------------------------------- following the task


def task_state(batch: ImportBatch) -> tuple[str | None, datetime.timedelta | None]:
    """The state of the batch's background task ("READY" while it waits for a worker) and how long ago it was queued."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    row = (DBTaskResult.objects.filter(task_path="keyplan.revenue.tasks.run_import", args_kwargs__kwargs__batch_id=batch.pk)
           .order_by("-enqueued_at").values_list("status", "enqueued_at").first())
    if row is None:
        return None, None
    return row[0], timezone.now() - row[1]
