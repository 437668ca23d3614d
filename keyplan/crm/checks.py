"""A CRM export's cells checked a column at a time (Polars), as the ledger import checks its chunks.

The rules are those a person reads in ``keyplan.crm.columns``; what changes is how often they run. A
lookup (an industry, a country, an owner, a lifecycle) runs once per distinct value of the column and is
joined back: an export of 500,000 contacts has a handful of departments and owners, not 500,000. The
validators of addresses run as one regular expression over the column, for the plain addresses a CRM
exports; only a value that expression does not accept goes through Django's own validator, so a value is
accepted exactly when Django accepts it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import polars as pl
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from keyplan.revenue.importing.inspection import RowError
from keyplan.revenue.reading import LINE

# The whitespace Python's str.split() splits on (every such character is below U+3001); Rust's \s, which
# Polars uses, lacks the separators U+001C–U+001F.
SPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace()) + "]+"

# Plain addresses, accepted here without Django's validator: each is a subset of what Django accepts
# (ASCII labels of 1-63 characters not starting or ending with a hyphen, a top-level domain of letters).
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_ATOM = r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+"
PLAIN_EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-zA-Z]{{2,63}}$"
PLAIN_URL = rf"^https?://(?:{_LABEL}\.)+[a-zA-Z]{{2,63}}(?::[0-9]{{1,5}})?(?:[/?#][\x21-\x7e]*)?$"


def text(name: str) -> pl.Expr:
    """A cell as the import reads it: runs of whitespace as one space, trimmed; null when nothing is left."""
    cleaned = pl.col(name).str.replace_all(SPACE, " ").str.strip_chars(" ")
    return pl.when(cleaned != "").then(cleaned).otherwise(None).alias(name)


def lookup(values: pl.Series, function: Callable, dtype) -> pl.Series:
    """``function`` of each value, computed once per distinct value; null where the value is null."""
    distinct = values.drop_nulls().unique().to_list()
    table = pl.DataFrame({"_key": distinct, "_value": [function(v) for v in distinct]},
                         schema={"_key": pl.String, "_value": dtype})
    return values.rename("_key").to_frame().join(table, on="_key", how="left", maintain_order="left")["_value"]


def _validated(values: pl.Series, plain: pl.Series, validator) -> pl.Series:
    """True where a value is plain, else where ``validator`` accepts it (asked once per distinct value)."""
    def accepts(value: str) -> bool:
        try:
            validator(value)
        except ValidationError:
            return False
        return True

    result = plain.fill_null(False)
    doubtful = values.is_not_null() & ~result
    if doubtful.any():
        result = result.scatter(doubtful.arg_true(), lookup(values.filter(doubtful), accepts, pl.Boolean))
    return result.alias(values.name)


def valid_emails(values: pl.Series) -> pl.Series:
    """Whether each address is one Django's EmailValidator accepts (null where there is none)."""
    plain = values.str.contains(PLAIN_EMAIL) & (values.str.len_chars() <= 320)
    return _validated(values, plain, EmailValidator())


def valid_urls(values: pl.Series) -> pl.Series:
    """Whether each web address is one Django's URLValidator accepts (null where there is none)."""
    return _validated(values, values.str.contains(PLAIN_URL), URLValidator())


def folded(values: pl.Series) -> pl.Series:
    """``str.casefold()`` of each value: Polars' lower case where the column is ASCII (the same there)."""
    if not values.str.contains(r"[^\x00-\x7f]").any():
        return values.str.to_lowercase()
    return pl.Series(values.name, [None if v is None else v.casefold() for v in values.to_list()], dtype=pl.String)


def refusals(frame: pl.DataFrame, where: pl.Expr | pl.Series, column: str, value: str, code: str, **params) -> list[RowError]:
    """One error per row of ``frame`` where ``where`` holds: its line, the file's column, the cell as read."""
    hits = frame.filter(where.fill_null(False) if isinstance(where, pl.Expr) else where.fill_null(False))
    return [RowError.of(line, column, None if cell is None else str(cell), code, **params)
            for line, cell in hits.select(LINE, value).iter_rows()]


def cycles(starts: list[Hashable], up: Callable[[Hashable], Hashable | None]) -> dict[Hashable, list]:
    """For each of ``starts`` that lies on a cycle of ``up`` (its parent, its manager), the cycle walked from it
    back to it; each node is walked once (``accounts`` above a long chain are not walked again per start)."""
    done: set = set()
    on_cycle: dict[Hashable, list] = {}
    for start in starts:
        if start in done:
            continue
        path, position, node = [], {}, start
        while node is not None and node not in done and node not in position:
            position[node] = len(path)
            path.append(node)
            node = up(node)
        if node is not None and node in position:  # this walk closed a cycle
            ring = path[position[node]:]
            for i, member in enumerate(ring):
                on_cycle[member] = [*ring[i:], *ring[:i], member]
        done.update(path)
    return {start: on_cycle[start] for start in starts if start in on_cycle}


def cycles_of(edges: pl.DataFrame, starts: pl.Series) -> dict[Hashable, list]:
    """``cycles`` of the graph ``edges`` (columns node, up: a parent, a manager) for the ``starts``. First, a
    column at a time, the nodes whose way up ends a few steps above are set aside (in an export, nearly all);
    only what is left is walked in Python."""
    alive, settled = edges, False
    for _ in range(64):
        kept = alive.filter(pl.col("up").is_in(alive["node"].implode()))
        settled = kept.height == alive.height
        alive = kept
        if settled or not alive.height:
            break
    if not alive.height:
        return {}
    left = set(alive["node"].to_list())
    up = dict((alive if settled else edges).select("node", "up").iter_rows())
    return cycles([s for s in starts.to_list() if s in left], up.get)
