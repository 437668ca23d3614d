"""Account list at scale: server time of the list page and its API on a portfolio of N accounts.

    .venv/bin/python benchmarks/account_list.py --accounts 100000 [--database-url URL] [--reuse]

Builds the demo portfolio with N accounts in the database given (a fresh SQLite file
under /tmp by default), then times each request through Django's full stack (test
client: middleware, ORM, templates; no network). It prints the median server time per
request and, as the reference engine, the time the same page's two SQL queries (count
and page) take on their own, so the ratio shows what the application adds.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database of the right size")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    url = args.database_url or f"sqlite:////tmp/keyplan-bench-{args.accounts}.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from keyplan.accounts.models import Account, TeamMember, TeamRole
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import User
    from keyplan.demo.generator import build_demo

    call_command("migrate", verbosity=0)
    if not (args.reuse and Account.objects.count() == args.accounts):
        call_command("flush", interactive=False, verbosity=0)
        started = time.perf_counter()
        build_demo(accounts=args.accounts, seed=42)
        print(f"demo portfolio of {args.accounts:,} accounts built in {time.perf_counter() - started:.1f} s")
    refresh_statistics()  # as `keyplan demo` and `keyplan migrate` do

    lead = User.objects.get(username="lead")
    kam = TeamMember.objects.filter(role=TeamRole.KAM).values_list("user_id", flat=True).first()
    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)
    last_page = (args.accounts + 49) // 50
    cases = [
        ("list, first page", "/accounts/", {}),
        ("list, last page", "/accounts/", {"page": last_page}),
        ("list, search 'nord'", "/accounts/", {"q": "nord"}),
        ("list, tier=key", "/accounts/", {"tier": "key"}),
        ("list, country+industry", "/accounts/", {"country": "DE", "industry": "chemicals"}),
        ("list, by KAM", "/accounts/", {"kam": kam}),
        ("list, sort country", "/accounts/", {"sort": "country"}),
        ("api, first 50", "/api/v1/accounts/", {}),
        ("api, offset 90,000", "/api/v1/accounts/", {"offset": min(90_000, args.accounts - 50)}),
    ]
    vendor = connection.vendor
    print(f"\n{vendor}, {args.accounts:,} accounts, median of {args.repeat} requests")
    print(f"{'request':<26}{'server ms':>10}{'SQL ms':>9}{'ratio':>7}{'queries':>9}")
    for label, path, params in cases:
        client.get(path, params)  # warm caches
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        sql_ms = _sql_time(connection, [q["sql"] for q in queries.captured_queries if "accounts_account" in q["sql"]])
        server = statistics.median(times)
        print(f"{label:<26}{server:>10.1f}{sql_ms:>9.1f}{server / sql_ms if sql_ms else 0:>7.1f}{len(queries):>9}")
    return 0


def _sql_time(connection, statements: list[str]) -> float:
    """The reference: the account queries of the request run bare on the same connection (median of 5)."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


if __name__ == "__main__":
    sys.exit(main())
