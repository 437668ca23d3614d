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


def test_roles_offered_without_django_are_the_models_roles():
    from keyplan.cli import ROLES

    assert ROLES == tuple(Role.values)


def test_analyze_is_read_only_and_needs_no_admin(tmp_path):
    """The real command on a fresh database holding the CDNOW ledger, imported by a KAM lead: no admin exists."""
    from tests.revenue.test_lifetime_value import cdnow_csv

    ledger = cdnow_csv(tmp_path)
    assert run_keyplan("migrate", tmp_path=tmp_path).returncode == 0
    made = run_keyplan("createuser", "lena", "--role", "kam_lead", "--password", "Correct-Horse-Battery-9", tmp_path=tmp_path)
    assert made.returncode == 0, made.stderr
    imported = run_keyplan("import", "ledger", str(ledger), "--create-accounts", "--as", "lena", tmp_path=tmp_path)
    assert imported.returncode == 0, imported.stderr

    pareto = run_keyplan("analyze", "pareto", "--json", "--from", "1997-01-01", "--to", "1997-12-31", tmp_path=tmp_path)
    assert pareto.returncode == 0, pareto.stderr
    payload = json.loads(pareto.stdout)
    assert (payload["from"], payload["to"], len(payload["accounts"])) == ("1997-01-01", "1997-12-31", 2357)
    assert payload["total"] > 100_000

    clv = run_keyplan("analyze", "clv", "--as-of", "1997-09-30", "--json", tmp_path=tmp_path)
    assert clv.returncode == 0, clv.stderr
    model = json.loads(clv.stdout)["model"]["bgnbd"]
    assert (round(model["r"], 3), round(model["alpha"], 2), round(model["a"], 3), round(model["b"], 2)) == (0.243, 4.41, 0.793, 2.43)
    text = run_keyplan("analyze", "clv", tmp_path=tmp_path)  # the default day: the ledger's last
    assert text.returncode == 0 and "as of 1998-06-30" in text.stdout

    # --as narrows to what that user sees: a KAM lead sees every account.
    assert json.loads(run_keyplan("analyze", "pareto", "--json", "--from", "1997-01-01", "--as", "lena",
                                  tmp_path=tmp_path).stdout)["total"] > 100_000
    nobody = run_keyplan("analyze", "pareto", "--as", "nobody", tmp_path=tmp_path)
    assert nobody.returncode == 2 and "--as: no active user is named 'nobody'" in nobody.stderr
    scores = run_keyplan("analyze", "scores", "--json", tmp_path=tmp_path)
    assert scores.returncode == 0 and len(json.loads(scores.stdout)["accounts"]) == 2357


@pytest.mark.parametrize("arguments, argument", [
    (["analyze", "abc", "--years", "1998"], "--years"),
    (["analyze", "abc", "--years", "0"], "--years"),
    (["analyze", "concentration", "--top", "100000"], "--top"),
    (["analyze", "pareto", "--threshold", "1.5"], "--threshold"),
    (["analyze", "pareto", "--threshold", "nan"], "--threshold"),
    (["analyze", "abc", "--thresholds", "0.8", "7"], "--thresholds"),
    (["analyze", "abc", "--thresholds", "0.9", "0.8"], "--thresholds"),
    (["analyze", "pareto", "--from", "0001-01-01"], "--from"),
    (["analyze", "pareto", "--from", "2026-02-30"], "--from"),
    (["analyze", "pareto", "--from", "2026-03-01", "--to", "2026-02-01"], "--to"),
    (["analyze", "clv", "--as-of", "2999-01-01"], "--as-of"),
    (["analyze", "clv", "--horizon-months", "1000"], "--horizon-months"),
    (["analyze", "clv", "--discount-rate", "-0.1"], "--discount-rate"),
    (["analyze", "pareto", "--kam", "99999999999999999999"], "--kam"),
    (["rollback", "99999999999999999999"], "batch"),
    (["imports", "--limit", "0"], "--limit"),
    (["demo", "--accounts", "5000000", "--no-serve"], "--accounts"),
    (["serve", "--port", "70000"], "--port"),
    (["worker", "--interval", "0"], "--interval"),
    (["createuser", "x", "--capacity", "-1"], "--capacity"),
    (["review", "run", "--as-of", "3000-01-01"], "--as-of"),
])
def test_numbers_and_dates_out_of_bounds_are_usage_errors_naming_the_argument(tmp_path, arguments, argument):
    answer = run_keyplan(*arguments, tmp_path=tmp_path)
    assert answer.returncode == 2, answer.stderr
    assert argument in answer.stderr and "Traceback" not in answer.stderr
    assert not (tmp_path / "cli.sqlite3").exists() or arguments[0] == "analyze"  # refused before anything ran


def test_help_names_the_defaults_the_code_uses(tmp_path):
    answer = run_keyplan("analyze", "--help", tmp_path=tmp_path)
    assert answer.returncode == 0
    text = " ".join(answer.stdout.split())
    assert "the last 12 months that have data" in text and "1-20 (default 3)" in text
    assert "Needs no admin" in text and "(default: the whole portfolio)" in text


def test_help_loads_no_django_and_pareto_no_numpy_scipy_or_plotly(tmp_path):
    """Start-up: each command imports what it uses. The modules loaded are listed by the process itself."""
    probe = ("import sys\nfrom keyplan.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('django.apps', 'polars', 'numpy', 'scipy', 'plotly') if m in sys.modules), file=sys.stderr)")
    environment = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}

    def loaded(*arguments):
        answer = subprocess.run([sys.executable, "-c", probe, *arguments], capture_output=True, text=True,
                                env=environment, cwd=tmp_path, timeout=120)
        return answer.stderr.strip().splitlines()[-1]

    assert loaded("--help") == "[]"
    assert loaded("analyze", "abc", "--years", "1998") == "[]"  # a usage error answers before anything loads
    assert run_keyplan("migrate", tmp_path=tmp_path).returncode == 0
    assert loaded("analyze", "pareto", "--json") == "['django.apps', 'polars']"  # nor NumPy (0.3 s)


@pytest.mark.parametrize("url, says", [
    ("postgres://postgres@127.0.0.1:1/keyplan", "the database server is running"),  # nothing listens on port 1
    ("sqlite:///{tmp}/no/such/folder/keyplan.sqlite3", "the file's folder exists"),
    ("sqlite:///{tmp}/empty.sqlite3", "run `keyplan migrate` first"),  # a new file, never migrated
])
def test_a_database_that_cannot_be_used_is_one_line_that_says_what_to_check(tmp_path, url, says):
    for arguments in (["analyze", "pareto"], ["token", "create", "lena"]):
        answer = run_keyplan(*arguments, tmp_path=tmp_path, env={"KEYPLAN_DATABASE_URL": url.format(tmp=tmp_path)})
        assert answer.returncode == 1, answer.stderr
        assert answer.stderr.startswith("keyplan: error: ") and says in answer.stderr
        assert len(answer.stderr.strip().splitlines()) == 1 and "Traceback" not in answer.stderr
