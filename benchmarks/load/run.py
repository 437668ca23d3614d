"""Load test: `keyplan serve` (waitress) on the demo portfolio, Locust's KAM users against it over loopback.

    .venv/bin/python benchmarks/load/run.py                                   # 50 users, 60 s, PostgreSQL (make load)
    .venv/bin/python benchmarks/load/run.py --users 10 --seconds 15 --database sqlite

Builds a fresh demo database (PostgreSQL: the database `keyplan_load` on --postgres-url's server, dropped and
created; SQLite: a file under a temporary directory), creates an API token, starts `keyplan serve --no-worker`
on a free port, runs benchmarks/load/locustfile.py headless, stops the server and checks the writes: every
interaction the server confirmed (201) is in the database once, and none is there that was not confirmed.

Prints requests/s, the failures and the 50th/95th percentiles per request, and exits 1 on any failed request,
any lost or duplicated write, or (with --p95-ms) a 95th percentile above the target.
"""

import argparse
import csv
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--accounts", type=int, default=300, help="size of the demo portfolio (default 300)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/keyplan_load")
    parser.add_argument("--threads", type=int, default=8, help="the server's threads per process (keyplan serve --threads)")
    parser.add_argument("--processes", type=int, default=None,
                        help="the server's processes (keyplan serve --processes; default: serve's own, one per core up to 4)")
    parser.add_argument("--arrivals", type=float, default=2.0,
                        help="users signing in per second until all are there (default 2; --seconds counts after that)")
    parser.add_argument("--p95-ms", type=float, default=None, help="fail when a request's 95th percentile is above this")
    args = parser.parse_args()
    if not 0 < args.arrivals <= 1000:
        parser.error(f"--arrivals must be above 0 and at most 1000 users a second, got {args.arrivals:g}")

    with tempfile.TemporaryDirectory(prefix="keyplan-load-") as directory:
        work = Path(directory)
        url = _fresh_database(args, work)
        env = {**os.environ, "KEYPLAN_DATABASE_URL": url, "KEYPLAN_PRODUCTION": "", "KEYPLAN_DEBUG": ""}
        started = time.perf_counter()
        subprocess.run([BIN / "keyplan", "demo", "--accounts", str(args.accounts), "--no-serve"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"demo portfolio of {args.accounts} accounts on {args.database} in {time.perf_counter() - started:.0f} s")
        token = subprocess.run([BIN / "keyplan", "token", "create", "lead", "--name", "load test"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()[-1]
        accounts = _key_account_ids(env)
        port = _free_port()
        server = subprocess.Popen([BIN / "keyplan", "serve", "--no-worker", "--no-migrate", "--host", "127.0.0.1",
                                   "--port", str(port), "--threads", str(args.threads),
                                   *(["--processes", str(args.processes)] if args.processes else [])], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            writes = work / "writes.txt"
            writes.touch()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server, still running, is not counted in it
            locust = subprocess.run(
                [BIN / "locust", "-f", HERE / "locustfile.py", "--headless", "-u", str(args.users), "-r", str(args.arrivals),
                 "-t", f"{args.seconds + math.ceil(args.users / args.arrivals)}s", "--host", f"http://127.0.0.1:{port}", "--csv", work / "load", "--only-summary",
                 "--stop-timeout", "10", "--loglevel", "WARNING"],
                env={**env, "KEYPLAN_LOAD_TOKEN": token, "KEYPLAN_LOAD_ACCOUNTS": ",".join(map(str, accounts)),
                     "KEYPLAN_LOAD_WRITES": str(writes)},
                capture_output=True, text=True,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            locust_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        finally:
            server.terminate()
            server.wait(timeout=30)
        rows = list(csv.DictReader(open(work / "load_stats.csv")))
        confirmed = writes.read_text().split()
        stored = _stored_summaries(env)
        server_errors = [line for line in (work / "server.log").read_text().splitlines() if "Traceback" in line]

    print(f"{args.users} users for {args.seconds} s against keyplan serve ({args.processes or 'default'} processes × "
          f"{args.threads} threads) on {args.database}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'request':52} {'count':>7} {'fail':>5} {'p50 ms':>7} {'p95 ms':>7} {'req/s':>7}")
    for row in rows:
        print(f"{row['Name'][:52]:52} {int(row['Request Count']):7,} {int(row['Failure Count']):5,} "
              f"{float(row['50%']):7.0f} {float(row['95%']):7.0f} {float(row['Requests/s']):7.1f}")
    total = next(row for row in rows if row["Name"] == "Aggregated")
    lost = set(confirmed) - set(stored)
    unconfirmed = set(stored) - set(confirmed)
    duplicated = len(stored) - len(set(stored))
    # Locust shares the cores with the server: what it used of them is time the server did not have.
    print(f"Locust's own CPU: {locust_cpu:.1f} s, {1000 * locust_cpu / max(int(total['Request Count']), 1):.1f} ms a request")
    print(f"writes: {len(confirmed)} confirmed, {len(stored)} in the database; lost {len(lost)}, duplicated {duplicated}, "
          f"stored without confirmation {len(unconfirmed)}")
    problems = []
    if int(total["Failure Count"]):
        problems.append(f"{total['Failure Count']} failed requests:\n{locust.stdout[-3000:]}{locust.stderr[-2000:]}")
    if lost or duplicated or unconfirmed:
        problems.append("the writes do not match the database")
    if server_errors:
        problems.append(f"{len(server_errors)} tracebacks in the server's log")
    # Signing in is slow on purpose (the password hash costs about 0.3 s of CPU) and happens once per user at
    # the start: it is shown but not held to the target.
    slow = [row["Name"] for row in rows
            if args.p95_ms and row["Name"] not in {"sign-in", "Aggregated"} and float(row["95%"]) > args.p95_ms]
    if slow:
        problems.append(f"95th percentile above {args.p95_ms:.0f} ms: {', '.join(slow)}")
    if not int(total["Request Count"]):
        problems.append(f"no request was made:\n{locust.stdout[-2000:]}{locust.stderr[-2000:]}")
    for problem in problems:
        print("FAILED:", problem)
    return 1 if problems else 0


def _fresh_database(args, work: Path) -> str:
    if args.database == "sqlite":
        return f"sqlite:///{work / 'load.sqlite3'}"
    import psycopg

    base, name = args.postgres_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return args.postgres_url


def _django(env: dict, code: str) -> str:
    return subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                           "'keyplan.settings'); django.setup()\n" + code], env=env, check=True, capture_output=True,
                          text=True).stdout


def _key_account_ids(env: dict) -> list[int]:
    out = _django(env, "from keyplan.accounts.models import Account\n"
                       "print(*Account.objects.filter(archived_at=None).order_by('pk').values_list('pk', flat=True)[:200])")
    return [int(pk) for pk in out.split()]


def _stored_summaries(env: dict) -> list[str]:
    out = _django(env, "from keyplan.relationships.models import Interaction\n"
                       "print(*Interaction.objects.filter(summary__startswith='load-').values_list('summary', flat=True))")
    return out.split()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
