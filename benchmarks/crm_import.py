"""CRM imports at scale: an accounts export and a contacts export, first into an empty installation, then again.

    .venv/bin/python benchmarks/crm_import.py --accounts 100000 --stakeholders 500000
    .venv/bin/python benchmarks/crm_import.py --accounts 100000 --stakeholders 500000 \\
        --database-url postgres://postgres@127.0.0.1:5432/keyplan_bench_crm

1. Generates two deterministic CSVs in the shape of a Salesforce report export: accounts (Account ID,
   Account Name, Parent Account ID for one in ten, Industry, Employees, Billing City, Billing Country, Type,
   Account Owner for one in five) and contacts (Contact ID, Account ID, names, title, department, e-mail,
   phone, Reports To ID for all but each account's first contact).
2. Creates a fresh database (an SQLite file under /tmp by default; for PostgreSQL the database in the URL is
   dropped and created), migrates it and creates an admin and five KAMs.
3. Times, each as the admin through `keyplan.crm.importing`: the accounts import, the contacts import, and
   both files again (nothing changes: every row is compared and counted unchanged). Prints the wall time, this
   process's CPU time (all threads) and, on PostgreSQL running on this machine, the server process's CPU time
   (its writes, indexes and constraint checks; 0 when its /proc entry cannot be read). History is kept: every
   created account and stakeholder has its history row, as the import always writes it.

The database is dropped (PostgreSQL) or deleted (SQLite) at the end.
"""

import argparse
import cProfile
import csv
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ledger import _create_database, _drop_database  # noqa: E402

INDUSTRIES = ["Manufacturing", "Banking", "Technology", "Retail", "Transportation", "Food & Beverage", "Healthcare"]
COUNTRIES = ["Germany", "Netherlands", "Italy", "France", "United States"]
TITLES = ["CEO", "CFO", "Head of Procurement", "Buyer", "Engineer", "Plant manager"]


def generate(folder: Path, accounts: int, stakeholders: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    accounts_csv, contacts_csv = folder / f"sf_accounts_{accounts}.csv", folder / f"sf_contacts_{stakeholders}.csv"
    with open(accounts_csv, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Account ID", "Account Name", "Parent Account ID", "Industry", "Employees", "Billing City",
                      "Billing Country", "Type", "Account Owner"])
        for i in range(accounts):
            parent = f"001A{rng.randrange(i):08d}" if i and i % 10 == 0 else ""
            out.writerow([f"001A{i:08d}", f"Account {i}", parent, rng.choice(INDUSTRIES), rng.randrange(10, 50_000),
                          f"City {i % 500}", rng.choice(COUNTRIES), "Customer" if i % 3 else "Prospect",
                          f"kam{i % 5}@example.com" if i % 5 == 0 else ""])
    with open(contacts_csv, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Contact ID", "Account ID", "First Name", "Last Name", "Title", "Department", "Email", "Phone",
                      "Reports To ID"])
        per = max(1, stakeholders // accounts)
        for j in range(stakeholders):
            account, k = j // per % accounts, j % per
            first = j - k
            out.writerow([f"003C{j:08d}", f"001A{account:08d}", f"First{j}", f"Last{j}", rng.choice(TITLES), "Operations",
                          f"person{j}@customer{account}.example", f"+49 30 {j:07d}", f"003C{first:08d}" if k else ""])
    return accounts_csv, contacts_csv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--stakeholders", type=int, default=500_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest functions of each import (cProfile)")
    args = parser.parse_args()
    url = args.database_url or "sqlite:////tmp/keyplan_bench_crm.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    accounts_csv, contacts_csv = generate(Path("/tmp"), args.accounts, args.stakeholders, args.seed)
    _create_database(url)
    try:
        return run(accounts_csv, contacts_csv, profile=args.profile)
    finally:
        _drop_database(url)


def run(accounts_csv: Path, contacts_csv: Path, *, profile: bool = False) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from keyplan.accounts.models import Account
    from keyplan.core.models import Role, User
    from keyplan.crm.importing import import_accounts, import_stakeholders
    from keyplan.relationships.models import Stakeholder

    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin", password=None, role=Role.ADMIN)
    for i in range(5):
        User.objects.create_user(f"kam{i}", email=f"kam{i}@example.com", password=None, role=Role.TEAM_MEMBER)
    server = _server_cpu(connection)
    for label, function, path in (("accounts", import_accounts, accounts_csv), ("contacts", import_stakeholders, contacts_csv),
                                  ("accounts again", import_accounts, accounts_csv),
                                  ("contacts again", import_stakeholders, contacts_csv)):
        profiler = cProfile.Profile() if profile else None
        load = os.getloadavg()[0]
        started, cpu, server_cpu = time.perf_counter(), time.process_time(), server()
        if profiler:
            profiler.enable()
        result = function(path, by=admin)
        if profiler:
            profiler.disable()
        seconds, cpu, server_cpu = time.perf_counter() - started, time.process_time() - cpu, server() - server_cpu
        assert result.error_count == 0, result.errors[:5]
        print(f"{connection.vendor:<10} {label:<15} {result.rows_total:>9,} rows {seconds:8.1f} s (CPU {cpu:5.1f} s, "
              + (f"server CPU {server_cpu:5.1f} s, " if connection.vendor == "postgresql" else "") + f"load {load:4.1f}) "
              f"{result.rows_total / seconds:>9,.0f} rows/s  created {result.created:,} updated {result.updated:,} "
              f"unchanged {result.unchanged:,} ({result.preset})", flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"history rows: {Account.history.count():,} accounts, {Stakeholder.history.count():,} stakeholders")
    return 0


def _server_cpu(connection):
    """A function giving the CPU time so far of this connection's PostgreSQL server process, where the server runs
    on this machine and its /proc is readable (else 0): with others at work on the machine, the server's CPU time
    is a steadier measure of its share than the wall time."""
    if connection.vendor != "postgresql":
        return lambda: 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def used() -> float:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return used


if __name__ == "__main__":
    sys.exit(main())
