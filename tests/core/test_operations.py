"""Operations: `keyplan serve` on a taken port, `keyplan clearsessions`, and the access log."""

import datetime
import json
import logging
import socket
import sys
from pathlib import Path

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
