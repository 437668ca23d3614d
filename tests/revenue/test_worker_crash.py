"""A real worker process killed (SIGKILL) in the middle of an import, on the database the suite runs on.

The worker and the commands run as separate processes on a database of their own (an SQLite file, or a
PostgreSQL database created for the test), as in production. The test watches the batch's progress in
the database, stops the worker where it wants it (SIGSTOP), checks that the batch is really half-done
(lines committed, the import not), kills it (SIGKILL), and starts a new worker: the batch must be
found, marked broken off by the system, its lines gone, the rollups equal to the ledger, and the same
file must import in full when uploaded again.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from django.db import connection

KEYPLAN = Path(sys.executable).with_name("keyplan")
LINES = 150_000  # progress: 0 → 45 (every row checked) → 95 (every line written) → rollups, ABC, done
ACCOUNTS = 5_000

QUEUE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
import django
django.setup()
from django.core.files import File
from keyplan.core.models import User
from keyplan.revenue import uploads
lead = User.objects.get(username="lead")
with open(sys.argv[1], "rb") as handle:
    upload = uploads.save_upload(File(handle, name=os.path.basename(sys.argv[1])), kind="ledger", by=lead)
batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}, create_accounts=True))
print(batch.pk)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="stops and kills processes by signal")


class Database:
    """The test's own database, reached by the commands through KEYPLAN_DATABASE_URL and by the test through SQL.

    On PostgreSQL a database of its own on the suite's server, made through a connection of its own: the test needs
    neither the suite's test database nor Django's connection (which pytest-django creates only for a session
    with tests that ask for it, and which would stay open after a fixture opened it)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        if connection.vendor == "postgresql":
            settings = connection.settings_dict
            self.name = f"{settings['NAME']}_crash_{uuid.uuid4().hex[:8]}"
            self.server = f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = f"{self.server}/{self.name}"
        else:
            self.url = f"sqlite:///{tmp / 'crash.sqlite3'}"
        self.env = {**os.environ, "KEYPLAN_DATABASE_URL": self.url, "KEYPLAN_UPLOAD_DIR": str(tmp / "uploads"),
                    "DJANGO_SETTINGS_MODULE": "keyplan.settings"}

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as admin:
            admin.execute(sql)

    def connect(self):
        if connection.vendor == "postgresql":
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        return sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as db:
            return db.execute(sql.replace("?", "%s") if connection.vendor == "postgresql" else sql, params).fetchall()

    def drop(self) -> None:
        if connection.vendor == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def run(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(KEYPLAN), *args], env=self.env, cwd=self.tmp, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done

    def queue(self, path: Path) -> int:
        done = subprocess.run([sys.executable, "-c", QUEUE, str(path)], env=self.env, cwd=self.tmp, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip())

    def batch(self, pk: int) -> tuple:
        return self.query("SELECT status, progress, rows_imported FROM revenue_importbatch WHERE id = ?", (pk,))[0]

    def lines(self, pk: int | None = None) -> int:
        if pk is None:
            return self.query("SELECT COUNT(*) FROM revenue_ledgerline")[0][0]
        return self.query("SELECT COUNT(*) FROM revenue_ledgerline WHERE batch_id = ?", (pk,))[0][0]

    def rollups_match_the_ledger(self) -> bool:
        """The monthly rollups hold exactly the ledger's lines: per account, their count and their revenue."""
        rollups = self.query("SELECT account_id, SUM(lines), ROUND(CAST(SUM(revenue) AS NUMERIC), 2) FROM revenue_monthlyrollup "
                             "GROUP BY account_id ORDER BY account_id")
        ledger = self.query("SELECT account_id, COUNT(*), ROUND(CAST(SUM(amount_reporting) AS NUMERIC), 2) FROM revenue_ledgerline "
                            "GROUP BY account_id ORDER BY account_id")
        return [(a, int(n), float(r)) for a, n, r in rollups] == [(a, int(n), float(r)) for a, n, r in ledger]


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    db = Database(tmp)
    try:
        db.run("migrate")
        db.run("createuser", "lead", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9")
        base = tmp / "base.csv"
        base.write_text("line_id,account_id,account_name,date,amount\n"
                        + "".join(f"B{i},A-{i:05d},Account {i},2025-0{i % 9 + 1}-15,{100 + i}.25\n" for i in range(ACCOUNTS)))
        db.run("import", "ledger", str(base), "--create-accounts", "--as", "lead")
        yield db
    finally:
        db.drop()


def ledger_file(tmp: Path, name: str, seed: int) -> Path:
    n = pl.col("n")
    frame = pl.DataFrame({"n": pl.int_range(0, LINES, eager=True)}).select(
        ("S" + str(seed) + "-" + n.cast(pl.String)).alias("line_id"),
        # Every 1,000th line is for one of 150 accounts new to Keyplan, which the import creates.
        pl.when(n % 1000 == 0).then("N-" + str(seed) + "-" + (n // 1000).cast(pl.String))
        .otherwise("A-" + (n * 7919 % ACCOUNTS).cast(pl.String).str.zfill(5)).alias("account_id"),
        pl.lit(pl.date_range(pl.date(2023, 1, 1), pl.date(2025, 12, 31), eager=True)
               .sample(LINES, with_replacement=True, seed=seed)).alias("date"),
        ((n % 9973 + seed).cast(pl.Float64) / 4).alias("amount"),
    )
    path = tmp / name
    frame.write_csv(path)
    return path


def start_worker(db: Database) -> subprocess.Popen:
    return subprocess.Popen([str(KEYPLAN), "worker", "--interval", "0.1"], env=db.env, cwd=db.tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop_at(db: Database, worker: subprocess.Popen, batch: int, progress: int) -> tuple:
    """Freeze the worker as soon as the batch reaches ``progress`` %, and say where it was."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, percent, _ = db.batch(batch)
        if status in ("importing", "done") and percent >= progress:
            worker.send_signal(signal.SIGSTOP)
            return db.batch(batch)
        assert worker.poll() is None, worker.stderr.read()
        time.sleep(0.005)
    pytest.fail(f"batch {batch} never reached {progress} %")


@pytest.mark.parametrize("progress", [45, 95])
def test_a_worker_killed_mid_import_leaves_no_wrong_numbers(database, progress):
    db = database
    before = db.lines()
    path = ledger_file(db.tmp, f"ledger-{progress}.csv", seed=progress)
    batch = db.queue(path)
    blocker = None
    if connection.vendor == "postgresql" and progress == 95:
        # On PostgreSQL the lines go in through a second connection while the first writes the rollups, then
        # commits within milliseconds of the last line: hold the ABC table so that the first waits there.
        blocker = db.connect()
        blocker.autocommit = False
        blocker.execute("LOCK TABLE revenue_abcclass IN ACCESS EXCLUSIVE MODE")
    worker = start_worker(db)
    try:
        status, percent, _ = stop_at(db, worker, batch, progress)
        assert status == "importing", f"the import finished before the worker could be stopped at {progress} %"
        written = db.lines(batch)
        if progress == 95:
            assert written == LINES  # every line committed, the rollups not: what a kill used to leave behind
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if blocker is not None:
            blocker.rollback()
            blocker.close()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert db.batch(batch)[0] == "importing"  # stuck, as it was before any worker came back

    # The next worker to start finds the batch (its worker's process is gone) and discards it.
    started = db.run("worker", "--batch")
    assert f"import batch {batch}" in started.stderr and "broke off" in started.stderr
    status, _, imported = db.batch(batch)
    assert (status, imported) == ("broken_off", 0)
    assert db.lines(batch) == 0 and db.lines() == before
    assert db.rollups_match_the_ledger()
    report, by, at = db.query("SELECT report, rolled_back_by_id, rolled_back_at FROM revenue_importbatch WHERE id = ?", (batch,))[0]
    report = json.loads(report) if isinstance(report, str) else report  # SQLite gives the text, psycopg the object
    assert by is None and at is not None
    assert (report["broken_off"]["by"], report["broken_off"]["lines_removed"]) == ("system", written)
    assert db.query("SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'")[0][0] == 0
    # The accounts it created hold nothing else: archived, as the account list was before the import.
    new_accounts = ("SELECT COUNT(*) FROM accounts_account WHERE external_id LIKE ? AND archived_at IS NULL", (f"N-{progress}-%",))
    assert db.query(*new_accounts)[0][0] == 0
    assert not any(p.name == path.name for p in (db.tmp / "uploads").rglob("*.csv"))  # the file it left is removed

    # The same file again: every line is new to the ledger and counts.
    again = db.queue(path)
    db.run("worker", "--batch")
    assert db.batch(again) == ("done", 100, LINES)
    assert db.lines() == before + LINES and db.rollups_match_the_ledger()
    assert db.query(*new_accounts)[0][0] == LINES // 1000  # back, with the lines that bring their revenue
