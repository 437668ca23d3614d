import io
import json
import math
import sqlite3
from itertools import chain
from typing import Any

import polars as pl
from django.db import connection


def refresh_statistics() -> None:
    """Let the query planner know the table sizes after a bulk load (demo, import).

    Without statistics SQLite walks an ordering index for a COUNT(*) where a plain
    scan is four times faster; PostgreSQL's autovacuum would get there, later.
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def in_list(column: str, values: list, sql_type: str) -> tuple[str, list]:
    """SQL saying that ``column`` is one of ``values``, and its parameters: one parameter however many
    values (an array of ``sql_type`` on PostgreSQL, a JSON array on SQLite)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::{sql_type}[])", [values]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(values)]


def fetch_rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_binary_value(sql: str, params: list) -> bytes | None:
    """The one value of a query that returns one ``bytea`` (PostgreSQL), as bytes.

    Django's cursor binds parameters on the client, which gets results as text: a bytea then comes as hex that
    psycopg decodes. This cursor asks for binary results (20M ledger keys as ``int8send`` bytes: 0.9 s of client
    CPU instead of 2.3 s, the server's 4.7 s instead of 6.7 s for the same keys as ``string_agg`` of text).
    """
    import psycopg  # only PostgreSQL installations reach this

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchone()[0]


def fetch_frame(sql: str, params: list, schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of a query as a frame with ``schema`` (its columns in order).

    On PostgreSQL, decimal columns would come out of fetchall as Decimal objects, slowly: queries with a
    Float64 or Decimal column go through COPY as CSV, which Polars parses (150,000 rollup rows: 120 ms
    instead of 200). Others are faster through fetchall, as psycopg reads COPY row by row.
    """
    if connection.vendor != "postgresql" or not any(kind == pl.Float64 or isinstance(kind, pl.Decimal) for kind in schema.values()):
        rows = fetch_rows(sql, params)
        if pl.Date not in schema.values():
            return pl.DataFrame(rows, schema=schema, orient="row")
        # SQLite gives a date column as dates but a date computed in SQL (strftime) as ISO text.
        frame = pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None)
        text = [name for name, kind in schema.items() if kind == pl.Date and frame.schema[name] == pl.String]
        return frame.with_columns(pl.col(text).str.to_date()).cast(schema)
    data = io.BytesIO()  # which Polars reads in place: bytes(bytearray) held the CSV twice (6M rows of two columns: 122 MB more)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for block in copy:
            data.write(block)
    if not data.tell():
        return pl.DataFrame(schema=schema)
    data.seek(0)
    frame = pl.read_csv(data, has_header=False, new_columns=list(schema), schema=schema)
    return frame.with_columns(pl.col(pl.String).fill_null(""))  # CSV writes '' for an empty text, nothing for NULL


# ---------------------------------------------------------------- bulk writes


def _sqlite_insert(head: str, frame: pl.DataFrame, tail: str) -> None:
    """``head VALUES (…), (…), … tail`` for the rows of ``frame`` (its columns in order), many rows per statement.

    sqlite3's executemany runs one statement per row; SQLite's fixed cost per statement
    made that about 60 % slower than 200 rows per statement. Binding is the other cost, per value: a column
    with one value throughout (the batch, a single currency) goes in as a literal.
    Dates go in as ISO text, as Django stores them.
    """
    connection.ensure_connection()
    frame = frame.with_columns(pl.col(pl.Date).cast(pl.String))
    columns = frame.get_columns()
    literals = [_sql_literal(column) for column in columns]
    # A column equal throughout to an earlier one (amounts already in the reporting currency) names that one's
    # parameter again (?NNN) instead of having each value turned into a Python object and bound twice.
    bound: list[int] = []  # the columns whose values are bound, in order
    place: dict[int, int] = {}  # a column without a literal -> its parameter's place among a row's bound values
    for i, (column, literal) in enumerate(zip(columns, literals)):
        if literal is None:
            twin = next((j for j in bound if columns[j].dtype == column.dtype and columns[j].equals(column)), None)
            place[i] = len(bound) if twin is None else place[twin]
            bound += [i] if twin is None else []
    size = len(bound)

    def statement(rows: int) -> str:
        values = ", ".join(
            f"({', '.join(f'?{row * size + place[i] + 1}' if literal is None else literal for i, literal in enumerate(literals))})"
            for row in range(rows))
        return f"{head} VALUES {values} {tail}"

    per_statement = min(SQLITE_ROWS_PER_STATEMENT, _sqlite_max_variables() // max(size, 1))
    for part in frame.iter_slices(50_000):  # bounds the Python objects alive at once
        rows = part.height
        values = list(chain.from_iterable(zip(*(part.to_series(i).to_list() for i in bound))))
        full = rows - rows % per_statement
        if full:
            step = per_statement * size
            connection.connection.executemany(
                statement(per_statement),
                (values[i:i + step] for i in range(0, full * size, step)) if size else ([] for _ in range(full // per_statement)))
        if full < rows:
            connection.connection.execute(statement(rows - full), values[full * size:])


def _sql_literal(column: pl.Series) -> str | None:
    """The SQL literal of a column's only value, or None when it has several (or a type not inlined)."""
    if column.len() == 0:
        return None
    value = column[0]
    if value is None:
        return "NULL" if column.null_count() == column.len() else None
    if column.null_count() or not (column == value).all():  # cheaper than n_unique() on a column of texts
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str):
        return None if "\x00" in value else "'" + value.replace("'", "''") + "'"
    return repr(value) if isinstance(value, int) or math.isfinite(value) else None


SQLITE_ROWS_PER_STATEMENT = 200


def staged(table: str, frame: pl.DataFrame, statement: str) -> int:
    """Load the rows into a temporary twin of ``table``, then run ``statement`` on it (``{staging}`` names it):
    one set-based statement instead of one per row. Returns the statement's row count."""
    names = ", ".join(frame.columns)
    staging = f"{table}_staging"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                           f"SELECT {names} FROM {table} WITH NO DATA")
            # Empty it first: inside an outer transaction (a caller's atomic block, a test) no commit has emptied it.
            cursor.execute(f"TRUNCATE {staging}")
            with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(copy_csv(frame))
        else:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {names} FROM {table} WHERE 0")
            cursor.execute(f"DELETE FROM {staging}")
            _sqlite_insert(f"INSERT INTO {staging} ({names})", frame, "")
        cursor.execute(statement.format(staging=staging))
        return cursor.rowcount


def _sqlite_max_variables() -> int:
    # SQLite allows 32,766 parameters per statement since 3.32, 999 before.
    return 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999



def bulk_insert(table: str, frame: pl.DataFrame, *, tail: str = "", csv: bytes | None = None) -> None:
    """Insert the rows of ``frame`` (named columns) the fastest way each database takes them.

    PostgreSQL: COPY (``csv`` when the caller prepared it already); with a ``tail`` such as
    ``ON CONFLICT …``, which COPY does not take, COPY into a staging table and one ``INSERT …
    SELECT … tail``. SQLite: many rows per INSERT.
    """
    if not frame.height:
        return
    names = ", ".join(frame.columns)
    if connection.vendor == "postgresql" and tail:
        staged(table, frame, f"INSERT INTO {table} ({names}) SELECT {names} FROM {{staging}} {tail}")
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(csv if csv is not None else copy_csv(frame))
    else:
        _sqlite_insert(f"INSERT INTO {table} ({names})", frame, tail)



def reserve_ids(model, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``model``, taken before they are written: so that rows pointing at them
    can be prepared (or written) first. PostgreSQL hands them out from the table's sequence; on SQLite the
    caller must hold the database's write lock until the rows are in (the ids follow the highest ever given:
    AUTOINCREMENT's sqlite_sequence moves on as they go in)."""
    if not count:
        return []
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        # The ids come back as runs (first, last): a whole run unless another session took ids in between, so
        # 500,000 ids are one row instead of 500,000 (that transfer took longer than the sequence itself).
        # Within the statement the sequence's values rise with the row number, which marks where a run ends.
        runs = fetch_rows("SELECT min(v), max(v), count(*) FROM (SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS v, n "
                          "FROM generate_series(1, %s) AS n) AS taken GROUP BY v - n ORDER BY 1", [table, count])
        ids = [pk for first, last, _ in runs for pk in range(first, last + 1)]
        if len(ids) != count or any(last - first + 1 != n for first, last, n in runs):
            raise RuntimeError(f"the ids reserved for {table} are not runs: {runs[:5]}")
        return ids
    (top,) = fetch_rows(f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                        f"coalesce((SELECT max(id) FROM {table}), 0))", [table])[0]
    return list(range(top + 1, top + 1 + count))


def copy_csv(frame: pl.DataFrame) -> bytes:
    """``frame`` as COPY's CSV. Written into a BytesIO, whose getvalue() hands over its buffer: write_csv's str and its
    encode() held the text twice."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="")
    return buffer.getvalue()


# ---------------------------------------------------------------- tables built anew


class TableRebuild:
    """A PostgreSQL table built anew beside itself, then swapped in, in one transaction: for a change that touches
    most of a table's rows (millions of in-place updates cost several times a sorted load and an index build).
    For tables that nothing refers to and that refer to nothing in the database; their rows' ids are new; the
    privileges granted on the table to other roles carry over (column privileges do not: none are granted here).

    Creating it locks the table against other writers (readers go on), so that rows read from it next stay its
    rows; ``load`` fills the twin and builds its indexes; ``swap_in`` drops the old table and gives the twin
    its name, indexes and constraints (from then on readers wait for the commit). A process killed in between
    leaves the old table as it was: the transaction never commits.
    """

    def __init__(self, table: str):
        self.table, self.twin = table, f"{table}__rebuilt"
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index builds sort in memory, not on disk
            cursor.execute(f"DROP TABLE IF EXISTS {self.twin}")
            cursor.execute(f"CREATE TABLE {self.twin} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                           f"INCLUDING IDENTITY INCLUDING STORAGE)")
            cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
            (options,) = cursor.fetchone()
            if options:  # fillfactor and the like: LIKE leaves them
                cursor.execute(f"ALTER TABLE {self.twin} SET ({', '.join(options)})")
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid), c.conname, c.contype FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
                "WHERE x.indrelid = %s::regclass ORDER BY i.relname", [table])
            self.indexes = cursor.fetchall()
            cursor.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attidentity <> ''", [table])
            self.identities = [name for (name,) in cursor.fetchall()]
            # What other roles were granted on the table (a reporting tool's read-only user, say): the twin gets the
            # same, so that the swap takes nobody's access away. The owner's own rights come with ownership.
            cursor.execute(
                "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.is_grantable "
                "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) AS a LEFT JOIN pg_roles r ON r.oid = a.grantee "
                "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner ORDER BY 2, 1", [table])
            for privilege, grantee, grantable in cursor.fetchall():
                cursor.execute(f"GRANT {privilege} ON {self.twin} TO {grantee}{' WITH GRANT OPTION' if grantable else ''}")

    def load(self, frame: pl.DataFrame) -> None:
        """The twin's rows (named columns; the others take their defaults), then its indexes, built from them.

        Identity columns are numbered here, 1 to n, and their sequences set to n: COPY drawing each row's id from
        the sequence took 5.0-5.8 s for 2.9M monthly rollups, numbered 3.5-4.4 s."""
        numbered = [column for column in self.identities if column not in frame.columns]
        frame = frame.with_columns([pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(column) for column in numbered])
        bulk_insert(self.twin, frame)
        with connection.cursor() as cursor:
            for column in numbered:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)",
                               [self.twin, column, max(frame.height, 1), frame.height > 0])
            for name, definition, _, _ in self.indexes:
                cursor.execute(_renamed_index(definition, f"{name}__rebuilt", self.twin))
            cursor.execute(f"ANALYZE {self.twin}")  # a new table has no statistics for the planner

    def swap_in(self) -> None:
        kinds = {"p": "PRIMARY KEY", "u": "UNIQUE"}
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.table}")
            cursor.execute(f"ALTER TABLE {self.twin} RENAME TO {self.table}")
            for name, _, constraint, kind in self.indexes:
                if kind in kinds:  # the constraint takes the index and its name
                    cursor.execute(f"ALTER TABLE {self.table} ADD CONSTRAINT {constraint} {kinds[kind]} USING INDEX {name}__rebuilt")
                else:
                    cursor.execute(f"ALTER INDEX {name}__rebuilt RENAME TO {name}")
            for column in self.identities:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [self.table, column])
                cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RENAME TO {self.table}_{column}_seq")


def _renamed_index(definition: str, name: str, table: str) -> str:
    """A PostgreSQL index definition (``pg_get_indexdef``) for another name on another table."""
    head, _, using = definition.partition(" USING ")
    kind = "CREATE UNIQUE INDEX" if head.startswith("CREATE UNIQUE INDEX") else "CREATE INDEX"
    return f"{kind} {name} ON {table} USING {using}"
