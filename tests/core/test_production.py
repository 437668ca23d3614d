"""Production mode as an operator meets it: `keyplan check --deploy`, the secret key, HTTPS behind a proxy."""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from keyplan.settings import secret_key_problem

KEYPLAN = Path(sys.executable).with_name("keyplan")


def _clean_environment() -> dict:
    """The environment an operator's shell has: none of ours, and not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KEYPLAN_", "DJANGO_"))}


def run(*args, tmp_path, **env):
    environment = _clean_environment()
    environment.update({"KEYPLAN_PRODUCTION": "1", "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}", **env})
    return subprocess.run([str(KEYPLAN), *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=180)


GOOD_KEY = secrets.token_urlsafe(50)


@pytest.mark.parametrize("key, why", [
    ("", "is not"),
    ("a" * 40, "40 characters"),
    ("a" * 64, "too predictable"),
    ("ab" * 30, "too predictable"),
    ("keyplan-insecure-development-key-change-me", "is not"),
])
def test_weak_secret_keys_are_refused(key, why):
    assert why in secret_key_problem(key)


def test_a_strong_key_passes():
    assert secret_key_problem(GOOD_KEY) is None


def test_a_refusal_is_one_clear_line(tmp_path):
    for env in ({}, {"KEYPLAN_SECRET_KEY": "x" * 40}):
        result = run("check", "--deploy", tmp_path=tmp_path, **env)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("keyplan: error: KEYPLAN_SECRET_KEY") or "KEYPLAN_SECRET_KEY is not" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path):
    result = run("check", "--deploy", tmp_path=tmp_path, KEYPLAN_SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_is_clean_when_tls_ends_at_the_proxy(tmp_path):
    result = run("check", "--deploy", tmp_path=tmp_path, KEYPLAN_SECRET_KEY=GOOD_KEY, KEYPLAN_TLS_ENDS_AT_PROXY="1")
    assert result.returncode == 0, result.stderr


def test_check_deploy_names_what_is_unsafe(tmp_path):
    result = run("check", "--deploy", tmp_path=tmp_path, KEYPLAN_SECRET_KEY=GOOD_KEY, KEYPLAN_HSTS_SECONDS="0")
    assert result.returncode == 1 and "SECURE_HSTS_SECONDS" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, headers: dict) -> tuple[int, dict]:
    opener = urllib.request.build_opener(NoRedirect)
    for attempt in range(60):
        try:
            with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers)
        except urllib.error.URLError:  # printed that it serves, not yet listening
            time.sleep(0.5)
    raise AssertionError(f"nothing answers at {url}")


def test_behind_a_trusted_proxy_https_is_seen_and_plain_http_redirected(tmp_path):
    """waitress drops X-Forwarded-Proto unless told which proxy to trust (KEYPLAN_TRUSTED_PROXY)."""
    assert run("migrate", tmp_path=tmp_path, KEYPLAN_SECRET_KEY=GOOD_KEY).returncode == 0
    port = _free_port()
    environment = _clean_environment()
    environment.update({"KEYPLAN_PRODUCTION": "1", "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
                        "KEYPLAN_SECRET_KEY": GOOD_KEY, "KEYPLAN_TRUSTED_PROXY": "127.0.0.1"})
    server = subprocess.Popen([str(KEYPLAN), "serve", "--no-migrate", "--no-worker", "--port", str(port)],
                              env=environment, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/login/"
        started = server.stdout.readline()  # blocks until serve prints where it listens (or ends)
        assert "serving on" in started, started + server.stdout.read()
        status, headers = _get(url, {"X-Forwarded-Proto": "http"})
        assert headers.get("Server") == "keyplan", headers  # our server, not another process on a reused port
        assert status == 301 and headers["Location"].startswith("https://")
        status, headers = _get(url, {"X-Forwarded-Proto": "https"})
        assert status == 200, status
        assert "max-age=31536000" in headers["Strict-Transport-Security"]
        assert "Secure" in headers.get("Set-Cookie", "Secure")  # the CSRF cookie
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_healthz_answers_a_load_balancer_without_a_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "none"}
    assert "no-cache" in response["Cache-Control"]
