"""A worker killed (SIGKILL) in the middle of a CRM accounts import, on the database the suite runs on, as the
ledger's crash test does it (tests/revenue/test_worker_crash.py): the import writes in one transaction, so
nothing of it is visible after the kill; the next worker to start marks the batch broken off; the same file
then imports in full."""

import signal
import sys
import time

import pytest

from tests.revenue.test_worker_crash import Database, start_worker

ROWS = 250_000  # checked a column at a time, 40,000 rows took less than the 1.5 s before the kill
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
    upload = uploads.save_upload(File(handle, name=os.path.basename(sys.argv[1])), kind="accounts", by=lead)
batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
print(batch.pk)
"""
COUNTS = {"accounts": "SELECT COUNT(*) FROM accounts_account",
          "account history": "SELECT COUNT(*) FROM accounts_historicalaccount",
          "key status changes": "SELECT COUNT(*) FROM accounts_tierchange",
          "sources": "SELECT COUNT(*) FROM crm_accountsource"}

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="stops and kills processes by signal")


@pytest.fixture
def database(tmp_path):
    db = Database(tmp_path)
    try:
        db.run("migrate")
        db.run("createuser", "lead", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9")
        yield db
    finally:
        db.drop()


def queue(db: Database, path) -> int:
    import subprocess

    done = subprocess.run([sys.executable, "-c", QUEUE, str(path)], env=db.env, cwd=db.tmp, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def counts(db: Database) -> dict:
    return {name: db.query(sql)[0][0] for name, sql in COUNTS.items()}


def test_a_worker_killed_mid_crm_import_leaves_nothing_and_the_file_imports_again(database):
    db = database
    path = db.tmp / "accounts.csv"
    path.write_text("Account ID,Account Name,Billing Country,Industry\n"
                    + "".join(f"001K{i:08d},Account {i},Germany,Banking\n" for i in range(ROWS)))
    before = counts(db)
    batch = queue(db, path)
    worker = start_worker(db)
    try:
        deadline = time.monotonic() + 120
        while not db.query("SELECT worker_id FROM revenue_importbatch WHERE id = ?", (batch,))[0][0]:
            assert time.monotonic() < deadline and worker.poll() is None, "no worker took the import up"
            time.sleep(0.01)
        time.sleep(1.5)  # reading, checking and writing 250,000 accounts takes several seconds on any machine of this kind
        worker.send_signal(signal.SIGSTOP)
        status = db.query("SELECT status FROM revenue_importbatch WHERE id = ?", (batch,))[0][0]
        assert status in ("validating", "importing"), "the import finished before the worker could be killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert counts(db) == before  # nothing of the import is visible: it writes in one transaction

    started = db.run("worker", "--batch")
    assert f"import batch {batch}" in started.stderr and "broke off" in started.stderr
    status, _, imported = db.batch(batch)
    assert (status, imported) == ("broken_off", 0) and counts(db) == before

    again = queue(db, path)
    db.run("worker", "--batch")
    assert db.batch(again)[0] == "done"
    after = counts(db)
    assert (after["accounts"], after["account history"], after["sources"]) == (ROWS, ROWS, ROWS)
