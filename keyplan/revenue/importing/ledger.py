"""The ledger import from start to end: pass 1 validates every chunk and spills it to disk, pass 2
writes the lines and the rollups.
"""

import csv
import logging
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account
from keyplan.accounts.services import create_accounts_in_bulk
from keyplan.core.db import reserve_ids
from keyplan.core.exports import safe_row
from keyplan.core.models import User
from keyplan.revenue.importing.batch import _discard, _file_sha256, _finish, _refresh_derived, _set_progress
from keyplan.revenue.importing.inspection import (
    MAX_REPORTED_ERRORS,
    ImportResult,
    Inspection,
    LedgerOptions,
    Progress,
    RowError,
    can_import,
    inspect_ledger,
)
from keyplan.revenue.importing.rollback import restore_rolled_back_accounts
from keyplan.revenue.importing.validate import (
    Occurrences,
    _Context,
    _convert,
    _errors,
    LedgerKeys,
    _keys,
    _line_id_repeats,
    _parse,
)
from keyplan.revenue.importing.write import (
    Spilled,
    _apply_rollups,
    _bulk_writing,
    _in_own_connection,
    _LineWriter,
    _rollup_deltas,
    _spill,
)
from keyplan.revenue.models import (
    BatchStatus,
    ImportBatch,
    ImportKind,
)
from keyplan.revenue.reading import (
    LINE,
    ReadError,
    Table,
    iter_chunks,
)

logger = logging.getLogger("keyplan.import")

# Validated chunks that may wait for the ledger's keys (each about 500,000 rows: 60 MB or so).
PENDING_CHUNKS = 4


class _Stages:
    """Logs (INFO) when each stage of a ledger import ends, in seconds since it began: where a slow import's time went."""

    def __init__(self, batch: ImportBatch | None):
        self.name, self.started = f"batch {batch.pk}" if batch else "dry run", time.perf_counter()

    def done(self, stage: str) -> None:
        logger.info("ledger import %s: %s at %.1f s", self.name, stage, time.perf_counter() - self.started)


def import_ledger(
    path: str | Path,
    *,
    by: User,
    options: LedgerOptions | None = None,
    progress: Progress | None = None,
    batch: ImportBatch | None = None,
) -> ImportResult:
    """Import a revenue ledger file. Raises ReadError when the file as a whole cannot be read."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import revenue.")
    options = options or LedgerOptions()
    path = Path(path)
    inspection = inspect_ledger(path, options)
    if inspection.missing:
        columns = ", ".join(inspection.table.headers)
        raise ReadError(
            f"No column for {', '.join(inspection.missing)}; the file has {columns}. "
            f"Map one with --map COLUMN=FIELD (for example --map Kundennummer=account_id)."
        )
    if batch is None and not options.dry_run:
        batch = ImportBatch.objects.create(kind=ImportKind.LEDGER, file_name=path.name, file_sha256=_file_sha256(path),
                                           created_by=by)
    if batch is not None:
        batch.options = {"mapping": inspection.mapping, "decimal": inspection.decimal, "date_format": inspection.date_format,
                         "delimiter": inspection.table.delimiter, "sheet": inspection.table.sheet,
                         "create_accounts": options.create_accounts, "skip_invalid": options.skip_invalid}
        batch.status = BatchStatus.VALIDATING
        batch.save(update_fields=["options", "status"])
    columns = list(inspection.mapping.values())
    result = ImportResult(batch=batch, dry_run=options.dry_run)
    stages = _Stages(batch)
    context = _Context.load(create_accounts=options.create_accounts)
    occurrences = Occurrences()
    estimated_lines = _estimate_lines(inspection.table)

    # The ledger's keys (10M: 2.5-4 s to read and sort) are read on a connection of their own while the first
    # chunks are validated; those chunks wait, at most PENDING_CHUNKS of them, to have their lines already in the
    # ledger set aside. In a caller's transaction (a test's) a second connection would not see its lines.
    def read_keys() -> LedgerKeys:
        in_ledger = LedgerKeys.read(by_hash="line_id" in columns)  # empty for a first import
        stages.done(f"{len(in_ledger):,} ledger keys read")
        return in_ledger

    reader = ThreadPoolExecutor(max_workers=1) if not connection.in_atomic_block else None
    if reader:
        keys = reader.submit(_in_own_connection, read_keys)
    else:
        keys = Future()
        keys.set_result(read_keys())

    # Pass 1: validate everything and set aside the lines already in the ledger; write nothing to the
    # database. Each chunk's new rows wait in a temporary file, so that pass 2 neither reads nor parses
    # the file again.
    with tempfile.TemporaryDirectory(prefix="keyplan-import-") as folder:
        rejected: set[int] = set()
        errors: list[RowError] = []
        line_ids: list[pl.DataFrame] = []
        spilled: list[Spilled] = []
        pending: list[tuple[pl.DataFrame, list[RowError]]] = []  # validated chunks waiting for the ledger's keys

        def set_aside_and_spill() -> None:
            in_ledger = keys.result()
            for converted, chunk_errors in pending:
                if len(in_ledger):
                    converted, collisions, duplicates = in_ledger.split(converted)
                    chunk_errors += collisions
                    result.rows_duplicate += duplicates.height
                _keep_errors(errors, rejected, chunk_errors)
                if converted.height and not options.dry_run and (options.skip_invalid or not errors):
                    spilled.append(_spill(converted, Path(folder) / f"{len(spilled):06d}.arrow"))
            pending.clear()

        try:
            for chunk in iter_chunks(inspection.table, columns):
                parsed = _parse(chunk, inspection, context)
                chunk_errors = _errors(parsed, inspection, context)
                bad = {e.line for e in chunk_errors}
                good = parsed.filter(~pl.col(LINE).is_in(pl.Series(sorted(bad), dtype=pl.Int64).implode())) if bad else parsed
                if context.create_accounts:
                    _collect_new_accounts(good, context)
                converted, conversion_errors = _convert(good, context, inspection)
                pending.append((converted.with_columns(_keys(converted, occurrences)), chunk_errors + conversion_errors))
                if keys.done() or len(pending) >= PENDING_CHUNKS:
                    set_aside_and_spill()
                line_ids.append(parsed.filter(pl.col("line_id").is_not_null()).select(LINE, "_line_key", "line_id"))
                result.rows_total += chunk.height
                _set_progress(batch, 0.45 * min(1.0, int(chunk[LINE][-1]) / estimated_lines), progress, "validating")
            set_aside_and_spill()
        finally:
            if reader:
                reader.shutdown()  # waits for the read, if this pass stopped before it ended
        _keep_errors(errors, rejected, _line_id_repeats(line_ids, inspection))
        stages.done("validated")
        del line_ids, keys, occurrences  # pass 2 needs none of them (at 10M lines in the ledger: about 400 MB)
        result.errors = sorted(errors, key=lambda e: e.line)[:MAX_REPORTED_ERRORS]
        result.error_count = len(errors)
        result.rows_rejected = len(rejected)

        if errors and not options.skip_invalid:
            _finish(batch, result, BatchStatus.REJECTED)
            return result
        if options.skip_invalid and rejected:
            result.rejected_file = _write_rejected(path, inspection, errors, rejected)
        if options.dry_run:
            result.accounts_created = len(context.new_accounts)
            return result

        # Pass 2: write the new lines, and the rollups, the ABC classes and "done" in one transaction.
        # The rollups are added up from the spilled chunks, so they need not wait for the lines: on
        # PostgreSQL the lines go in through a second connection while this one writes the rollups
        # (two server processes, two cores); the transaction commits once every line is in. An import
        # killed before that leaves lines without rollups, which can be discarded
        # (rollback_batch(..., broken_off=True)).
        stop = threading.Event()
        written_first: dict[str, int] = {}
        try:
            batch.status = BatchStatus.IMPORTING
            batch.save(update_fields=["status"])
            _set_progress(batch, 0.45, progress, "importing")
            # Alongside only outside a caller's transaction (a test's, say): the second connection would
            # not see it. SQLite takes one writer at a time.
            alongside = connection.vendor == "postgresql" and not connection.in_atomic_block
            # Alongside, the new accounts take their ids now and are written in the transaction that marks
            # the batch done, while the lines go in (100,000 accounts: 5.7 s the lines no longer wait for);
            # otherwise they are written first.
            new_accounts = _reserve_accounts(context) if alongside else {}
            written_first = {} if alongside else _create_accounts(context, by=by)
            result.accounts_created = len(new_accounts) + len(written_first)
            lookup = pl.DataFrame([(ext, pk) for ext, (pk, _) in context.accounts.items()],
                                  schema={"account_id": pl.String, "_account": pl.Int64}, orient="row")
            skip = pl.Series(sorted(rejected), dtype=pl.Int64)
            lines = _LineWriter(spilled, skip, lookup, batch, progress, result, stop)
            with _bulk_writing(), ThreadPoolExecutor(max_workers=2) as pool:
                try:
                    deltas = pool.submit(_rollup_deltas, spilled, skip, lookup)
                    writer = pool.submit(_in_own_connection, lines.write) if alongside else None
                    if writer is None:
                        lines.write()
                        stages.done("lines written")
                    with transaction.atomic():
                        if new_accounts:
                            _create_accounts(context, by=by, ids=new_accounts)
                        added = deltas.result()
                        stages.done("rollup deltas added up")
                        rollups = _apply_rollups(added, sign=1)
                        restore_rolled_back_accounts(added, by=by, batch=batch)
                        _refresh_derived()
                        stages.done("rollups written")
                        if writer is not None:
                            writer.result()
                            stages.done("lines written")
                        rollups.swap_in()  # once every line is in: from here pages wait for the new tables until the commit
                        _finish(batch, result, BatchStatus.DONE)
                    stages.done("committed")
                except BaseException:
                    stop.set()  # the writer stops after its current group; the pool waits for it
                    raise
            _set_progress(batch, 1.0, progress, "done")
        except (IntegrityError, connection.Database.IntegrityError) as exc:  # Django's or, from bulk writes, the driver's
            _discard(batch, accounts=written_first)
            raise ReadError("Another import wrote some of these lines at the same time, so nothing of this file was "
                            "kept. Import it again: the lines already in the ledger are skipped.") from exc
        except BaseException:
            _discard(batch, accounts=written_first)
            raise
    return result


def _keep_errors(errors: list[RowError], rejected: set[int], new: list[RowError]) -> None:
    # Count every error, keep the first ones for the report (a 10-million-line file can be all wrong).
    rejected.update(e.line for e in new)
    errors.extend(new)


def _estimate_lines(table: Table) -> int:
    if table.kind == "xlsx" or not table.sample:
        return max(1, table.path.stat().st_size // 60)
    average = sum(len(table.delimiter.join(c or "" for c in row)) + 1 for row in table.sample) / len(table.sample)
    return max(1, int(table.path.stat().st_size / max(average, 1)))


def _collect_new_accounts(good: pl.DataFrame, context: _Context) -> None:
    """Note the accounts this chunk names that neither exist nor came up in an earlier chunk (the first chunk
    that names an account gives its name)."""
    new = (good.filter(~pl.col("_known")).group_by("account_id", maintain_order=True)
           .agg(pl.col("account_name").drop_nulls().first()))
    if context.new_accounts:
        # Only the unseen ones go through Python: most chunks of a big file name the same customers.
        seen = pl.Series(list(context.new_accounts), dtype=pl.String)
        new = new.filter(~pl.col("account_id").is_in(seen.implode()))
    for external_id, name in new.iter_rows():
        context.new_accounts[external_id] = (name or external_id).strip()


def _write_rejected(path: Path, inspection: Inspection, errors: list[RowError], lines: set[int]) -> Path:
    """The rejected rows beside the input, with the reason first, so they can be fixed and imported again."""
    target = path.with_name(f"{path.stem}.rejected.csv")
    reasons: dict[int, list[str]] = {}
    for error in errors:
        reasons.setdefault(error.line, []).append(f"{error.column}: {error.reason}")
    columns = list(inspection.mapping.values())
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=inspection.table.delimiter if inspection.table.kind == "csv" else ",")
        writer.writerow(safe_row(["line", "reason", *columns]))
        for chunk in iter_chunks(inspection.table, columns):
            for row in chunk.filter(pl.col(LINE).is_in(pl.Series(sorted(lines)).implode())).iter_rows():
                writer.writerow(safe_row([row[0], "; ".join(reasons.get(row[0], ["see the import report"])), *row[1:]]))
    return target


def _reserve_accounts(context: _Context) -> dict[str, int]:
    """Ids for the accounts the import will create (external id -> id), noted in ``context`` as if they existed."""
    ids = dict(zip(context.new_accounts, reserve_ids(Account, len(context.new_accounts))))
    context.accounts.update((external_id, (pk, context.reporting)) for external_id, pk in ids.items())
    return ids


def _create_accounts(context: _Context, *, by: User, ids: dict[str, int] | None = None) -> dict[str, int]:
    """Write the accounts the import found new (with the ids reserved for them, if given): external id -> id."""
    if not context.new_accounts:
        return {}
    created = create_accounts_in_bulk(context.new_accounts, by=by, reporting_currency=context.reporting,
                                      reason=gettext_noop("Created by a revenue import"), ids=ids)
    context.accounts.update((external_id, (pk, context.reporting)) for external_id, pk in created.items())
    context.new_accounts.clear()
    return created
