"""Operations: `keyplan serve` on a taken port, `keyplan clearsessions`, and the access log."""

import datetime
import json
import logging
import re
import socket
import sys
from pathlib import Path

import pytest

from django.contrib.sessions.models import Session
from django.utils import timezone

from keyplan.cli import main
from tests.conftest import client_for
from tests.core.test_cli import run_keyplan

KEYPLAN = Path(sys.executable).with_name("keyplan")


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = run_keyplan("serve", "--port", str(port), "--no-worker", tmp_path=tmp_path)
    finally:
        taken.close()
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is in use by another program" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_clearsessions_removes_only_expired_sessions(db, capsys, kam):
    client_for(kam).get("/")  # a live session
    now = timezone.now()
    for n in range(3):
        Session.objects.create(session_key=f"expired{n}", session_data="x", expire_date=now - datetime.timedelta(days=n + 1))
    assert main(["clearsessions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": 3, "left": 1}
    assert main(["clearsessions"]) == 0
    assert "Removed 0 expired sessions; 1 remain." in capsys.readouterr().out


def test_the_access_log_has_a_line_per_request_at_info(kam, caplog):
    with caplog.at_level(logging.INFO, logger="keyplan.access"):
        client_for(kam).get("/accounts/?q=secret")
    [record] = [r for r in caplog.records if r.name == "keyplan.access"]
    line = record.getMessage()
    assert line.startswith("GET /accounts/ 200 ") and f"user={kam.pk}" in line and "secret" not in line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_serve_answers_from_several_processes_and_starts_a_dead_one_again(tmp_path):
    """`keyplan serve --processes 2`: two forked web processes share the port; one killed is started again with a
    log line while the other keeps answering; SIGTERM stops them all."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    from tests.revenue.test_worker import _alive, _children, _free_port, stop_serving

    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    assert subprocess.run([str(KEYPLAN), "migrate"], env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    port = _free_port()
    server = subprocess.Popen([str(KEYPLAN), "serve", "--port", str(port), "--no-migrate", "--no-worker", "--processes", "2"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answers() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status

    def web_processes(count: int) -> list[int]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alive = [pid for pid in _children(server.pid, web=True) if _alive(pid)]
            if len(alive) == count:
                return alive
            time.sleep(0.1)
        raise AssertionError(f"expected {count} web processes, found {_children(server.pid, web=True)}")

    try:
        assert "serving on" in server.stdout.readline()
        first = web_processes(2)
        assert [answers() for _ in range(6)] == [200] * 6
        os.kill(first[0], signal.SIGKILL)
        assert answers() == 200  # the other one answers meanwhile
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(web_processes(2)) == set(first):
            time.sleep(0.1)
        now = web_processes(2)
        assert first[1] in now and first[0] not in now
        assert [answers() for _ in range(6)] == [200] * 6
    finally:
        log = stop_serving(server)
    assert server.returncode == 0
    assert re.search(rf"web process \d \(pid {first[0]}\) exited \(signal 9\); starting it again", log), log
    assert not any(_alive(pid) for pid in now)
