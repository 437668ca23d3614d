"""The portfolio workbook as a background job: the button starts it, the page follows its progress and offers the
file; the API starts, polls and downloads; a worker killed mid-job leaves a job that says so and runs again."""

import json
import signal
import subprocess
import sys
import time

import pytest
from django.urls import reverse

from keyplan.core.models import WorkerProcess
from keyplan.reports import services
from keyplan.reports.models import JobStatus, WorkbookJob
from keyplan.reports.workbook import CONTENT_TYPE
from tests.conftest import client_for
from tests.reports.test_workbook import THIS_YEAR, TODAY, _column, _open, ledger  # noqa: F401  (a fixture)


def _start(client, query: str = ""):
    return client.post(reverse("reports:workbook_start") + (f"?{query}" if query else ""))


def test_the_button_starts_a_job_the_page_follows_it_and_offers_the_file(lead, kam, ledger, run_worker):  # noqa: F811
    client = client_for(lead)
    page = client.get(reverse("revenue:portfolio"), {"industry": "retail"}).content.decode()
    action = page.split('action="' + reverse("reports:workbook_start"))[1].split('"')[0].replace("&amp;", "&")
    assert "industry=retail" in action
    started = client.post(reverse("reports:workbook_start") + action)
    job = WorkbookJob.objects.get()
    assert started.status_code == 302 and started["Location"] == reverse("reports:workbook_job", args=[job.pk])
    waiting = client.get(started["Location"]).content.decode()
    assert 'id="workbook-progress"' in waiting and "every 1s" in waiting  # it polls itself while queued
    assert client.get(reverse("reports:workbook_job_file", args=[job.pk])).status_code == 404  # not ready

    run_worker()
    job.refresh_from_db()
    assert (job.status, job.progress, job.options["industry"]) == (JobStatus.DONE, 100, "retail")
    fragment = client.get(reverse("reports:workbook_job", args=[job.pk]), headers={"HX-Request": "true"}).content.decode()
    assert 'id="workbook-download"' in fragment and "every 1s" not in fragment
    download = client.get(reverse("reports:workbook_job_file", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == CONTENT_TYPE
    assert download["Content-Disposition"].startswith('attachment; filename="keyplan-portfolio-')
    assert _column(_open(download.content)["Pareto"], "External id") == ["F-C", "F-D", "F-E"]

    # The job is its user's: the file holds what they may see.
    other = client_for(kam)
    assert other.get(reverse("reports:workbook_job", args=[job.pk])).status_code == 404
    assert other.get(reverse("reports:workbook_job_file", args=[job.pk])).status_code == 404


def test_a_team_members_workbook_holds_only_their_accounts(kam, ledger, run_worker):  # noqa: F811
    client = client_for(kam)
    client.post(reverse("reports:workbook_start"))
    run_worker()
    job = WorkbookJob.objects.get()
    book = _open(client.get(reverse("reports:workbook_job_file", args=[job.pk])).content)
    assert _column(book["Pareto"], "External id") == ["F-C"]


def test_bad_filters_queue_nothing(lead, ledger):  # noqa: F811
    response = _start(client_for(lead), "date_from=2026-05-01&date_to=2026-01-01")
    assert response.status_code == 400 and "To: The period must end after it starts." in response.content.decode()
    assert not WorkbookJob.objects.exists()


def test_the_job_speaks_the_language_it_was_started_in(lead, ledger, run_worker):  # noqa: F811
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    client.post(reverse("reports:workbook_start"), HTTP_ACCEPT_LANGUAGE="de")
    run_worker()
    job = WorkbookJob.objects.get()
    assert job.options["language"] == "de"
    page = client.get(reverse("reports:workbook_job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Arbeitsmappe herunterladen" in page and "5 Accounts, <bdi>" in page
    book = _open(client.get(reverse("reports:workbook_job_file", args=[job.pk])).content)
    assert book.sheetnames[0] != "Summary"  # written in German by the worker, whatever language the worker has


class TestApi:
    def test_start_poll_download(self, lead, kam, ledger, api_client, run_worker):  # noqa: F811
        client = api_client(lead)
        started = client.post("/api/v1/exports/workbook/jobs", json.dumps({"industry": "retail"}),
                              content_type="application/json")
        assert started.status_code == 202, started.content
        job = started.json()
        assert (job["status"], job["progress"], job["download"]) == ("queued", 0, None)
        url = f"/api/v1/exports/workbook/jobs/{job['id']}"
        assert client.get(url + "/file").status_code == 409
        run_worker()
        polled = client.get(url).json()
        assert (polled["status"], polled["progress"], polled["summary"]["accounts"]) == ("done", 100, 3)
        download = client.get(polled["download"])
        assert download.status_code == 200 and download["Content-Type"] == CONTENT_TYPE
        assert _column(_open(download.content)["Pareto"], "External id") == ["F-C", "F-D", "F-E"]
        assert api_client(kam).get(url).status_code == 404
        assert api_client(kam).get(url + "/file").status_code == 404

    @pytest.mark.parametrize("body, field", [
        ({"from": "2026-05-01", "to": "2026-01-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"tier": "gold"}, "tier"),
        ({"colour": "red"}, "colour"),
    ])
    def test_bad_choices_name_the_field(self, lead, ledger, api_client, body, field):  # noqa: F811
        response = api_client(lead).post("/api/v1/exports/workbook/jobs", json.dumps(body), content_type="application/json")
        assert response.status_code == 422, response.content
        assert response.json()["detail"][0]["loc"][-1] == field
        assert not WorkbookJob.objects.exists()

    def test_only_a_failed_job_runs_again(self, lead, ledger, api_client):  # noqa: F811
        job = services.start_workbook_job(lead)
        response = api_client(lead).post(f"/api/v1/exports/workbook/jobs/{job.pk}/retry")
        assert response.status_code == 422


def test_a_job_whose_worker_is_gone_says_so_and_runs_again(lead, ledger, run_worker):  # noqa: F811
    """What a kill -9 leaves: a running job held by a worker that no longer beats (the real kill is below)."""
    from django.utils import timezone

    job = services.start_workbook_job(lead)
    dead = WorkerProcess.objects.create(id="dead", host="elsewhere", pid=1, started_at=timezone.now(),
                                        seen_at=timezone.now() - timezone.timedelta(hours=1))
    WorkbookJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker=dead, progress=55)
    client = client_for(lead)
    page = client.get(reverse("reports:workbook_job", args=[job.pk])).content.decode()
    assert 'id="workbook-failed"' in page and "interrupted at 55 %" in page and 'id="workbook-retry"' in page
    again = client.post(reverse("reports:workbook_job_retry", args=[job.pk]))
    assert again.status_code == 302
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.progress, job.message) == (JobStatus.DONE, 100, "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="stops and kills processes by signal")
def test_a_worker_killed_mid_workbook(tmp_path):
    """A real `keyplan worker` killed with SIGKILL while it builds the workbook: the next worker to start marks the job
    failed (interrupted), and the same job runs again to the end."""
    from tests.revenue.test_worker_crash import Database, start_worker

    db = Database(tmp_path)
    try:
        db.run("migrate")
        db.run("createuser", "lead", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9")
        base = tmp_path / "base.csv"
        base.write_text("line_id,account_id,account_name,date,amount,cost\n" + "".join(
            f"B{i},A-{i:05d},Account {i},2025-{i % 12 + 1:02d}-15,{100 + i}.25,{40 + i % 50}\n" for i in range(6000)))
        db.run("import", "ledger", str(base), "--create-accounts", "--as", "lead")
        job = _queue(db, START)
        worker = start_worker(db)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status, progress = _job(db, job)
                if status == "running":
                    worker.send_signal(signal.SIGSTOP)
                    break
                assert worker.poll() is None, worker.stderr.read()
                time.sleep(0.005)
            status, progress = _job(db, job)
            assert status == "running" and progress < 100, (status, progress)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert _job(db, job)[0] == "running"  # stuck, until someone looks
        started = db.run("worker", "--batch")
        assert f"workbook job {job} was interrupted" in started.stderr
        assert _job(db, job)[0] == "failed"
        assert "interrupted" in db.query("SELECT message FROM reports_workbookjob WHERE id = ?", (job,))[0][0]
        _queue(db, RETRY, str(job))
        db.run("worker", "--batch")
        assert _job(db, job) == ("done", 100)
    finally:
        db.drop()


START = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
import django
django.setup()
from keyplan.core.models import User
from keyplan.reports import services
print(services.start_workbook_job(User.objects.get(username="lead")).pk)
"""

RETRY = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
import django
django.setup()
from keyplan.core.models import User
from keyplan.reports import services
job = services.workbook_job_of(User.objects.get(username="lead"), int(sys.argv[1]))
print(services.retry_workbook_job(job, by=job.user).pk)
"""


def _queue(db, script: str, *args: str) -> int:
    done = subprocess.run([sys.executable, "-c", script, *args], env=db.env, cwd=db.tmp, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def _job(db, pk: int) -> tuple:
    return tuple(db.query("SELECT status, progress FROM reports_workbookjob WHERE id = ?", (pk,))[0])


class _Terminal:
    """Standard error as a terminal: the CLI draws its progress line there."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_the_cli_stays_synchronous_with_a_progress_line_on_a_terminal(lead, ledger, tmp_path, monkeypatch, capsys):  # noqa: F811
    from keyplan.cli import main

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["export", "workbook", str(tmp_path / "book.xlsx")]) == 0
    drawn = "".join(terminal.parts)
    assert "100%" in drawn and "pareto" in drawn and drawn.endswith("\n")
    assert (tmp_path / "book.xlsx").exists() and not WorkbookJob.objects.exists()  # no job: it ran right here
    monkeypatch.undo()
    assert main(["export", "workbook", str(tmp_path / "quiet.xlsx")]) == 0  # not a terminal: no bar
    assert "%" not in capsys.readouterr().err
