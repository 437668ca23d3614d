"""Stage 2: each chunk of rows parsed, checked and converted to the reporting currency, with the dedupe
keys that recognise a line imported before.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl
import polars_hash
from django.db import connection

from keyplan.accounts.models import Account, currency_codes
from keyplan.core.db import fetch_binary_value, fetch_rows, in_list
from keyplan.revenue.importing.inspection import Inspection, RowError, reporting_currency
from keyplan.revenue.ledger_keys import DAY_OFFSET, FIRST_DAY, LAST_DAY, SHIFT, day_keys, hash_part
from keyplan.revenue.models import (
    ExchangeRate,
    LedgerLine,
)
from keyplan.revenue.reading import (
    LEDGER_FIELDS,
    LINE,
    MAX_CELL_CHARS,
    amount_expr,
    date_expr,
)


@dataclass
class _Context:
    """Reference data for validating rows, loaded once per import."""

    accounts: dict[str, tuple[int, str]]  # external id -> (pk, account currency)
    rates: pl.DataFrame  # currency, date, rate
    currencies: frozenset[str]
    reporting: str
    create_accounts: bool
    new_accounts: dict[str, str] = field(default_factory=dict)  # external id -> name, for --create-accounts

    @cached_property
    def known(self) -> pl.Series:
        return pl.Series(list(self.accounts), dtype=pl.String)

    @cached_property
    def account_currencies(self) -> pl.DataFrame:
        return pl.DataFrame([(ext, cur) for ext, (_, cur) in self.accounts.items()],
                            schema={"account_id": pl.String, "_account_currency": pl.String}, orient="row")

    @property
    def currency_list(self) -> pl.Series:
        return pl.Series(sorted(self.currencies), dtype=pl.String)

    @classmethod
    def load(cls, *, create_accounts: bool) -> "_Context":
        accounts = {ext: (pk, cur) for pk, ext, cur in Account.objects.values_list("pk", "external_id", "reporting_currency")}
        rates = pl.DataFrame(
            list(ExchangeRate.objects.values_list("currency", "date", "rate")),
            schema={"currency": pl.String, "date": pl.Date, "rate": pl.Float64},
            orient="row",
        ).sort("date")
        return cls(accounts, rates, currency_codes(), reporting_currency(), create_accounts)


def _hash64(texts: pl.Series) -> pl.Series:
    """A stable 64-bit hash of each text: XXH3-64 (seed 0) of its UTF-8 bytes, as signed integers for a BIGINT column.

    Polars' own hash may change between versions; a dedupe key must not. polars-hash computes
    the standard XXH3 in Rust (10M line ids: 0.1 s, against 1 s through Python and xxhash); a
    property test holds it to the reference implementation.
    """
    digests = texts.rename("text").to_frame().select(polars_hash.col("text").nchash.xxh3_64()).to_series()
    return digests.reinterpret(signed=True).rename("dedupe_key")


def line_id_keys(line_ids: pl.Series) -> pl.Series:
    """The dedupe key of lines with a line id. Stored keys depend on it: never change it."""
    return _hash64("#" + line_ids)


def _parse(chunk: pl.DataFrame, inspection: Inspection, context: _Context) -> pl.DataFrame:
    """Typed columns next to the raw ones: ``_date``, ``_amount``, ``_cost``, ``_currency_given``, ``_known``,
    ``_line_key`` (the dedupe key of a line with a line id)."""
    frame = chunk.rename({source: name for name, source in inspection.mapping.items()})
    frame = frame.with_columns(
        [pl.lit(None, dtype=pl.String).alias(name) for name in LEDGER_FIELDS if name not in frame.columns]
    )
    # Cells come trimmed, blanks as nulls (reading.iter_chunks).
    frame = frame.with_columns(
        (date_expr("date", inspection.date_format) if inspection.date_format else pl.lit(None, dtype=pl.Date)).alias("_date"),
        amount_expr("amount", inspection.decimal).alias("_amount"),
        amount_expr("cost", inspection.decimal).alias("_cost"),
        pl.col("currency").str.to_uppercase().alias("_currency_given"),
        pl.col("account_id").is_in(context.known.implode()).alias("_known"),
    )
    # Hashed once: the line's dedupe key, and what finds a line id repeated further down the file.
    has_id = frame["line_id"].is_not_null()
    line_keys = pl.repeat(None, frame.height, dtype=pl.Int64, eager=True).alias("_line_key")
    if has_id.any():
        line_keys = line_keys.scatter(has_id.arg_true(), line_id_keys(frame["line_id"].filter(has_id)))
    return frame.with_columns(line_keys)


# The account's own fields, as long as the accounts table holds them (an import may create the account).
ACCOUNT_LIMITS = {"account_id": 64, "account_name": 200}


def _errors(frame: pl.DataFrame, inspection: Inspection, context: _Context) -> list[RowError]:
    """An error for each bad cell, naming the line, the column as the file calls it, and the reason."""
    date_reason = ("not_a_date", {"format": inspection.date_format}) if inspection.date_format else ("date_format_unknown", {})
    checks = [
        ("account_id", pl.col("account_id").is_null(), ("account_missing", {})),
        ("date", pl.col("date").is_null(), ("date_missing", {})),
        ("date", pl.col("date").is_not_null() & pl.col("_date").is_null(), date_reason),
        ("date", ~pl.col("_date").is_between(FIRST_DAY, LAST_DAY),  # the key holds the day (ledger_keys)
         ("date_out_of_range", {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()})),
        ("amount", pl.col("amount").is_null(), ("amount_missing", {})),
        ("amount", pl.col("amount").is_not_null() & pl.col("_amount").is_null(), ("not_a_number", {})),
        ("cost", pl.col("cost").is_not_null() & pl.col("_cost").is_null(), ("not_a_number", {})),
        ("currency", pl.col("_currency_given").is_not_null() & ~pl.col("_currency_given").is_in(context.currency_list.implode()),
         ("unknown_currency", {})),
    ]
    too_long = [(name, pl.col(name).str.len_chars() > limit, ("too_long", {"limit": f"{limit:,}"}))
                for name, limit in {**dict.fromkeys(LEDGER_FIELDS, MAX_CELL_CHARS), **ACCOUNT_LIMITS}.items()
                if name in inspection.mapping]
    checks = too_long + checks + [
        (name, pl.col(f"_{name}").abs() >= 1e16, ("number_too_large", {})) for name in ("amount", "cost")]  # DECIMAL(18, 2)
    if not context.create_accounts:
        checks.append(("account_id", pl.col("account_id").is_not_null() & ~pl.col("_known")
                       & (pl.col("account_id").str.len_chars() <= 64), ("unknown_account", {})))
    flags = frame.select(LINE, *[condition.fill_null(False).alias(f"_check{i}") for i, (_, condition, _) in enumerate(checks)])
    bad_any = flags.select(pl.any_horizontal(pl.exclude(LINE))).to_series()
    if not bad_any.any():
        return []
    errors = []
    for i, (column, _, (code, params)) in enumerate(checks):
        hit = flags[f"_check{i}"]
        if hit.any():
            source = inspection.mapping.get(column, column)
            for line, value in frame.filter(hit).select(LINE, column).iter_rows():
                errors.append(RowError.of(line, source, value, code, **params))
    return errors


def _convert(frame: pl.DataFrame, context: _Context, inspection: Inspection) -> tuple[pl.DataFrame, list[RowError]]:
    """Currency of each line (given, else the account's) and its amounts in the reporting currency."""
    # Accounts created by this import (--create-accounts) report in the reporting currency.
    frame = frame.join(context.account_currencies, on="account_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("_currency_given", "_account_currency", pl.lit(context.reporting)).alias("_currency")
    )
    is_foreign = pl.col("_currency") != context.reporting
    if frame.select(is_foreign.any()).item():
        foreign = frame.filter(is_foreign).sort("_date").join_asof(
            context.rates.rename({"currency": "_currency", "date": "_rate_date"}),
            left_on="_date", right_on="_rate_date", by="_currency", strategy="backward",
            check_sortedness=False,  # both sides are sorted by date above
        ).drop("_rate_date")
        local = frame.filter(~is_foreign).with_columns(pl.lit(1.0).alias("rate"))
        frame = pl.concat([local, foreign], how="vertical_relaxed").sort(LINE)
    else:
        frame = frame.with_columns(pl.lit(1.0).alias("rate"))
    missing = frame.filter(pl.col("rate").is_null())
    errors = [
        RowError.of(line, inspection.mapping.get("currency", "currency"), currency, "no_rate", currency=currency, date=day)
        for line, currency, day in missing.select(LINE, "_currency", "_date").iter_rows()
    ]
    frame = frame.filter(pl.col("rate").is_not_null()).with_columns(
        pl.col("_amount").round(2),
        pl.col("_cost").round(2),
        (pl.col("_amount") * pl.col("rate")).round(2).alias("_amount_reporting"),
        (pl.col("_cost") * pl.col("rate")).round(2).alias("_cost_reporting"),
    )
    return frame, errors


def _line_id_repeats(ids: list[pl.DataFrame], inspection: Inspection) -> list[RowError]:
    """A line id used twice in one file is an error: two different lines cannot share an id.

    ``ids`` holds each chunk's (line, key of the line id, line id), in file order. The repeats
    are found among the integer keys (10M lines: 0.3 s; among the texts 2 s); a key that
    two different line ids share is a hash collision, reported as such.
    """
    if not ids:
        return []
    every = pl.concat([frame.select(LINE, "_line_key") for frame in ids])
    suspects = every.filter(pl.col("_line_key").is_duplicated())[LINE]
    if suspects.is_empty():
        return []
    rows = pl.concat([frame.filter(pl.col(LINE).is_in(suspects.implode())) for frame in ids]).with_columns(
        pl.col("line_id").first().over("_line_key").alias("_first")  # the id that took the key first in the file
    ).filter(~pl.col("_line_key").is_first_distinct())
    column = inspection.mapping.get("line_id", "line_id")
    return [RowError.of(line, column, value, "line_id_repeated") if value == first else
            RowError.of(line, column, value, "key_collision_in_file", line_id=first)
            for line, value, first in rows.select(LINE, "line_id", "_first").iter_rows()]


def _keys(frame: pl.DataFrame, seen: "Occurrences") -> pl.Series:
    """The dedupe key of each row: its day and the hash of its line id, or, without one, of its content and
    of how often that content occurred before in the file (`ledger_keys`).

    Occurrences count across chunks (``seen``): two equal sales far apart in a big file are
    two lines, not a duplicate.
    """
    has_id = frame["line_id"].is_not_null()
    hashes = frame["_line_key"].fill_null(0)
    if not has_id.all():
        fingerprint = frame.filter(~has_id).select(pl.concat_str(
            [pl.col("account_id"), pl.col("_date").cast(pl.String), pl.col("_amount").cast(pl.String), pl.col("_currency"),
             pl.col("_cost").cast(pl.String).fill_null("-"), pl.col("product").fill_null("-"),
             pl.col("division").fill_null("-"), pl.col("invoice_id").fill_null("-")],
            separator="|",
        )).to_series()
        occurrence = seen.number(fingerprint)
        hashes = hashes.scatter((~has_id).arg_true(), _hash64(fingerprint + "|" + occurrence.cast(pl.String)))
    return day_keys(frame["_date"], hashes)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique hashes (NumPy 2.3 on), about 40 times slower than a sort here."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


DAY_BITS = 64 - SHIFT  # a key's day part, stored as a day number from 0 in _by_hash


class LedgerKeys:
    """The dedupe keys already in the ledger, read once per import as one sorted array, and each chunk's rows
    found among them by binary search.

    Looking each chunk's 500,000 keys up in the key's index took 1.25 s of CPU a chunk on SQLite
    with 2M lines in the ledger (0.4 s with the keys sorted), and grows with the ledger; reading
    every key once takes 0.35 s for 2M lines. The array holds 8 bytes a line (80 MB at 10M lines).
    Only the keys found go back to the database, for their line ids.

    A key holds the line's day (`ledger_keys`): a line id imported before under another date has
    another key but the same hash part, and is the same line. Lines with a line id are therefore
    looked up by the hash part too (a second sorted array, built only when a file has line ids).
    """

    RANGES = 64  # the keys are read a range at a time: one text of a few MB each at 10M lines

    def __init__(self, keys: np.ndarray):
        self.keys = keys

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def read(cls, *, by_hash: bool = False) -> "LedgerKeys":
        """The ledger's keys; ``by_hash`` sorts them by hash part too, for a file with line ids (see ``_by_hash``)."""
        table = LedgerLine._meta.db_table
        ((low, high),) = fetch_rows(f"SELECT MIN(dedupe_key), MAX(dedupe_key) FROM {table}", [])
        if low is None:
            return cls(np.empty(0, dtype=np.int64))
        step = (high - low) // cls.RANGES + 1
        ranges = [[start, min(start + step - 1, high)] for start in range(low, high + 1, step)]
        where = "WHERE dedupe_key BETWEEN %s AND %s"
        if connection.vendor == "postgresql":
            # Each key as its 8 bytes, big-endian, read in binary: no key turned into text and back.
            sql = f"SELECT string_agg(int8send(dedupe_key), ''::bytea) FROM {table} {where}"
            parts = [np.frombuffer(data, dtype=">i8") for data in (fetch_binary_value(sql, bounds) for bounds in ranges) if data]
            found = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
        else:
            texts = [text for ((text,),) in (fetch_rows(f"SELECT group_concat(dedupe_key) FROM {table} {where}", bounds)
                                               for bounds in ranges) if text]
            found = pl.Series(texts, dtype=pl.String).str.split(",").explode().cast(pl.Int64).to_numpy()
        keys = cls(np.sort(found))  # each range comes in index order, but no aggregate promises it (20M keys: 0.35 s)
        if by_hash:
            keys._by_hash  # now, on the reading thread
        return keys

    @cached_property
    def _by_hash(self) -> np.ndarray:
        """The stored keys in the order of their hash part, each packed as its hash part above its day part
        (unsigned 64 bits): one sort of one array (0.6 s at 10M keys; an argsort and a gather took 1.4 s)."""
        days = (self.keys >> SHIFT) + DAY_OFFSET  # 0 … 2^17 - 1
        return np.sort((hash_part(self.keys).astype(np.uint64) << np.uint64(DAY_BITS)) | days.astype(np.uint64))

    def _same_hash(self, keys: np.ndarray) -> np.ndarray:
        """The stored keys whose hash part is that of one of ``keys`` (any day)."""
        packed = self._by_hash
        wanted = np.sort(hash_part(keys)).astype(np.uint64) << np.uint64(DAY_BITS)
        # One search finds where each hash part would start; only the hash parts found need the end of their run.
        left = np.searchsorted(packed, wanted)
        found = left < len(packed)
        found[found] = (packed[left[found]] >> np.uint64(DAY_BITS)) == (wanted[found] >> np.uint64(DAY_BITS))
        left = left[found]
        right = np.searchsorted(packed, wanted[found] | np.uint64((1 << DAY_BITS) - 1), "right")
        counts = right - left
        # Every position from left to right of each hit, without a loop: offsets repeated, plus a running count.
        positions = np.repeat(left - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        hits = packed[positions]
        days = (hits & np.uint64((1 << DAY_BITS) - 1)).astype(np.int64) - DAY_OFFSET
        return (days << SHIFT) | (hits >> np.uint64(DAY_BITS)).astype(np.int64)

    def split(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RowError], pl.DataFrame]:
        """Split off the rows already in the ledger: (new rows, errors, duplicates).

        A row with a line id is in the ledger when a stored line has that line id (whatever its date).
        A row without one is in the ledger when its key is (its content, date included, is hashed).
        A key found with another line id is a hash collision, not a duplicate: that row is an error.
        """
        if not len(self.keys):
            return frame, [], frame.clear()
        with_id = frame["line_id"].is_not_null()
        # Rows with a line id are looked up by their hash part alone (a stored key with the same hash part
        # and day is among those found); the others by their whole key.
        hits = self._same_hash(frame["dedupe_key"].filter(with_id).to_numpy()) if with_id.any() else self.keys[:0]
        if not with_id.all():
            keys = np.sort(frame["dedupe_key"].filter(~with_id).to_numpy())  # sorted, the searches walk the array once (5× faster)
            position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hits = np.concatenate([hits, keys[self.keys[position] == keys]])
        if not len(hits):
            return frame, [], frame.clear()
        table = LedgerLine._meta.db_table
        condition, params = in_list("dedupe_key", _distinct(hits).tolist(), "bigint")  # in key order: the index is walked once
        found = fetch_rows(f"SELECT dedupe_key, line_id FROM {table} WHERE {condition}", params)
        stored = pl.DataFrame(found, schema={"dedupe_key": pl.Int64, "_stored_line_id": pl.String}, orient="row")
        same_id = stored["_stored_line_id"].drop_nulls()
        imported_before = pl.col("line_id").is_not_null() & pl.col("line_id").is_in(same_id.implode())
        matched = frame.join(stored, on="dedupe_key", how="left", maintain_order="left").with_columns(
            imported_before.alias("_before"))
        known = pl.col("dedupe_key").is_in(stored["dedupe_key"].implode())
        collides = ~pl.col("_before") & known & pl.col("line_id").is_not_null()
        duplicate = pl.col("_before") | (known & pl.col("line_id").is_null())
        errors = [RowError.of(line, "line_id", line_id, "key_collision", line_id=stored_id or "(without id)")
                  for line, line_id, stored_id in matched.filter(collides).select(LINE, "line_id", "_stored_line_id").iter_rows()]
        new = matched.filter(~duplicate & ~collides).drop("_stored_line_id", "_before")
        return new, errors, matched.filter(duplicate).drop("_stored_line_id", "_before")


class Occurrences:
    """How often each row content occurred in the file so far, by 64-bit hash.

    Sorted arrays of the hashes seen and their counts (10M rows: 120 MB). Each chunk
    looks its hashes up by binary search and merges the new ones in with one copy;
    re-grouping a table of every hash per chunk took 24 s over 10M lines, this 8 s.
    """

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.uint32)

    def number(self, texts: pl.Series) -> pl.Series:
        """1 for the first time a text occurs in the file, 2 for the second …"""
        within = _occurrence(texts)
        # The chunk's distinct hashes in sorted order: the binary searches then stay near each other in memory.
        new, row, n = np.unique(_hash64(texts).to_numpy(), return_inverse=True, return_counts=True)
        position = np.searchsorted(self.hashes, new)
        seen = np.zeros(len(new), dtype=bool)
        inside = position < len(self.hashes)
        seen[inside] = self.hashes[position[inside]] == new[inside]
        earlier = np.zeros(len(new), dtype=np.uint32)
        earlier[seen] = self.counts[position[seen]]
        self.counts[position[seen]] += n[seen].astype(np.uint32)
        self.hashes = np.insert(self.hashes, position[~seen], new[~seen])
        self.counts = np.insert(self.counts, position[~seen], n[~seen].astype(np.uint32))
        return within + pl.Series(earlier[row], dtype=pl.UInt32)


def _occurrence(texts: pl.Series) -> pl.Series:
    """1 for the first time a text occurs, 2 for the second … (``cum_count().over(texts)``, 15× faster).

    A window over half a million distinct strings is slow in Polars; sorting by a hash and
    then the text itself puts equal texts next to each other in file order instead.
    """
    rows = pl.DataFrame({"hash": texts.hash(), "text": texts, "row": pl.int_range(len(texts), eager=True, dtype=pl.UInt32)})
    ordered = rows.sort("hash", "text", "row")
    repeat = ((ordered["hash"] == ordered["hash"].shift(1)) & (ordered["text"] == ordered["text"].shift(1))).fill_null(False)
    position = np.arange(len(texts), dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(repeat.to_numpy(), 0, position)) if len(texts) else position
    return pl.zeros(len(texts), pl.UInt32, eager=True).scatter(ordered["row"], position - run_start + 1)
