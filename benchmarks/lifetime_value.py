"""Lifetime value at scale: the first fit (cold cache) and the cached answer, with where the time goes.

    .venv/bin/python benchmarks/lifetime_value.py --lines 2000000 --accounts 50000
    .venv/bin/python benchmarks/lifetime_value.py --lines 2000000 --accounts 50000 \\
        --database-url postgres://postgres@127.0.0.1:5432/keyplan_bench_clv      # created and dropped by the script

Builds the same deterministic ledger as `benchmarks/ledger.py` (3 calendar years to today,
lognormal account sizes), imports it, then:

1. times the first `clv_report` with an empty cache, step by step: reading the lines from the
   database, the per-account summary (frequency, recency, age, spend), the two model fits and
   the per-account values, and the whole report (wall and CPU seconds of this process);
2. times the cached answer (median of --repeat) and the page `/portfolio/analysis/clv/`
   through Django's whole stack (server time, cache warm);
3. prints the fitted BG/NBD parameters, so that a run can be compared with the last.

Options: --keep-database / --reuse-database URL-given database as it is (skip the build),
--repeat R (default 5). The load average is printed: on a shared machine the wall time of a
step can be several times its CPU time.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ledger  # noqa: E402  (benchmarks/ledger.py: the generator and the database set-up)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--reuse-database", action="store_true", help="the database already holds the ledger")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:////tmp/keyplan-bench-clv-{args.lines}-{args.accounts}.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    ledger._setup_django()
    try:
        if not args.reuse_database:
            build(args, url)
        return measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep_database or args.reuse_database:
            print(f"kept the database: KEYPLAN_DATABASE_URL={url}")
        else:
            ledger._drop_database(url)


def build(args, url: str) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import Role, User
    from keyplan.revenue.services import import_ledger

    today = timezone.localdate()
    csv_path = Path(f"/tmp/keyplan-bench-clv-{args.lines}-{args.accounts}-{today.isoformat()}-{args.seed}.csv")
    if not csv_path.exists():
        ledger.generate_csv(csv_path, lines=args.lines, accounts=args.accounts,
                            first=datetime.date(today.year - 2, 1, 1), last=today, seed=args.seed)
    ledger._create_database(url)
    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin", password=None, role=Role.ADMIN)
    Account.objects.bulk_create(
        (Account(external_id=ledger._external_id(i), name=f"Account {i + 1}", reporting_currency="EUR")
         for i in range(args.accounts)), batch_size=5000)
    started = time.perf_counter()
    result = import_ledger(csv_path, by=admin)
    refresh_statistics()
    print(f"imported {result.rows_imported:,} lines in {time.perf_counter() - started:.1f} s")
    csv_path.unlink()


def clock(step, function):
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    step.append((time.perf_counter() - wall, time.process_time() - cpu))
    return value


def measure(args) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from keyplan.core.models import Role, User
    from keyplan.revenue import portfolio
    from keyplan.revenue import lifetime_value as report
    from keyplan.revenue.analysis import lifetime_value as model

    scope, options = portfolio.Scope(None), portfolio.Options()
    as_of = report.default_as_of()
    load = os.getloadavg()[0]
    print(f"\n{connection.vendor}, {args.lines:,} lines, {args.accounts:,} accounts, as of {as_of} "
          f"({os.cpu_count()} cores, load average {load:.1f}, {datetime.date.today()})")

    # The first fit, step by step (the same calls as the report makes).
    steps: dict[str, list] = {name: [] for name in ("read", "summary", "fit", "report")}
    lines = clock(steps["read"], lambda: report.purchase_lines(scope, as_of=as_of))
    summary = clock(steps["summary"], lambda: model.rfm_summary(lines.rename({"account_id": "external_id"}), as_of=as_of))
    clock(steps["fit"], lambda: model.clv_table(summary))
    cache.clear()
    result = clock(steps["report"], lambda: portfolio.run("clv", scope, options))
    print(f"{'first fit (cache empty)':<36}{'wall s':>8}{'CPU s':>8}")
    labels = {"read": f"  read {lines.height:,} lines", "summary": f"  summary of {summary.height:,} accounts",
              "fit": "  fit BG/NBD + Gamma-Gamma, values", "report": "whole report, cache empty"}
    for name, label in labels.items():
        wall, cpu = steps[name][0]
        print(f"{label:<36}{wall:>8.2f}{cpu:>8.2f}")

    times = []
    for _ in range(args.repeat):
        step: list = []
        clock(step, lambda: portfolio.run("clv", scope, options))
        times.append(step[0])
    warm = statistics.median(t[0] for t in times)
    print(f"{'cached report (median of ' + str(args.repeat) + ')':<36}{warm:>8.3f}{statistics.median(t[1] for t in times):>8.3f}")

    admin = User.objects.filter(role=Role.ADMIN).first()
    client = Client(SERVER_NAME="localhost")
    client.force_login(admin)
    pages = []
    for _ in range(args.repeat):
        step = []
        answer = clock(step, lambda: client.get("/portfolio/analysis/clv/"))
        pages.append(step[0])
        assert answer.status_code == 200
    print(f"{'page /portfolio/analysis/clv/, cached':<36}{statistics.median(p[0] for p in pages):>8.3f}"
          f"{statistics.median(p[1] for p in pages):>8.3f}")
    fitted = result["model"]["bgnbd"]
    print(f"BG/NBD r={fitted['r']:.4f} alpha={fitted['alpha']:.4f} a={fitted['a']:.6f} b={fitted['b']:.2f} "
          f"over {len(result['accounts']):,} accounts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
