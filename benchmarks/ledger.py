"""Revenue ledger at scale: import, Pareto and ABC with Keyplan, against DuckDB and pandas on the same CSV.

    .venv/bin/python benchmarks/ledger.py --lines 1000000 --accounts 10000
    .venv/bin/python benchmarks/ledger.py --lines 10000000 --accounts 100000 \\
        --database-url postgres://postgres@127.0.0.1:5432/keyplan_bench_ledger

Options: --years N (the ledger covers N calendar years ending this year, default 3),
--seed S (default 42), --keep-csv (keep the generated CSV under /tmp and reuse it on the
next run with the same lines, accounts, years and seed), --repeat R (timed runs of each
analysis, default 5; the median is printed), --keep-database (leave the database
for profiling; its URL is printed), --without-line-ids (leave the line_id column
out, as many ERP exports do: Keyplan then recognises lines by a hash of their content).

The two imports users run besides the one into an empty ledger with its accounts in place:
--create-accounts (no accounts beforehand: the import creates them, as `keyplan import ledger
--create-accounts` and the web's "create accounts" do) and --existing-lines N (a first file of N
other lines, with line ids of their own, over the same accounts and years, is imported first, so the
measured import goes into a ledger that already holds N lines; its time is printed too, and DuckDB
and pandas then read both files).

What it does, in order:

1. Generates a deterministic ledger CSV (line_id, account_id, date, amount, cost,
   currency EUR, product, division), written to disk chunk by chunk. Account sizes are
   lognormal, so a few accounts carry most revenue; every account has at least one line and
   buys four neighbouring products for two divisions (the product rollups of the whitespace map).
2. Creates a fresh database (a SQLite file under /tmp by default; for PostgreSQL the
   database named in the URL is dropped and created with psycopg), migrates it, and
   creates an admin user and the M accounts (bulk insert; not with --create-accounts).
   With --existing-lines N, imports the first file of N lines (in a child process, timed), then
   leaves the ledger as a server keeps it between imports (ANALYZE; on PostgreSQL VACUUM (ANALYZE)).
3. Imports the file with `keyplan.revenue.services.import_ledger`, as the admin, in a
   child process, and reports wall time, lines/s and the child's peak resident memory
   (its own `getrusage(RUSAGE_SELF).ru_maxrss`: the whole process, Python, Django and Polars
   included; the PostgreSQL server's own memory is not in it), and the wall time of the whole
   child process (Python and Django starting included, as a user's command would take).
4. Times Pareto (last 12 months) and ABC (the N years) from the rollups through
   `portfolio.pareto_report` / `portfolio.abc_report`, then the same two analyses with
   DuckDB straight from the CSV (the reference engine, SQL window functions) and with a
   plain pandas script, and checks that the three agree: the same vital few, the same
   total to the cent, the same class counts per year and the same class for every account.
5. Times the portfolio page (`/portfolio/`) through Django's whole stack when it exists.

The database is dropped (PostgreSQL) or deleted (SQLite) at the end, unless --keep-database.
"""

import argparse
import cProfile
import datetime
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATE_CHUNK = 1_000_000
PRODUCTS = [f"P-{i:03d}" for i in range(1, 61)]
DIVISIONS = ["Operations", "Procurement", "Finance", "R&D", "Logistics", "Quality", "Sales", "IT"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-csv", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--without-line-ids", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--create-accounts", action="store_true", help="the import creates the accounts")
    parser.add_argument("--existing-lines", type=int, default=0, metavar="N",
                        help="import into a ledger that already holds N other lines")
    parser.add_argument("--profile", action="store_true", help="print where the measured import's CPU time goes (cProfile)")
    parser.add_argument("--child-import", metavar="CSV", help=argparse.SUPPRESS)  # internal: the import process
    args = parser.parse_args()
    if args.child_import:
        return child_import(args)
    if args.lines < args.accounts or (args.existing_lines and args.existing_lines < args.accounts):
        parser.error("--lines and --existing-lines must be at least --accounts (every account gets a line in each file)")
    if args.create_accounts and args.existing_lines:
        parser.error("--create-accounts measures a first import: it goes without --existing-lines")

    url = args.database_url or f"sqlite:////tmp/keyplan-bench-ledger-{os.getpid()}.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    _setup_django()
    from django.utils import timezone

    today = timezone.localdate()
    years = list(range(today.year - args.years + 1, today.year + 1))
    variant = "-no-line-ids" if args.without_line_ids else ""
    files = []  # (path, lines, seed, line id prefix): the existing ledger's file first, the measured one last
    if args.existing_lines:
        files.append((Path(f"/tmp/keyplan-ledger-E{args.existing_lines}-{args.accounts}-{years[0]}-{today.isoformat()}-"
                           f"{args.seed + 1}{variant}.csv"), args.existing_lines, args.seed + 1, "E"))
    files.append((Path(f"/tmp/keyplan-ledger-{args.lines}-{args.accounts}-{years[0]}-{today.isoformat()}-{args.seed}"
                       f"{variant}.csv"), args.lines, args.seed, "L"))
    for path, lines, seed, prefix in files:
        if args.keep_csv and path.exists():
            print(f"reusing {path} ({path.stat().st_size / 1e6:,.0f} MB)")
            continue
        started = time.perf_counter()
        generate_csv(path, lines=lines, accounts=args.accounts, first=datetime.date(years[0], 1, 1),
                     last=today, seed=seed, line_ids=not args.without_line_ids, prefix=prefix)
        print(f"generated {lines:,} lines for {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s "
              f"({path.stat().st_size / 1e6:,.0f} MB)")

    _create_database(url)
    try:
        return run(args, url, [path for path, *_ in files], years)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep_database:
            print(f"kept the database: KEYPLAN_DATABASE_URL={url}")
        else:
            _drop_database(url)
        if not args.keep_csv:
            for path, *_ in files:
                path.unlink(missing_ok=True)


def _settle(connection) -> None:
    """The prepared ledger as a server keeps it between imports: its statistics, and on PostgreSQL vacuumed, as
    autovacuum does with the defaults within a minute of a load this size. Without the visibility map that a vacuum
    sets, every index-only scan reads the table too: the next import's read of the ledger's 10M keys took 4.1-4.4 s
    instead of 2.4-2.6 s. Said when the server has autovacuum off (the test machines' configuration does)."""
    from keyplan.core.db import refresh_statistics

    if connection.vendor != "postgresql":
        refresh_statistics()
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        (autovacuum,) = cursor.fetchone()
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM (ANALYZE) of the prepared ledger: {time.perf_counter() - started:.1f} s (this server's autovacuum: "
          f"{autovacuum})")


def run(args, url: str, csv_paths: list[Path], years: list[int]) -> int:
    from django.core.management import call_command
    from django.db import connection

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import Role, User

    call_command("migrate", verbosity=0)
    User.objects.create_user("bench-admin", password=None, role=Role.ADMIN)
    if not args.create_accounts:
        started = time.perf_counter()
        Account.objects.bulk_create(
            (Account(external_id=_external_id(i), name=f"Account {i + 1}", reporting_currency="EUR")
             for i in range(args.accounts)),
            batch_size=5000,
        )
        refresh_statistics()
        print(f"created {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s")
    connection.close()  # the child has the database to itself while it imports

    *earlier, csv_path = csv_paths
    for path in earlier:  # --existing-lines: the ledger's first file, then its statistics as after any import
        before = _import_in_child(url, path, args, create_accounts=False)
        if before is None:
            return 1
        if before["rows_imported"] != args.existing_lines or before["error_count"]:
            print(f"the first file did not go in whole: {before}")
            return 1
        print(f"existing ledger: {args.existing_lines:,} lines imported in {before['seconds']:.1f} s "
              f"({args.existing_lines / before['seconds']:,.0f} lines/s; load average {before['load'][0]:.1f})")
        _settle(connection)
        connection.close()

    imported = _import_in_child(url, csv_path, args, create_accounts=args.create_accounts, profile=args.profile)
    if imported is None:
        return 1
    if imported["rows_imported"] != args.lines or imported["error_count"]:
        print(f"the import did not take every line: {imported}")
        return 1
    if args.create_accounts and imported["accounts_created"] != args.accounts:
        print(f"the import created {imported['accounts_created']:,} accounts, not {args.accounts:,}")
        return 1

    # Printed at once: the analyses below take minutes at 10M lines.
    case = ("creating its accounts" if args.create_accounts else
            f"into a ledger of {args.existing_lines:,} lines" if args.existing_lines else "into an empty ledger")
    print(f"\n{connection.vendor}, {args.lines:,} lines{' without line ids' if args.without_line_ids else ''} {case}, "
          f"{args.accounts:,} accounts, {len(years)} years "
          f"({os.cpu_count()} cores, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"import: {imported['seconds']:.1f} s, {args.lines / imported['seconds']:,.0f} lines/s "
          f"(validate {imported['validate_seconds']:.1f} s, write {imported['write_seconds']:.1f} s"
          f"{', accounts created ' + format(imported['accounts_created'], ',') if args.create_accounts else ''}); "
          f"peak memory {imported['peak_mb']:,.0f} MB (the process at rest before the import: "
          f"{imported['rss_before_mb']:,.0f} MB)")
    print(f"  the whole child process (Python and Django starting, the import, exit): {imported['process_seconds']:.1f} s, "
          f"{args.lines / imported['process_seconds']:,.0f} lines/s")
    server = (f"; PostgreSQL's processes meanwhile: {imported['server_seconds']:.1f} s" if imported["server_seconds"]
              else " (the database server's, for PostgreSQL, not included)")
    print(f"  CPU time of the import process: {imported['cpu_seconds']:.1f} s{server}; load average "
          f"{imported['load'][0]:.1f} before, {imported['load'][1]:.1f} after")
    duck_import = time_duckdb_import(csv_paths)
    print(f"  the reference: DuckDB loads the same file{'s' if len(csv_paths) > 1 else ''} into a table on disk keyed by line id "
          f"in {duck_import:.1f} s, {args.lines / duck_import:,.0f} lines/s of the measured file's size; Keyplan/DuckDB "
          f"{imported['seconds'] / duck_import:.2f} (DuckDB checks no accounts, dates or duplicates and keeps no rollups)")
    started = time.perf_counter()
    refresh_statistics()  # as `keyplan demo` does after a bulk load
    analyze_s = time.perf_counter() - started

    keyplan_times, keyplan_result = time_keyplan(years, repeat=args.repeat)
    period = (datetime.date.fromisoformat(keyplan_result["pareto"]["from"]),
              datetime.date.fromisoformat(keyplan_result["pareto"]["to"]))
    duck_times, duck_result = time_duckdb(csv_paths, period, years, repeat=args.repeat)
    pandas_times, pandas_result = time_pandas(csv_paths, period, years)
    problems = compare(keyplan_result, duck_result, "DuckDB") + compare(keyplan_result, pandas_result, "pandas")
    page_ms = time_portfolio_page(repeat=args.repeat)

    print(f"ANALYZE after the import: {analyze_s:.1f} s")
    print(f"\n{'analysis (median of ' + str(args.repeat) + ')':<28}{'Keyplan s':>10}{'DuckDB s':>10}{'pandas s':>10}"
          f"{'Keyplan/DuckDB':>16}")
    for step in ("pareto", "abc", "total"):
        ratio = keyplan_times[step] / duck_times[step] if duck_times[step] else float("nan")
        print(f"{step:<28}{keyplan_times[step]:>10.3f}{duck_times[step]:>10.3f}{pandas_times[step]:>10.3f}{ratio:>16.2f}")
    print("(Keyplan reads its rollups; DuckDB and pandas read the raw CSV each time)")
    first = keyplan_times["first"]
    print(f"Keyplan's first run in the process: pareto {first['pareto']:.3f} s, abc {first['abc']:.3f} s, "
          f"total {first['total']:.3f} s")
    if page_ms is None:
        print("\nportfolio page: /portfolio/ is not built yet (404 or the 'coming' placeholder); not timed")
    else:
        print(f"\nportfolio page /portfolio/: {page_ms[1]:.0f} ms server time (median of {args.repeat}); "
              f"the first request {page_ms[0]:.0f} ms")
    pareto, abc = keyplan_result["pareto"], keyplan_result["abc"]
    print(f"\nPareto {pareto['from']} – {pareto['to']}: {pareto['vital_few']:,} of {len(pareto['accounts']):,} accounts "
          f"make 80 % of {pareto['total']:,.2f} EUR; ABC: "
          + "; ".join(f"{y} A {c['A']} B {c['B']} C {c['C']}" for y, c in abc["years"].items()))
    if problems:
        print("\nDISAGREEMENT:\n  " + "\n  ".join(problems[:20]))
        return 1
    print("Keyplan, DuckDB and pandas agree (vital few, total to the cent, class counts, class of every account).")
    return 0


def _import_in_child(url: str, csv_path: Path, args, *, create_accounts: bool, profile: bool = False) -> dict | None:
    """The import in a child process, so that its peak memory is its own; its JSON result, or None if it failed."""
    command = [sys.executable, __file__, "--child-import", str(csv_path)] + (["--create-accounts"] if create_accounts else []) \
        + (["--profile"] if profile else [])
    postgres = _PostgresCpu() if url.startswith("postgres") else None
    started = time.perf_counter()
    completed = subprocess.run(command, env=dict(os.environ, KEYPLAN_DATABASE_URL=url, KEYPLAN_LOG_LEVEL="INFO"),
                               capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    server_seconds = postgres.stop() if postgres else 0.0
    if completed.returncode != 0:
        print(completed.stdout, completed.stderr, sep="\n")
        return None
    if profile:
        print(completed.stderr)
    else:  # the import's stages, as it logs them
        print("\n".join("  " + line.split(": ", 1)[1] for line in completed.stderr.splitlines() if " keyplan.import: " in line))
    return json.loads(completed.stdout.strip().splitlines()[-1]) | {"process_seconds": process_seconds,
                                                                     "server_seconds": server_seconds}


class _PostgresCpu:
    """The CPU seconds PostgreSQL's processes on this machine spend until ``stop`` (the import's backends, the WAL
    writer, the checkpointer…), read from /proc every 0.2 s: a backend's time is gone from /proc once its
    connection closes, so each process counts from its first reading to its last. 0 where /proc shows none."""

    def __init__(self):
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.read()
        self.thread.start()

    def read(self) -> None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                head, tail = stat.read_text().rsplit(")", 1)
                if head.endswith("(postgres"):
                    values = tail.split()
                    seconds = (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
                    self.first.setdefault(stat.parent.name, 0.0 if self.thread.is_alive() else seconds)
                    self.last[stat.parent.name] = seconds
            except (OSError, ValueError, IndexError):
                continue  # a process that ended meanwhile

    def _run(self) -> None:
        while not self.done.wait(0.2):
            self.read()

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        self.read()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


# ---------------------------------------------------------------- the ledger file


def _external_id(index) -> str:
    return f"B-{index + 1:06d}"


def generate_csv(path: Path, *, lines: int, accounts: int, first: datetime.date, last: datetime.date, seed: int,
                 line_ids: bool = True, prefix: str = "L") -> None:
    """Write the ledger chunk by chunk (never the whole file in memory); the same arguments give the same bytes.

    Line ids are ``prefix`` and the line's number: files with different prefixes share none."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    # A few large accounts and a long tail, as in a real B2B portfolio.
    weights = rng.lognormal(0.0, 1.6, accounts)
    weights /= weights.sum()
    size = rng.lognormal(0.0, 0.5, accounts)  # large accounts also buy larger tickets
    # Each account buys a few product lines (4 neighbours in the list) for a few divisions (2), as real ones do.
    first_product, first_division = rng.integers(0, len(PRODUCTS), accounts), rng.integers(0, len(DIVISIONS), accounts)
    days = (last - first).days + 1
    products, divisions = pl.Series(PRODUCTS), pl.Series(DIVISIONS)
    temporary = path.with_suffix(".partial")
    with open(temporary, "wb") as handle:
        for start in range(0, lines, GENERATE_CHUNK):
            n = min(GENERATE_CHUNK, lines - start)
            index = np.arange(start, start + n)
            account = rng.choice(accounts, size=n, p=weights)
            # The first line of each account is guaranteed, so that all accounts appear in the file.
            head = index < accounts
            account[head] = index[head]
            cents = np.round(rng.lognormal(6.5, 1.1, n) * size[account] * 100).astype(np.int64) + 100
            cents[rng.random(n) < 0.03] *= -1  # credit notes
            cost = np.round(cents * rng.uniform(0.35, 0.9, n)).astype(np.int64)
            frame = pl.DataFrame({
                "line_id": pl.Series(index, dtype=pl.Int64),
                "account_id": pl.Series(account + 1, dtype=pl.Int64),
                "date": pl.Series(first.toordinal() + rng.integers(0, days, n) - 719_163, dtype=pl.Int32).cast(pl.Date),
                "cents": cents,
                "cost_cents": pl.Series(np.where(rng.random(n) < 0.1, -(1 << 62), cost)),  # 10 % without cost
                "product": products.gather((first_product[account] + rng.integers(0, 4, n)) % len(PRODUCTS)),
                "division": divisions.gather((first_division[account] + rng.integers(0, 2, n)) % len(DIVISIONS)),
            })
            frame = frame.select(
                (prefix + pl.col("line_id").cast(pl.String).str.zfill(10)).alias("line_id"),
                ("B-" + pl.col("account_id").cast(pl.String).str.zfill(6)).alias("account_id"),
                pl.col("date").cast(pl.String),
                _money("cents").alias("amount"),
                pl.when(pl.col("cost_cents") == -(1 << 62)).then(None).otherwise(_money("cost_cents")).alias("cost"),
                pl.lit("EUR").alias("currency"),
                "product",
                "division",
            )
            if not line_ids:
                frame = frame.drop("line_id")
            frame.write_csv(handle, include_header=start == 0)
    temporary.rename(path)


def _money(column: str):
    """Cents as "-1234.05" text, exactly (no float formatting)."""
    import polars as pl

    cents = pl.col(column)
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return sign + (cents.abs() // 100).cast(pl.String) + "." + (cents.abs() % 100).cast(pl.String).str.zfill(2)


# ---------------------------------------------------------------- databases


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    from keyplan.cli import setup_django

    setup_django()  # as `keyplan import ledger` does


def _postgres(url: str):
    """(server URL on the maintenance database, database name) for a PostgreSQL URL; None for SQLite."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return None
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), parts.path.lstrip("/")


def _create_database(url: str) -> None:
    target = _postgres(url)
    if target is None:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    import psycopg

    server, name = target
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    target = _postgres(url)
    if target is None:
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    import psycopg

    server, name = target
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- the import (child process)


def child_import(args) -> int:
    """Import the file as a user would (the admin, default options but --create-accounts); print one JSON line
    with the result."""
    _setup_django()
    from keyplan.core.models import User
    from keyplan.revenue.services import LedgerOptions, import_ledger

    admin = User.objects.get(username="bench-admin")
    marks = {}

    def progress(value: float, message: str) -> None:
        marks.setdefault(message, time.perf_counter())

    rss_before = _rss_mb()
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    result = import_ledger(args.child_import, by=admin, progress=progress,
                           options=LedgerOptions(create_accounts=args.create_accounts))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats("keyplan", 40)
    writing = marks.get("importing", started + seconds)
    print(json.dumps({**{k: v for k, v in result.as_dict().items() if k != "errors"}, "seconds": seconds,
                      "validate_seconds": writing - started, "write_seconds": started + seconds - writing,
                      "cpu_seconds": cpu_seconds, "rss_before_mb": rss_before,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # kB on Linux
                      "load": [load_before, os.getloadavg()[0]]}))
    return 0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- the analyses


def time_keyplan(years: list[int], *, repeat: int):
    from keyplan.core.models import User
    from keyplan.revenue import portfolio

    scope = portfolio.Scope(user=User.objects.get(username="bench-admin"))
    options = portfolio.Options(years=len(years))
    runs = {"pareto": [], "abc": [], "total": []}
    for _ in range(repeat):
        started = time.perf_counter()
        pareto = portfolio.pareto_report(scope, options)
        middle = time.perf_counter()
        abc = portfolio.abc_report(scope, options)
        ended = time.perf_counter()
        runs["pareto"].append(middle - started)
        runs["abc"].append(ended - middle)
        runs["total"].append(ended - started)
    result = {
        "vital_few": pareto["vital_few"],
        "total_cents": round(pareto["total"] * 100),
        "pareto": pareto,
        "abc": abc,
        "years": {int(y): counts for y, counts in abc["years"].items()},
        "classes": {(a["external_id"], int(y)): c for a in abc["accounts"] for y, c in a["classes"].items()},
    }
    return {k: statistics.median(v) for k, v in runs.items()} | {"first": {k: v[0] for k, v in runs.items()}}, result


DUCK_TYPES = {"line_id": "VARCHAR", "account_id": "VARCHAR", "date": "DATE", "amount": "DECIMAL(18,2)",
              "cost": "DECIMAL(18,2)", "currency": "VARCHAR", "product": "VARCHAR", "division": "VARCHAR"}

# Revenue in the period per account (0 for accounts without), ranked by revenue desc, ties by id;
# the vital few are the accounts up to the first whose cumulative share of positive revenue reaches 80 %.
DUCK_PARETO = """
WITH per_account AS (
    SELECT account_id,
           CAST(SUM(CASE WHEN date BETWEEN DATE '{start}' AND DATE '{end}' THEN amount ELSE 0 END) * 100 AS BIGINT) AS cents
    FROM {ledger} GROUP BY account_id
), ranked AS (
    SELECT cents,
           SUM(GREATEST(cents, 0)) OVER (ORDER BY cents DESC, account_id ROWS UNBOUNDED PRECEDING) AS running,
           SUM(GREATEST(cents, 0)) OVER () AS total
    FROM per_account
)
SELECT CAST(ANY_VALUE(total) AS BIGINT),
       CASE WHEN ANY_VALUE(total) > 0 THEN COUNT(*) FILTER (WHERE CAST(running AS DOUBLE) / CAST(total AS DOUBLE) < 0.8) + 1
            ELSE 0 END
FROM ranked
"""

# Per year, every account (0 in years without revenue): A while the share of the accounts ranked above
# it is below 80 %, B below 95 %, else C; no positive revenue is C.
DUCK_ABC = """
WITH sums AS (
    SELECT account_id, YEAR(date) AS year, CAST(SUM(amount) * 100 AS BIGINT) AS cents
    FROM {ledger} WHERE YEAR(date) BETWEEN {first} AND {last} GROUP BY ALL
), grid AS (
    SELECT a.account_id, y.year, COALESCE(s.cents, 0) AS cents
    FROM (SELECT DISTINCT account_id FROM {ledger}) a
    CROSS JOIN (SELECT UNNEST(RANGE({first}, {last} + 1)) AS year) y
    LEFT JOIN sums s ON s.account_id = a.account_id AND s.year = y.year
), ranked AS (
    SELECT account_id, year, GREATEST(cents, 0) AS positive,
           SUM(GREATEST(cents, 0)) OVER (PARTITION BY year ORDER BY cents DESC, account_id ROWS UNBOUNDED PRECEDING)
               - GREATEST(cents, 0) AS above,
           SUM(GREATEST(cents, 0)) OVER (PARTITION BY year) AS total
    FROM grid
)
SELECT account_id, year,
       CASE WHEN positive <= 0 THEN 'C'
            WHEN CAST(above AS DOUBLE) / CAST(GREATEST(total, 1) AS DOUBLE) < 0.8 THEN 'A'
            WHEN CAST(above AS DOUBLE) / CAST(GREATEST(total, 1) AS DOUBLE) < 0.95 THEN 'B'
            ELSE 'C' END
FROM ranked
"""


def time_duckdb_import(csv_paths: list[Path]) -> float:
    """Seconds DuckDB takes to load the measured file into a persistent table with a primary key on the line id,
    after the --existing-lines file when there is one (that load not timed): the import's reference figure."""
    import duckdb

    *earlier, measured = csv_paths
    with open(measured) as handle:
        header = handle.readline().strip().split(",")
    columns = ", ".join(f"'{name}': '{DUCK_TYPES[name]}'" for name in header)
    key = "PRIMARY KEY" if "line_id" in header else ""
    with tempfile.TemporaryDirectory() as directory:
        database = duckdb.connect(str(Path(directory) / "ledger.duckdb"))
        database.execute(f"CREATE TABLE ledger ({', '.join(f'{name} {DUCK_TYPES[name]}' + (f' {key}' if name == 'line_id' else '') for name in header)})")
        for path in earlier:
            database.execute(f"INSERT INTO ledger SELECT * FROM read_csv('{path}', header = true, auto_detect = false, columns = {{{columns}}})")
            database.execute("CHECKPOINT")
        started = time.perf_counter()
        database.execute(f"INSERT INTO ledger SELECT * FROM read_csv('{measured}', header = true, auto_detect = false, columns = {{{columns}}})")
        database.execute("CHECKPOINT")
        seconds = time.perf_counter() - started
        database.close()
    return seconds


def time_duckdb(csv_paths: list[Path], period, years: list[int], *, repeat: int):
    """Both analyses straight from the CSVs, each query reading the files (DuckDB's own threads, one per core)."""
    import duckdb

    database = duckdb.connect()
    with open(csv_paths[0]) as handle:
        header = handle.readline().strip().split(",")
    columns = ", ".join(f"'{name}': '{DUCK_TYPES[name]}'" for name in header)
    files = ", ".join(f"'{path}'" for path in csv_paths)
    ledger = f"read_csv([{files}], header = true, auto_detect = false, columns = {{{columns}}})"
    runs = {"pareto": [], "abc": [], "total": []}
    for _ in range(repeat):
        started = time.perf_counter()
        total_cents, vital_few = database.execute(DUCK_PARETO.format(ledger=ledger, start=period[0], end=period[1])).fetchone()
        middle = time.perf_counter()
        rows = database.execute(DUCK_ABC.format(ledger=ledger, first=years[0], last=years[-1])).fetchall()
        ended = time.perf_counter()
        runs["pareto"].append(middle - started)
        runs["abc"].append(ended - middle)
        runs["total"].append(ended - started)
    database.close()
    return {k: statistics.median(v) for k, v in runs.items()}, _result(vital_few, total_cents, rows)


def time_pandas(csv_paths: list[Path], period, years: list[int]):
    """The same with a plain pandas script (once: it is the slow reference)."""
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    ledger = pd.concat([pd.read_csv(path, usecols=["account_id", "date", "amount"],
                                    dtype={"account_id": "str", "amount": "float64"}) for path in csv_paths],
                       ignore_index=True)
    ledger["date"] = pd.to_datetime(ledger["date"], format="%Y-%m-%d")
    ledger["cents"] = (ledger["amount"] * 100).round().astype("int64")
    accounts = pd.Index(ledger["account_id"].unique()).sort_values()
    read = time.perf_counter()

    in_period = ledger[(ledger["date"] >= pd.Timestamp(period[0])) & (ledger["date"] <= pd.Timestamp(period[1]))]
    cents = in_period.groupby("account_id")["cents"].sum().reindex(accounts, fill_value=0)
    ranked = pd.DataFrame({"account_id": accounts, "cents": cents.to_numpy()}).sort_values(
        ["cents", "account_id"], ascending=[False, True], kind="stable")
    positive = ranked["cents"].clip(lower=0).to_numpy()
    total = int(positive.sum())
    cumulative = np.cumsum(positive) / max(total, 1)
    vital_few = int((cumulative < 0.8).sum()) + 1 if total > 0 else 0
    pareto_done = time.perf_counter()

    ledger["year"] = ledger["date"].dt.year
    yearly = ledger[ledger["year"].between(years[0], years[-1])].groupby(["account_id", "year"])["cents"].sum()
    table = yearly.unstack("year").reindex(index=accounts, columns=years).fillna(0).astype("int64")
    rows = []
    for year in years:
        column = table[year]
        order = pd.DataFrame({"account_id": accounts, "cents": column.to_numpy()}).sort_values(
            ["cents", "account_id"], ascending=[False, True], kind="stable")
        positive = order["cents"].clip(lower=0).to_numpy()
        share_above = (np.cumsum(positive) - positive) / max(int(positive.sum()), 1)
        classes = np.where(positive <= 0, "C", np.where(share_above < 0.8, "A", np.where(share_above < 0.95, "B", "C")))
        rows += zip(order["account_id"], [year] * len(order), classes)
    ended = time.perf_counter()
    times = {"pareto": pareto_done - started, "abc": ended - pareto_done + (read - started), "total": ended - started}
    return times, _result(vital_few, total, rows)


def _result(vital_few: int, total_cents: int, rows) -> dict:
    classes = {(account, int(year)): cls for account, year, cls in rows}
    years: dict[int, dict[str, int]] = {}
    for (_, year), cls in classes.items():
        years.setdefault(year, {"A": 0, "B": 0, "C": 0})[cls] += 1
    return {"vital_few": int(vital_few), "total_cents": int(total_cents), "years": years, "classes": classes}


def compare(keyplan: dict, other: dict, name: str) -> list[str]:
    problems = []
    for key in ("vital_few", "total_cents"):
        if keyplan[key] != other[key]:
            problems.append(f"{key}: Keyplan {keyplan[key]}, {name} {other[key]}")
    for year, counts in keyplan["years"].items():
        if counts != other["years"].get(year):
            problems.append(f"classes in {year}: Keyplan {counts}, {name} {other['years'].get(year)}")
    differing = [k for k, v in keyplan["classes"].items() if other["classes"].get(k) != v]
    differing += [k for k in other["classes"] if k not in keyplan["classes"]]
    if differing:
        problems.append(f"{len(differing)} account-years classed differently by {name}, e.g. {differing[:3]}")
    return problems


def time_portfolio_page(*, repeat: int) -> tuple[float, float] | None:
    """Server time of /portfolio/ in ms through the test client: (first request, median of the next ``repeat``).

    Django's URL configuration (and with it every view module) is loaded before the first request
    is timed: a server process pays for that once, on whichever request comes first. None while the
    page does not exist.
    """
    from django.test import Client
    from django.urls import Resolver404, resolve

    from keyplan.core.models import User

    try:
        if resolve("/portfolio/").func.__name__ == "coming":
            return None  # still the "coming" placeholder
    except Resolver404:
        return None  # not built yet
    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username="bench-admin"))
    times = []
    for _ in range(1 + repeat):
        started = time.perf_counter()
        response = client.get("/portfolio/")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times[0], statistics.median(times[1:])


if __name__ == "__main__":
    sys.exit(main())
