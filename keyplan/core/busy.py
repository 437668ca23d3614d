"""SQLite's "database is locked": what a writer meets when another writer (a long import or rollback) holds the
database beyond the busy timeout. Light on purpose: the middleware asks on every exception a view raises."""

import sqlite3

from django.db import OperationalError

# How long a client is asked to wait before trying again.
BUSY_RETRY_AFTER_SECONDS = 5


def is_database_busy(error: BaseException) -> bool:
    """SQLite gave up waiting for another writer: "database is locked" or "… table is locked".

    Only SQLite says this: it takes one writer at a time and others wait up to its busy timeout.
    PostgreSQL writers wait on each other's rows instead.
    """
    if not isinstance(error, OperationalError | sqlite3.OperationalError):  # Django's, or the driver's from raw writes
        return False
    text = str(error).lower()
    return "database is locked" in text or "database table is locked" in text or "database is busy" in text
