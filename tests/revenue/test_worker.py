"""The background worker as people run it: `keyplan serve` starts one and stops it; `keyplan worker --batch`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keyplan.cli import main
from keyplan.revenue import uploads
from keyplan.revenue.models import BatchStatus, ImportBatch, LedgerLine

KEYPLAN = Path(sys.executable).with_name("keyplan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int, *, web: bool = False) -> list[int]:
    """The child processes of ``pid``, started by any of its threads: its background workers, or (``web``) the
    web server processes it forked (they keep its command line)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return [child for child in found if _is_worker(child) != web]


def stop_serving(server: subprocess.Popen) -> str:
    """Stop a `keyplan serve` started with stdout and stderr piped, as a service manager does (SIGTERM); its log."""
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    log = server.stderr.read()
    server.stdout.close()
    server.stderr.close()
    return log


def _is_worker(pid: int) -> bool:
    try:
        return b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")  # `python -m keyplan.cli worker`
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def _request(url: str, token: str, data: bytes | None = None, content_type: str | None = None) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {token}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def _multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_serve_runs_a_worker_that_imports_and_stops_with_it(tmp_path):
    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "KEYPLAN_UPLOAD_DIR": str(tmp_path / "uploads")}
    run = lambda *args: subprocess.run([str(KEYPLAN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # noqa: E731
    assert run("migrate").returncode == 0
    assert run("createuser", "lead", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9").returncode == 0
    token = json.loads(run("token", "create", "lead", "--json").stdout)["token"]
    port = _free_port()
    server = subprocess.Popen([str(KEYPLAN), "serve", "--port", str(port), "--no-migrate"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        assert "serving on" in server.stdout.readline()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the line comes just before waitress listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        workers = _children(server.pid)
        assert len(workers) == 1  # the worker, started next to the web server
        account = json.dumps({"name": "Acme", "external_id": "C-1"}).encode()
        _request(f"{base}/accounts/", token, account, "application/json")
        body, content_type = _multipart({"kind": "ledger"}, "ledger.csv", "Kunde;Datum;Betrag\nC-1;31.01.2026;1.234,50\n".encode())
        batch = _request(f"{base}/imports/", token, body, content_type)
        assert batch["status"] == "validating"
        deadline = time.monotonic() + 60
        while batch["status"] in ("validating", "importing") and time.monotonic() < deadline:
            time.sleep(0.3)
            batch = _request(f"{base}/imports/{batch['id']}", token)
        assert (batch["status"], batch["rows_imported"]) == ("done", 1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "the worker outlived keyplan serve"


def test_keyplan_worker_batch_runs_what_is_queued_then_stops(lead, make_account, transactional_db):
    make_account("Acme", external_id="C-1")
    upload = uploads.save_upload(SimpleUploadedFile("l.csv", b"account_id,date,amount\nC-1,2026-01-02,5\n"), kind="ledger", by=lead)
    batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        assert main(["worker", "--batch", "--quiet"]) == 0
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and LedgerLine.objects.count() == 1
    assert ImportBatch.objects.count() == 1


def test_an_import_that_breaks_off_is_marked_failed(lead, make_account, run_worker, monkeypatch):
    """A crash inside the import (here: the database refuses the batch's lines) leaves a failed batch and nothing else."""
    make_account("Acme", external_id="C-1")
    upload = uploads.save_upload(SimpleUploadedFile("l.csv", b"account_id,date,amount\nC-1,2026-01-02,5\n"), kind="ledger", by=lead)
    batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
    from keyplan.revenue.importing import write as line_writing

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(line_writing, "_insert_lines", broken)
    run_worker()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and LedgerLine.objects.count() == 0
    assert not any(Path(uploads.upload_dir()).rglob("l.csv"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_serve_starts_its_worker_again_when_it_dies(tmp_path):
    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "KEYPLAN_UPLOAD_DIR": str(tmp_path / "uploads")}
    assert subprocess.run([str(KEYPLAN), "migrate"], env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    port = _free_port()
    server = subprocess.Popen([str(KEYPLAN), "serve", "--port", str(port), "--no-migrate"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving on" in server.stdout.readline()
        deadline = time.monotonic() + 30
        while not _children(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        [first] = _children(server.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [p for p in _children(server.pid) if p != first and _alive(p)] == []:
            time.sleep(0.1)
        [second] = [p for p in _children(server.pid) if _alive(p)]
        assert second != first
    finally:
        log = stop_serving(server)
    assert f"The background worker (process {first}) exited with code -9; starting a new one" in log
    assert f"The background worker runs again (process {second})" in log
    assert not _alive(second)


def test_a_worker_waits_out_a_busy_database_instead_of_dying(lead, make_account, transactional_db, capsys):
    """Another connection holds SQLite's write lock (as a long rollback would) beyond the busy timeout: the worker
    (`keyplan worker`) says so, waits and goes on, and the import runs once the lock is gone."""
    import sqlite3
    import threading

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite gives up on a busy database")
    make_account("Acme", external_id="C-1")
    upload = uploads.save_upload(SimpleUploadedFile("l.csv", b"account_id,date,amount\nC-1,2026-01-02,5\nC-1,2026-02-02,7\n"),
                                 kind="ledger", by=lead)
    batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
    name = str(connection.settings_dict["NAME"])
    other = sqlite3.connect(name, uri=name.startswith("file:"), timeout=0.1, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM revenue_ledgerline")  # holds the ledger's table (and the database's write lock)
    release = threading.Timer(0.5, lambda: (other.rollback(), other.close()))
    release.start()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        assert main(["worker", "--batch", "--quiet"]) == 0
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    release.join()
    batch.refresh_from_db()
    assert (batch.status, batch.rows_imported) == (BatchStatus.DONE, 2) and LedgerLine.objects.count() == 2
    assert "The database is busy (database table is locked); the worker tries again in 1 s." in capsys.readouterr().err


def test_the_next_worker_discards_an_import_whose_worker_is_gone(lead, make_account, transactional_db, capsys):
    """A batch held by a worker that stopped beating long ago (on another machine, say) is broken off; one held by
    a living worker is left alone."""
    import datetime

    from django.utils import timezone

    from keyplan.core.models import WorkerProcess
    from keyplan.revenue.tasks import recover_broken_imports

    account = make_account("Acme", external_id="C-1")
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    dead = WorkerProcess.objects.create(id="dead", host="elsewhere", pid=1, started_at=long_ago, seen_at=long_ago)
    alive = WorkerProcess.objects.create(id="alive", host="elsewhere", pid=1, started_at=long_ago, seen_at=timezone.now())
    batches = {}
    for worker in (dead, alive):
        batches[worker.pk] = ImportBatch.objects.create(kind="ledger", file_name=f"{worker.pk}.csv", file_sha256="0" * 64,
                                                        created_by=lead, status=BatchStatus.IMPORTING, progress=70, worker=worker)
        LedgerLine.objects.create(batch=batches[worker.pk], account=account, date=datetime.date(2026, 1, 1), amount=5,
                                  currency="EUR", amount_reporting=5, dedupe_key=len(batches))
    assert [b.pk for b in recover_broken_imports()] == [batches["dead"].pk]
    broken, running = (ImportBatch.objects.get(pk=batches[k].pk) for k in ("dead", "alive"))
    assert broken.status == BatchStatus.BROKEN_OFF and running.status == BatchStatus.IMPORTING
    assert list(LedgerLine.objects.values_list("batch_id", flat=True)) == [running.pk]
    assert broken.rolled_back_by is None and broken.rolled_back_at is not None
    assert broken.report["broken_off"] | {"at": None} == {"stage": "importing", "progress": 70, "lines_removed": 1,
                                                          "worker": broken.report["broken_off"]["worker"], "pid": 1,
                                                          "host": "elsewhere", "by": "system", "at": None}
    assert "process 1 on elsewhere" in broken.report["broken_off"]["worker"]

    from tests.conftest import client_for
    from django.urls import reverse

    client = client_for(lead)
    page = client.get(reverse("revenue:import_batch", args=[broken.pk])).content.decode()
    assert "The import broke off at 70 %." in page and "process 1 on elsewhere" in page
    assert "The 1 line it had written was removed" in page and "The file can be imported again" in page
    assert 'id="no-worker"' not in client.get(reverse("revenue:imports")).content.decode()  # one beat a moment ago
    WorkerProcess.objects.filter(pk="alive").update(seen_at=timezone.now() - datetime.timedelta(minutes=2))
    assert "No background worker has been seen for 2\xa0minutes." in client.get(reverse("revenue:imports")).content.decode()
    WorkerProcess.objects.all().delete()
    assert "No background worker is running." in client.get(reverse("revenue:imports")).content.decode()
