"""Rolling back a large batch, and what other writers meet meanwhile.

    .venv/bin/python benchmarks/rollback.py --lines 1000000 --accounts 10000
    .venv/bin/python benchmarks/rollback.py --database-url postgres://postgres@127.0.0.1:5432/keyplan_bench_rollback

1. Generates the same ledger as benchmarks/ledger.py (deterministic CSV), creates a fresh database
   (an SQLite file under /tmp by default), the accounts and an admin, and imports the file.
2. Rolls the batch back with `keyplan.revenue.services.rollback_batch`, timed, while --writers threads
   each send PATCH /api/v1/accounts/{id} through Django's whole stack (as the API's clients would),
   one after the other until the rollback is done, and counts their answers by status: on SQLite the
   ones that waited longer than the busy timeout must be 503 with Retry-After, never a 500.
3. Checks that the ledger and the rollups are empty again.
"""

import argparse
import collections
import datetime
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ledger import _create_database, _drop_database, _external_id, generate_csv  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4, help="threads sending PATCH requests during the rollback")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="print where the rollback's time goes (cProfile)")
    args = parser.parse_args()
    url = args.database_url or "sqlite:////tmp/keyplan_bench_rollback.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    csv_path = Path(f"/tmp/keyplan_bench_rollback_{args.lines}_{args.accounts}_{args.seed}.csv")
    if not csv_path.exists():
        today = datetime.date.today()
        generate_csv(csv_path, lines=args.lines, accounts=args.accounts, first=datetime.date(today.year - 2, 1, 1),
                     last=today, seed=args.seed)
    _create_database(url)
    try:
        return run(args, csv_path)
    finally:
        _drop_database(url)


def run(args, csv_path: Path) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import Role, User
    from keyplan.core.services import create_token
    from keyplan.revenue.models import LedgerLine, MonthlyRollup, YearlyRollup
    from keyplan.revenue.services import import_ledger, rollback_batch

    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin", password=None, role=Role.ADMIN)
    Account.objects.bulk_create((Account(external_id=_external_id(i), name=f"Account {i + 1}", reporting_currency="EUR")
                                 for i in range(args.accounts)), batch_size=5000)
    token = create_token(admin)
    started = time.perf_counter()
    batch = import_ledger(csv_path, by=admin).batch
    print(f"imported {batch.rows_imported:,} lines in {time.perf_counter() - started:.1f} s ({connection.vendor})")
    refresh_statistics()
    ids = list(Account.objects.values_list("pk", flat=True)[:1000])

    answers: collections.Counter = collections.Counter()
    latencies: list[float] = []
    done = threading.Event()

    def writer(number: int) -> None:
        client = Client(headers={"Authorization": f"Bearer {token}"}, SERVER_NAME="localhost")
        i = number
        while not done.is_set():
            sent = time.perf_counter()
            response = client.patch(f"/api/v1/accounts/{ids[i % len(ids)]}", {"city": f"City {i}"},
                                    content_type="application/json")
            latencies.append(time.perf_counter() - sent)
            kind = response["Content-Type"].split(";")[0]
            answers[(response.status_code, kind, response.get("Retry-After"))] += 1
            i += args.writers
        connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the writers are under way
    started, cpu_started = time.perf_counter(), time.process_time()
    load = os.getloadavg()[0]
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(rollback_batch, batch, by=admin)
        seconds = time.perf_counter() - started
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    else:
        rollback_batch(batch, by=admin)
        seconds = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    empty = not (LedgerLine.objects.exists() or MonthlyRollup.objects.exists() or YearlyRollup.objects.exists())
    cpu = time.process_time() - cpu_started
    print(f"rollback of {batch.rows_imported:,} lines: {seconds:.2f} s (CPU time of this process {cpu:.2f} s, load average "
          f"{load:.1f} before on {os.cpu_count()} cores); ledger and rollups empty again: {empty}")
    if not latencies:
        return 0 if empty else 1
    latencies.sort()
    print(f"{sum(answers.values())} PATCH requests from {args.writers} threads meanwhile, longest {latencies[-1]:.2f} s:")
    for (status, kind, retry), count in sorted(answers.items()):
        print(f"  {count:>5} × {status} {kind}" + (f" Retry-After {retry}" if retry else ""))
    return 0 if empty and not any(status >= 500 and status != 503 for status, _, _ in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
