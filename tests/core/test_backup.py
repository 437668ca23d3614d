"""`keyplan backup` and `keyplan restore`: every row of every table survives the round trip, on the database in use."""

import hashlib
import shutil

import pytest
from django.db import connection

from keyplan.accounts.models import Account, TeamMember
from keyplan.core.models import User
from keyplan.cli import main
from keyplan.core import backup as backups
from keyplan.core.services import create_token
from keyplan.demo.generator import build_demo


def snapshot() -> dict[str, tuple[int, str]]:
    """Per table: its row count and a digest of all its rows in primary-key (or full-row) order."""
    result = {}
    with connection.cursor() as cursor:
        temporary = set()
        if connection.vendor == "postgresql":  # a session's temporary tables (an import's staging) are not data
            cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname LIKE 'pg_temp%%'")
            temporary = {row[0] for row in cursor.fetchall()}
        for table in sorted(connection.introspection.table_names(cursor)):
            if table.startswith("sqlite_") or table in temporary:
                continue  # the planner's statistics (ANALYZE after the restore's migrate), not data
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            rows = sorted(repr(tuple(str(value) for value in row)) for row in cursor.fetchall())
            result[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return result


@pytest.fixture
def portfolio(transactional_db):
    demo = build_demo(accounts=30, seed=5)
    create_token(demo.users["lead"], name="kept")
    return snapshot()


def test_every_table_survives_a_backup_and_a_restore(portfolio, tmp_path, capsys):
    assert sum(1 for count, _ in portfolio.values() if count) >= 20, "the demo fills most tables"
    out = tmp_path / "keyplan.backup"
    assert main(["backup", str(out)]) == 0
    assert "Backed up" in capsys.readouterr().out and out.stat().st_size > 0
    # Damage after the backup: renamed accounts, lost teams and tokens, a token that was not there.
    Account.objects.update(name="Renamed")
    TeamMember.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_apitoken")
    create_token(User.objects.first(), name="made after the backup")
    assert snapshot() != portfolio
    assert main(["restore", str(out), "--yes"]) == 0
    assert "Restored" in capsys.readouterr().out
    after = snapshot()
    changed = [table for table in portfolio if after.get(table) != portfolio[table]]
    assert not changed, changed
    assert set(after) == set(portfolio)


def test_restore_asks_for_confirmation_and_refuses_what_is_not_a_backup(portfolio, tmp_path, capsys):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    assert main(["restore", str(junk)]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["restore", str(junk), "--yes"]) == 2
    assert "is not a" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "missing.backup"), "--yes"]) == 2
    assert snapshot() == portfolio  # nothing changed


def test_a_backup_into_a_missing_folder_is_a_clear_error(portfolio, tmp_path, capsys):
    assert main(["backup", str(tmp_path / "nowhere" / "x.backup")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump is PostgreSQL's")
def test_without_pg_dump_the_message_says_what_to_install(portfolio, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no PostgreSQL client on it
    assert shutil.which("pg_dump") is None
    assert main(["backup", str(tmp_path / "x.backup")]) == 2
    assert "postgresql-client" in capsys.readouterr().err


def test_a_sqlite_backup_is_refused_by_postgresql_and_the_other_way_round(portfolio, tmp_path):
    other = tmp_path / "other.backup"
    other.write_bytes(backups.PG_MAGIC + b"\0" * 64 if connection.vendor == "sqlite" else backups.SQLITE_MAGIC + b"\0" * 64)
    with pytest.raises(backups.BackupError, match="is not a"):
        backups.restore(other)
