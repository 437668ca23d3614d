"""The ledger's primary key: the line's day in its top bits, a hash of the line below them.

One B-tree then does two jobs: it recognises a line imported before (the hash), and it finds the
lines of any run of days (a key range), which exact periods, the ledger's first and last day and
lifetime value need. A separate index on the date cost half of a 2M-line SQLite import (7.5 of
15.6 s) and two thirds of deleting a batch's lines; and lines written in key order are written in
day order, so on a first import the table and its key grow at their ends.

Layout of the 64 bits of a BIGINT: 17 bits for the day (days since 1900-01-01, up to 2199-12-31,
less DAY_OFFSET so that the whole signed range is used and key order is day order), and 47 bits of
the line's 64-bit hash (`validate.line_id_keys`, or of its content). Two lines of one day share a
key with a chance of about n² / 2^48 for n lines that day (10,000 lines a day: 1 in 3 million a
day); the import reports such a line as a key collision rather than taking it for a duplicate.
"""

import datetime

import polars as pl

FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2199, 12, 31)
SHIFT = 47
HASH_MASK = (1 << SHIFT) - 1
DAY_OFFSET = 1 << 16  # day numbers 0 … 109,572 become -65,536 … 44,036: the key spans the signed range
UNIX_DAY = (datetime.date(1970, 1, 1) - FIRST_DAY).days  # Polars and the SQL below count days from 1970


def _day_part(day: datetime.date) -> int:
    return (day - FIRST_DAY).days - DAY_OFFSET


def key_range(first: datetime.date, last: datetime.date) -> tuple[int, int]:
    """The smallest and the largest key a line of the days ``first`` to ``last`` can have."""
    return _day_part(first) << SHIFT, ((_day_part(last) + 1) << SHIFT) - 1


def day_of(key: int) -> datetime.date:
    return FIRST_DAY + datetime.timedelta(days=(key >> SHIFT) + DAY_OFFSET)


def unix_day_sql(column: str) -> str:
    """SQL for the day of the key in ``column`` as days since 1970-01-01 (`>>` is arithmetic on both databases)."""
    return f"(({column} >> {SHIFT}) + {DAY_OFFSET - UNIX_DAY})"


def day_keys(dates: pl.Series, hashes: pl.Series) -> pl.Series:
    """Each line's key from its date (between FIRST_DAY and LAST_DAY) and its 64-bit hash."""
    days = dates.cast(pl.Int32).cast(pl.Int64).to_numpy() + (UNIX_DAY - DAY_OFFSET)  # a NumPy array
    return pl.Series("dedupe_key", (days << SHIFT) | hash_part(hashes.to_numpy()), dtype=pl.Int64)


def hash_part(keys):
    """The hash bits of keys or of 64-bit hashes (a NumPy array): what stays the same when a line's date changes."""
    return keys & HASH_MASK
