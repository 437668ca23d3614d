"""Values kept in the database cache (settings.CACHES) that take a while to compute, computed once when missing.

When several requests find an entry missing at the same moment (the first visitors after an import, or a
cold cache under load), one of them computes it while the others wait and read it back, instead of each
computing the same thing at once on the same cores ("single flight"). The lock is an entry of the same
cache, taken with ``cache.add()``: the table's primary key lets one caller win, on SQLite and PostgreSQL
alike and across the processes of `keyplan serve`. It expires by itself should its holder die while computing.

The cache stays an aid, never a cause of failure: where its table cannot be read or written (SQLite busy with
a long import; the tests' shared-cache SQLite, which answers "locked" at once), the value is computed as if
there were no cache, as Django's own cache writes fail silently.
"""

import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import DatabaseError

T = TypeVar("T")

LOCK_SECONDS = 120  # the longest a lock holds: longer than any computation kept this way
FIRST_PAUSE, LONGEST_PAUSE = 0.01, 0.1  # seconds between two looks at the entry while another computes it
BUSY_SECONDS = 1.0  # a refused lock that took this long waited for a busy database (SQLite during an import)
REFUSALS = 5  # refused this often (each time nobody held it after all): the cache cannot be written, go on without


def computed_once(key: str, compute: Callable[[], T], *, lock_seconds: int = LOCK_SECONDS) -> T:
    """The cache's value under ``key``; when it is missing, ``compute()``'s, then stored there. Of the callers that
    miss it at the same time, one computes it and the others wait for it. ``compute`` must not return None."""
    value = _try(cache.get, key)
    if value is not None:
        return value
    lock = f"{key}:computing"
    deadline = time.monotonic() + lock_seconds
    refusals = 0
    while True:
        asked = time.monotonic()
        if _try(cache.add, lock, 1, timeout=lock_seconds):
            try:
                value = _try(cache.get, key)  # stored by another between our miss and our lock
                if value is None:
                    value = compute()
                    _try(cache.set, key, value)
                return value
            finally:
                _try(cache.delete, lock)
        refusals += 1
        if time.monotonic() - asked > BUSY_SECONDS or refusals > REFUSALS:
            return _without_lock(key, compute)
        # Another caller holds the lock: wait until it has stored the value, or let go without (its computation
        # failed: then try to take the lock again). Only reads meanwhile, no attempt to take the lock.
        pause = FIRST_PAUSE
        while True:
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
            held = _try(cache.get, lock) is not None  # read before the value: its holder stores the value, then lets go
            value = _try(cache.get, key)
            if value is not None:
                return value
            if time.monotonic() > deadline:  # the holder takes far too long
                return _without_lock(key, compute)
            if not held:
                break


def _without_lock(key: str, compute: Callable[[], T]) -> T:
    """The lock cannot be taken (the database is busy with a long write, the cache cannot be written) or its holder
    takes far too long: compute here, as every request did before there was a lock."""
    value = compute()
    _try(cache.set, key, value)
    return value


def _try(call, *args, **kwargs):
    """``call(*args, **kwargs)``, tried three times over a few milliseconds; None when the table stays unavailable."""
    for attempt in range(3):
        try:
            return call(*args, **kwargs)
        except DatabaseError:
            time.sleep(0.005 * (attempt + 1))
    return None
