"""Backup and restore of the whole database, on the database's own tools.

- SQLite: the online backup API copies a consistent snapshot page by page while the server keeps running
  (readers and writers wait at most for one step); restore copies a backup file back the same way.
- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot of a running database) and
  ``pg_restore --clean --single-transaction`` (all or nothing). They come with the PostgreSQL client
  (Debian: ``postgresql-client``); where they are missing the command says so.

Everything Keyplan keeps is in the database, except uploaded files waiting for their import.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done, with a message for the person who asked."""


def _vendor(alias: str) -> str:
    return connections[alias].vendor


def backup(out: Path, *, alias: str = "default") -> dict:
    """Write a backup of the database to ``out``; returns {"path", "bytes", "database"}."""
    out = Path(out)
    if out.exists() and out.is_dir():
        raise BackupError(f"{out} is a folder; give a file name, e.g. {out / 'keyplan.backup'}")
    if not out.parent.exists():
        raise BackupError(f"the folder {out.parent} does not exist")
    partial = out.with_name(out.name + ".partial")
    vendor = _vendor(alias)
    try:
        if vendor == "sqlite":
            _sqlite_backup(partial, alias)
        elif vendor == "postgresql":
            _pg_backup(partial, alias)
        else:
            raise BackupError(f"backups of {vendor} databases are not supported")
        partial.replace(out)  # a backup file is either complete or absent
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(out), "bytes": out.stat().st_size, "database": vendor}


def restore(source: Path, *, alias: str = "default") -> dict:
    """Replace the database's contents with the backup in ``source``; all or nothing."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    with source.open("rb") as f:
        head = f.read(16)
    vendor = _vendor(alias)
    if vendor == "sqlite":
        if head != SQLITE_MAGIC:
            raise BackupError(f"{source} is not a SQLite backup (made by `keyplan backup` from a SQLite database)")
        _sqlite_restore(source, alias)
    elif vendor == "postgresql":
        if not head.startswith(PG_MAGIC):
            raise BackupError(f"{source} is not a PostgreSQL backup (made by `keyplan backup` from a PostgreSQL database)")
        _pg_restore(source, alias)
    else:
        raise BackupError(f"restoring {vendor} databases is not supported")
    return {"path": str(source), "database": vendor}


# ------------------------------------------------------------------ SQLite


def _live_sqlite(alias: str) -> sqlite3.Connection:
    connection = connections[alias]
    connection.ensure_connection()
    return connection.connection


def _sqlite_backup(out: Path, alias: str) -> None:
    target = sqlite3.connect(out)
    try:
        # 256 pages a step: other connections may read and write between the steps.
        _live_sqlite(alias).backup(target, pages=256)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        target.close()


def _sqlite_restore(source: Path, alias: str) -> None:
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in origin.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "django_migrations" not in tables:
            raise BackupError(f"{source} is a SQLite file but not a Keyplan database (it has no django_migrations table)")
        check = origin.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{source} is damaged: {check}")
        # One step: the live database changes from its old contents to the backup's at once.
        origin.backup(_live_sqlite(alias))
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} cannot be read as a SQLite database: {error}") from error
    finally:
        origin.close()


# ------------------------------------------------------------------ PostgreSQL


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed; it comes with the PostgreSQL client (Debian/Ubuntu: apt-get install "
            f"postgresql-client, of the server's major version or newer)"
        )
    return path


def _pg_environment(alias: str) -> dict:
    """Connection settings as libpq's environment variables: the password never shows in the process list."""
    settings = connections[alias].settings_dict
    environment = dict(os.environ)
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD"),
                          ("PGDATABASE", "NAME")):
        if settings.get(key):
            environment[variable] = str(settings[key])
    return environment


def _run(command: list[str], alias: str) -> None:
    result = subprocess.run(command, env=_pg_environment(alias), capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {message[-1] if message else result.returncode}")


def _pg_backup(out: Path, alias: str) -> None:
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={out}"], alias)


def _pg_restore(source: Path, alias: str) -> None:
    connections[alias].close()  # nothing of ours holds a lock on the tables being replaced
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={connections[alias].settings_dict['NAME']}", str(source)], alias)
