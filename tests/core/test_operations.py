"""Operations: `keyplan serve` on a taken port and stopped by SIGTERM, `keyplan clearsessions`, the access log,
`keyplan --version` and `keyplan version`, `keyplan collectstatic`."""

import datetime
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
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
# ---------------------------------------------------------------- version, collectstatic


def test_version_flag_answers_without_the_database(tmp_path):
    import keyplan

    result = subprocess.run([str(KEYPLAN), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, "KEYPLAN_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing"})
    assert result.returncode == 0 and result.stdout == f"keyplan {keyplan.__version__}\n"


def test_version_command_says_whether_the_database_needs_migrate(db, tmp_path, capsys):
    import keyplan

    assert main(["version", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["keyplan"] == keyplan.__version__ and info["migrations_to_apply"] == 0
    fresh = run_keyplan("version", tmp_path=tmp_path)  # an empty SQLite file: every migration is still to apply
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith(f"keyplan {keyplan.__version__} (Python ")
    assert "migrations to apply: back up, then `keyplan migrate`" in fresh.stdout  # every migration: more than one


def test_collectstatic_needs_a_folder_and_fills_it(db, settings, tmp_path, capsys):
    settings.STATIC_ROOT = None
    assert main(["collectstatic"]) == 2
    assert "KEYPLAN_STATIC_ROOT is not set" in capsys.readouterr().err
    settings.STATIC_ROOT = str(tmp_path / "static")
    assert main(["collectstatic", "--quiet"]) == 0
    assert (tmp_path / "static" / "plotly" / "plotly.min.js").is_file()
    assert list((tmp_path / "static").rglob("*.css"))


# ---------------------------------------------------------------- stopping `keyplan serve` gracefully


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    result = run_keyplan("migrate", tmp_path=folder)
    assert result.returncode == 0, result.stderr
    return folder / "cli.sqlite3"


class Served:
    """`keyplan serve` in its own process, on a free port, its standard error read as it comes."""

    def __init__(self, database: Path, folder: Path, *options: str):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        copy = folder / "serve.sqlite3"
        shutil.copy(database, copy)
        env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{copy}"}
        self.process = subprocess.Popen(
            [str(KEYPLAN), "serve", "--port", str(self.port), "--no-worker", "--no-migrate", "--threads", "2", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(iter(self.process.stderr.readline, "")), daemon=True).start()
        line = self.process.stdout.readline()  # "Keyplan is serving on …" once it listens and the app is loaded
        assert "Keyplan is serving" in line, (line, self.stderr)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def wait_for(self, text: str, seconds: float = 10, times: int = 1) -> None:
        deadline = time.monotonic() + seconds
        while sum(text in line for line in self.stderr) < times:
            assert time.monotonic() < deadline, (text, self.stderr)
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _answer(connection: socket.socket) -> tuple[str, bytes]:
    """The status line and body of one HTTP answer (its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, body
        body += chunk
    return head.split(b"\r\n")[0].decode(), body


def test_sigterm_stops_listening_and_lets_the_requests_in_flight_finish(migrated_database, tmp_path):
    """Two web processes: SIGTERM closes the port (a new connection is refused) and idle connections, answers the
    request whose body was still arriving, and exits 0."""
    served = Served(migrated_database, tmp_path, "--drain", "15", "--processes", "2")
    try:
        body = b'{"name": "Acme"}'
        in_flight = served.connect()  # a request whose body is still on its way when the signal comes
        in_flight.sendall(b"POST /api/v1/accounts/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body[:6])
        idle = served.connect()  # a keep-alive connection with nothing in flight
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _ = _answer(idle)
        assert status == "HTTP/1.1 200 OK"
        time.sleep(0.3)
        served.process.send_signal(signal.SIGTERM)
        served.wait_for("Stopping: no new connections", times=2)  # both web processes
        with pytest.raises(ConnectionRefusedError):
            served.connect()  # nobody listens any more: a proxy tries another process at once
        assert idle.recv(1) == b""  # the idle connection is closed, not left to hang
        assert served.process.poll() is None  # still running: a request is in flight
        in_flight.sendall(body[6:])
        status, answer = _answer(in_flight)
        assert status == "HTTP/1.1 401 Unauthorized" and json.loads(answer)["detail"].startswith("Authentication required")
        assert served.process.wait(timeout=15) == 0
        served.wait_for("Keyplan has stopped.")
        assert not any("Traceback" in line for line in served.stderr), served.stderr
    finally:
        served.stop()


def test_a_request_that_does_not_finish_within_the_drain_is_abandoned(migrated_database, tmp_path):
    served = Served(migrated_database, tmp_path, "--drain", "1", "--processes", "1")
    try:
        stuck = served.connect()
        stuck.sendall(b"POST /api/v1/accounts/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 8
        served.wait_for("1 request(s) still running after 1 s")
    finally:
        served.stop()


def _sign_in(base: str, username: str):
    """An opener that carries the session of ``username`` (the demo's password), signed in through the login form."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": "keyplan-demo"})
    request = urllib.request.Request(f"{base}/login/", data=data.encode(), headers={"Referer": f"{base}/login/"})
    assert opener.open(request, timeout=30).geturl() == f"{base}/", "the demo login was refused"
    return opener


def test_the_demo_serves_its_analyses_from_several_processes(tmp_path):
    """`keyplan demo` builds the portfolio with Polars in its own process, then serves. Web processes forked from it
    inherited Polars' thread pool without its threads, and the first analysis they computed hung for ever (and held
    that page's cache lock, so the other processes waited too). Each web process must compute on its own."""
    from tests.revenue.test_worker import _free_port, stop_serving

    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    port = _free_port()
    server = subprocess.Popen([str(KEYPLAN), "demo", "--accounts", "30", "--port", str(port),
                               "--processes", "2"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and "serving on" not in (line := server.stdout.readline()):
            assert line, f"the demo stopped before serving (exit code {server.poll()})"
        kam = _sign_in(base, "kam1")  # sees only the accounts of their teams: nothing is cached for them yet
        # Uncached analyses, each computed by whichever process takes the connection: both must answer.
        for industry in ("", "retail", "manufacturing", "logistics", "software", "healthcare"):
            started = time.monotonic()
            with kam.open(f"{base}/portfolio/?industry={industry}", timeout=60) as response:
                assert response.status == 200 and b"Pareto" in response.read()
            assert time.monotonic() - started < 30, f"the overview for {industry!r} took {time.monotonic() - started:.0f} s"
    finally:
        log = stop_serving(server)
    assert server.returncode == 0, log
    assert "Traceback" not in log, log


def test_web_processes_stop_when_serve_is_killed(tmp_path):
    """kill -9 of `keyplan serve` gives it no chance to stop its web processes: they notice by themselves and stop,
    so that the port is free for the next start instead of answering from an unsupervised, outdated server."""
    import urllib.error
    import urllib.request

    from tests.revenue.test_worker import _alive, _children, _free_port

    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    port = _free_port()
    server = subprocess.Popen([str(KEYPLAN), "serve", "--port", str(port), "--no-worker", "--processes", "2"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert "serving on" in server.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
            assert response.status == 200
        web = _children(server.pid, web=True)
        assert len(web) == 2
    finally:
        server.kill()
        server.wait(timeout=30)
        server.stdout.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in web):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in web), "the web processes outlived `keyplan serve`"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
