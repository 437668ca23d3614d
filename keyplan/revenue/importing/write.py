"""Stage 3: the spilled chunks written to the ledger in dedupe-key order, and the monthly and yearly
rollups adjusted by the batch's deltas.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import polars as pl
from django.db import connection, transaction

from keyplan.core.db import TableRebuild, bulk_insert, copy_csv, fetch_frame, fetch_rows, staged
from keyplan.revenue import reading
from keyplan.revenue.importing.batch import _set_progress
from keyplan.revenue.importing.inspection import ImportResult, Progress
from keyplan.revenue.ledger_keys import DAY_OFFSET, FIRST_DAY, LAST_DAY, SHIFT
from keyplan.revenue.models import (
    ImportBatch,
    LedgerLine,
    MonthlyRollup,
    ProductRollup,
    YearlyRollup,
)
from keyplan.revenue.reading import (
    LINE,
)

logger = logging.getLogger("keyplan.import")

# What pass 1 keeps of each chunk for pass 2: the typed columns that the ledger, the dedupe keys and the rollups need.
SPILLED_COLUMNS = [LINE, "account_id", "_date", "_amount", "_currency", "_amount_reporting", "_cost", "_cost_reporting",
                   "product", "division", "invoice_id", "line_id", "dedupe_key"]

T = TypeVar("T")


def _as_kept(column: str) -> pl.Expr:
    """A text column of the file as the ledger keeps it: empty for none, cut to the column's length."""
    return pl.col(column).fill_null("").str.slice(0, LedgerLine._meta.get_field(column).max_length).alias(column)


def _rows(frame: pl.DataFrame, batch: ImportBatch) -> pl.DataFrame:
    return frame.select(
        pl.lit(batch.pk).alias("batch_id"),
        pl.col("_account").alias("account_id"),
        pl.col("_date").alias("date"),
        pl.col("_amount").alias("amount"),
        pl.col("_currency").alias("currency"),
        pl.col("_amount_reporting").alias("amount_reporting"),
        pl.col("_cost").alias("cost"),
        pl.col("_cost_reporting").alias("cost_reporting"),
        _as_kept("product"), _as_kept("division"), _as_kept("invoice_id"),
        pl.col("line_id").str.slice(0, 128),
        pl.col("dedupe_key"),
    )


@contextmanager
def _bulk_writing():
    """Give SQLite a larger page cache while it writes millions of lines, and move its WAL checkpoints
    to a second connection on a thread of its own.

    128 MiB holds the pages the ledger's and rollups' indexes are appended to; 512 MiB
    wrote 10M lines no faster and took the import's peak memory to 2.1 GB. Each commit of a
    group of lines otherwise checkpoints the WAL in the writing thread (copies its pages into
    the database file and syncs it): 7.6 s of a 10M-line import into a full ledger, which
    the other core can do while the writer goes on (sqlite3 releases the GIL in both).
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MiB
        cursor.execute("PRAGMA journal_mode")
        wal = cursor.fetchone()[0] == "wal"
    checkpoints = _Checkpointer(connection.settings_dict["NAME"]) if wal else None
    try:
        yield
    finally:
        if checkpoints is not None:
            checkpoints.stop()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


class _Checkpointer:
    """Checkpoints a SQLite database's WAL from its own connection every fraction of a second, while the
    import's connection writes with automatic checkpoints turned off (restored by ``stop``)."""

    INTERVAL = 0.25  # seconds

    def __init__(self, path: str):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            self.previous = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        self.path, self.done = str(path), threading.Event()
        self.thread = threading.Thread(target=self._run, name="keyplan-checkpoints", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        other = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        try:
            while not self.done.wait(self.INTERVAL):
                other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            other.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {self.previous}")


# Lines are written in the order of their dedupe key across the whole file, not chunk by chunk,
# so that the key's index and the table are written in sequence (PostgreSQL: a COPY of 10M lines
# with hashed keys in file order 29.7 s, in key order 19.6 s; SQLite 24.7 s and 14.3 s). A key
# begins with the line's day (`ledger_keys`): key order is day order. Pass 1 sorts each spilled
# chunk by key and notes where each range of DAYS_PER_BUCKET days starts in it; pass 2 writes
# group after group of consecutive ranges, each about a chunk.
DAYS_PER_BUCKET = 4
KEY_BUCKETS = (LAST_DAY - FIRST_DAY).days // DAYS_PER_BUCKET + 1


_BUCKET_STARTS = np.array([(i * DAYS_PER_BUCKET - DAY_OFFSET) << SHIFT for i in range(1, KEY_BUCKETS)], dtype=np.int64)


@dataclass(frozen=True)
class Spilled:
    """A validated chunk in a temporary file, sorted by dedupe key, and the row where each key range starts."""

    path: Path
    starts: np.ndarray  # KEY_BUCKETS + 1 row offsets


def _spill(converted: pl.DataFrame, path: Path) -> Spilled:
    ordered = converted.select(SPILLED_COLUMNS).sort("dedupe_key")
    ordered.write_ipc(path)
    inner = np.searchsorted(ordered["dedupe_key"].to_numpy(), _BUCKET_STARTS)
    return Spilled(path, np.concatenate([[0], inner, [ordered.height]]))


def _key_groups(spilled: list[Spilled]) -> list[tuple[int, int, int]]:
    """Consecutive key ranges taken together up to about a chunk of rows: (first range, end range, rows)."""
    counts = sum((np.diff(part.starts) for part in spilled), np.zeros(KEY_BUCKETS, dtype=np.int64))
    groups, first, rows = [], 0, 0
    for bucket, count in enumerate(counts.tolist()):
        if rows and rows + count > reading.CHUNK_ROWS:  # read at run time: tests make chunks small
            groups.append((first, bucket, rows))
            first, rows = bucket, 0
        rows += count
    if rows:
        groups.append((first, KEY_BUCKETS, rows))
    return groups


class _LineWriter:
    """Writes the spilled lines group by group, in key order, and moves the progress bar."""

    def __init__(self, spilled: list[Spilled], skip: pl.Series, lookup: pl.DataFrame, batch: ImportBatch,
                 progress: Progress | None, result: ImportResult, stop: threading.Event):
        self.spilled, self.skip, self.lookup, self.batch = spilled, skip, lookup, batch
        self.progress, self.result, self.stop = progress, result, stop
        self.vendor = connection.vendor  # read here: prepare() runs in a thread of its own

    def write(self) -> None:
        groups = _key_groups(self.spilled)
        to_write, written = max(1, sum(rows for _, _, rows in groups)), 0
        with ThreadPoolExecutor(max_workers=1) as reader:
            # The next group is read and prepared (Polars, without the GIL) while the database writes this one.
            ahead = [reader.submit(self.prepare, group) for group in groups[:1]]
            for index, (_, _, rows_in_group) in enumerate(groups):
                rows, copy_data = ahead.pop().result()
                if self.stop.is_set():
                    return
                ahead += [reader.submit(self.prepare, group) for group in groups[index + 1:index + 2]]
                if rows is not None:
                    _insert_lines(rows, copy_data)
                    self.result.rows_imported += rows.height
                written += rows_in_group
                _set_progress(self.batch, 0.45 + 0.5 * written / to_write, self.progress, "importing")

    def prepare(self, group: tuple[int, int, int]) -> tuple[pl.DataFrame | None, bytes | None]:
        """One key group's lines as ledger rows and, for PostgreSQL, their COPY data. No database access: runs
        in a thread."""
        first, end, _ = group
        parts = [pl.scan_ipc(part.path).slice(part.starts[first], part.starts[end] - part.starts[first]).collect()
                 for part in self.spilled if part.starts[end] > part.starts[first]]
        good = _without(pl.concat(parts), self.skip) if parts else None
        if good is None or not good.height:
            return None, None
        rows = _rows(good.join(self.lookup, on="account_id", how="left"), self.batch).sort("dedupe_key")
        return rows, copy_csv(rows) if self.vendor == "postgresql" else None


def _without(frame: pl.DataFrame | pl.LazyFrame, skip: pl.Series) -> pl.DataFrame | pl.LazyFrame:
    # Rows found bad after their chunk was kept (a line id repeated further down) stay out.
    return frame.filter(~pl.col(LINE).is_in(skip.implode())) if len(skip) else frame


class RollupDeltas(NamedTuple):
    """What an import adds to the rollups (or a rollback takes away), one row per key."""

    monthly: pl.DataFrame  # account_id, month, revenue, cost, lines
    products: pl.DataFrame  # account_id, year, division, product, revenue, cost, lines


def rollup_deltas(lines: pl.LazyFrame) -> RollupDeltas:
    """The deltas of ``lines`` (account_id as the account's pk, _date, _amount_reporting, _cost_reporting,
    product, division)."""
    sums = (pl.col("_amount_reporting").sum().alias("revenue"), pl.col("_cost_reporting").fill_null(0).sum().alias("cost"),
            pl.len().alias("lines"))
    monthly = lines.group_by("account_id", pl.col("_date").dt.month_start().alias("month")).agg(*sums)  # half truncate's time
    products = lines.with_columns(_as_kept("division"), _as_kept("product")).filter((pl.col("division") != "") & (pl.col("product") != "")).group_by(
        "account_id", pl.col("_date").dt.year().cast(pl.Int64).alias("year"), "division", "product").agg(*sums)
    return RollupDeltas(*pl.collect_all([monthly, products], engine="streaming"))


def _rollup_deltas(spilled: list[Spilled], skip: pl.Series, lookup: pl.DataFrame) -> RollupDeltas | None:
    """What the import adds to the rollups, from the spilled chunks."""
    if not spilled:
        return None
    lines = _without(pl.scan_ipc([part.path for part in spilled]).select(
        LINE, "account_id", "_date", "_amount_reporting", "_cost_reporting", "product", "division"), skip)
    return rollup_deltas(lines.join(lookup.lazy(), on="account_id").drop("account_id").rename({"_account": "account_id"}))


def _in_own_connection(function: Callable[[], T]) -> T:
    """Run ``function`` in this thread on the thread's own database connection, closed afterwards."""
    try:
        return function()
    finally:
        connection.close()


def _insert_lines(rows: pl.DataFrame, csv: bytes | None) -> None:
    """Insert a chunk of new lines (pass 1 set aside the ones already in the ledger)."""
    with transaction.atomic():
        bulk_insert(LedgerLine._meta.db_table, rows, csv=csv)


class Rollups(NamedTuple):
    """The rollup tables an import or a rollback built anew, to swap in before its transaction commits."""

    rebuilt: list[TableRebuild]

    def swap_in(self) -> None:
        for table in self.rebuilt:
            table.swap_in()


def _apply_rollups(deltas: RollupDeltas | None, *, sign: int) -> Rollups:
    """Add (sign=1) or take away (sign=-1) revenue, cost and line counts per account and month, per account
    and year, and per account, year, division and product, within the caller's transaction. A table the
    change touches most of is built anew beside the old one instead: the caller swaps it in (``swap_in``) in
    the same transaction, as late as it can, since from then on the table is locked until the commit."""
    if deltas is None or deltas.monthly.height == 0:
        return Rollups([])
    sums = (pl.col("revenue").sum(), pl.col("cost").sum(), pl.col("lines").sum())
    yearly = deltas.monthly.group_by("account_id", pl.col("month").dt.year().cast(pl.Int64).alias("year")).agg(*sums)
    # The yearly rollups are always updated in place: the ABC classes are computed from them in the same
    # transaction while the lines still go in, which a table waiting to be swapped in would not allow (at
    # 100,000 accounts they are a twentieth of the rollup rows).
    _apply_sums(YearlyRollup._meta.db_table, ["year"], yearly, sign=sign, may_rebuild=False)
    changes = [(MonthlyRollup, ["month"], deltas.monthly), (ProductRollup, ["year", "division", "product"], deltas.products)]
    rebuilt = [_apply_sums(model._meta.db_table, keys, frame, sign=sign) for model, keys, frame in changes]
    return Rollups([table for table in rebuilt if table is not None])


# A rollup table is built anew (PostgreSQL) when the change brings at least a quarter as many rows as it holds, and
# at least REBUILD_MIN_ROWS. Measured on 575,000 monthly rollups that all existed: updated in place, 13.8 µs of
# server CPU a row (7.9 s); built anew, 3.3 µs a row of the whole table (1.9 s). Smaller changes update in place.
REBUILD_MIN_ROWS = 50_000
REBUILD_SHARE = 0.25


def _apply_sums(table: str, keys: list[str], sums: pl.DataFrame, *, sign: int, may_rebuild: bool = True) -> TableRebuild | None:
    """Upsert (sign=1) or subtract (sign=-1) per-account sums into a rollup table keyed by (account_id, *``keys``),
    or build the table anew with them (returned, to be swapped in). Logs (INFO) how many rows took how long, and
    which way: where a slow import's rollup time went, table by table."""
    if not sums.height:
        return None
    started = time.perf_counter()
    rebuilt = _write_sums(table, keys, sums, sign=sign, may_rebuild=may_rebuild)
    logger.info("rollups %s: %s rows %s in %.1f s", table, f"{sums.height:,}", "built anew" if rebuilt else "in place",
                time.perf_counter() - started)
    return rebuilt


def _write_sums(table: str, keys: list[str], sums: pl.DataFrame, *, sign: int, may_rebuild: bool) -> TableRebuild | None:
    key = ["account_id", *keys]
    # In key order, the order of the unique index, so that its pages are written in sequence.
    sums = sums.sort(key).select(
        *key, (pl.col("revenue") * sign).round(2), (pl.col("cost") * sign).round(2), pl.col("lines").cast(pl.Int64) * sign,
    )
    if (may_rebuild and connection.vendor == "postgresql" and sums.height >= REBUILD_MIN_ROWS
            and sums.height >= REBUILD_SHARE * _row_count(table)):  # counted only for a change that big
        return _rebuilt(table, key, sums)
    if sign > 0:
        if connection.vendor == "postgresql" and not fetch_rows(f"SELECT EXISTS (SELECT 1 FROM {table})", [])[0][0]:
            bulk_insert(table, sums)  # a first import: every row is new, and COPY takes them faster than an upsert
        else:
            # One upsert for all. Reading the existing keys first, to COPY the new rows apart, read every key in
            # the change's range (2.2M monthly rollups: 2 s) to save about 1 s per 400,000 new rows.
            bulk_insert(table, sums, tail=f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET revenue = {table}.revenue + "
                                          f"excluded.revenue, cost = {table}.cost + excluded.cost, lines = {table}.lines + excluded.lines")
        return None  # adding lines leaves no period at zero lines: nothing to delete
    # Taking a batch away: its keys exist, and an insert of negative counts would break the check.
    match = " AND ".join(f"t.{k} = s.{k}" for k in key)
    staged(table, sums, f"UPDATE {table} AS t SET revenue = t.revenue + s.revenue, cost = t.cost + s.cost, "
                        f"lines = t.lines + s.lines FROM {{staging}} AS s WHERE {match}")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE lines <= 0")
    return None


def _rebuilt(table: str, key: list[str], sums: pl.DataFrame) -> TableRebuild:
    """The rollup table with ``sums`` added, built anew beside the old one (PostgreSQL). The old rows are added
    to here, exactly (decimals), and the table's server then only loads sorted rows and builds the indexes:
    a third of the server's CPU of adding up in SQL (a full join of the old rows and the staged sums)."""
    rebuild = TableRebuild(table)  # from here no other writer changes the rows read next
    decimal = pl.Decimal(20, 2)
    columns = [*key, "revenue", "cost", "lines"]
    old = fetch_frame(f"SELECT {', '.join(columns)} FROM {table}", [],
                      {**{k: sums.schema[k] for k in key}, "revenue": decimal, "cost": decimal, "lines": pl.Int64})
    merged = old.join(sums.with_columns(pl.col("revenue", "cost").cast(decimal)), on=key, how="full", coalesce=True)
    rebuild.load(merged.select(*key, *(pl.col(c).fill_null(0) + pl.col(f"{c}_right").fill_null(0) for c in columns[-3:]))
                 .filter(pl.col("lines") > 0).sort(key))
    return rebuild


def _row_count(table: str) -> int:
    return fetch_rows(f"SELECT count(*) FROM {table}", [])[0][0]
