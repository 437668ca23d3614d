import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyplan.accounts.models import Account
from keyplan.cli import main
from keyplan.core.models import Role, User
from keyplan.core.services import user_for_token

KEYPLAN = Path(sys.executable).with_name("keyplan")


def run_keyplan(*args, tmp_path, env=None):
    environment = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", **(env or {})}
    return subprocess.run([str(KEYPLAN), *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120)


def test_installed_command_end_to_end(tmp_path):
    """The console script as a user runs it: help, demo into a fresh database, a token that the API accepts."""
    help_ = run_keyplan("--help", tmp_path=tmp_path)
    assert help_.returncode == 0
    for command in ("demo", "serve", "migrate", "createuser", "token"):
        assert command in help_.stdout
    demo = run_keyplan("demo", "--no-serve", "--accounts", "40", "--seed", "7", tmp_path=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Demo logins" in demo.stdout and "kam1" in demo.stdout and "keyplan-demo" in demo.stdout
    again = run_keyplan("demo", "--no-serve", tmp_path=tmp_path)
    assert "already holds 40 accounts" in again.stdout
    token = run_keyplan("token", "create", "kam1", "--json", tmp_path=tmp_path)
    assert token.returncode == 0 and json.loads(token.stdout)["token"].startswith("kp_")
    missing = run_keyplan("token", "create", "nobody", tmp_path=tmp_path)
    assert missing.returncode == 2 and "no active user is named 'nobody'" in missing.stderr


def test_createuser_and_token(db, capsys):
    assert main(["createuser", "erin", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9", "--first-name", "Erin"]) == 0
    user = User.objects.get(username="erin")
    assert user.role == Role.KAM_LEAD and user.check_password("Correct-Horse-Battery-9")
    capsys.readouterr()
    assert main(["token", "create", "erin"]) == 0
    secret = capsys.readouterr().out.strip()
    assert user_for_token(secret) == user


def test_createuser_refuses_weak_password_and_duplicates(db, capsys):
    assert main(["createuser", "weak", "--password", "123"]) == 2
    assert "password" in capsys.readouterr().err
    assert not User.objects.filter(username="weak").exists()
    main(["createuser", "dup", "--password", "Correct-Horse-Battery-9"])
    assert main(["createuser", "dup", "--password", "Correct-Horse-Battery-9"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_createuser_rejects_unknown_role(db):
    with pytest.raises(SystemExit):
        main(["createuser", "x", "--role", "emperor", "--password", "Correct-Horse-Battery-9"])
    assert not User.objects.filter(username="x").exists()


def test_demo_in_process_loads_only_an_empty_database(db, capsys):
    assert main(["demo", "--no-serve", "--accounts", "30"]) == 0
    assert Account.objects.count() == 30
    assert main(["demo", "--no-serve", "--accounts", "99"]) == 0
    assert Account.objects.count() == 30
    assert "already holds 30 accounts" in capsys.readouterr().out
