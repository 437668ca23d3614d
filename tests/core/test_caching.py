"""computed_once(): an entry missing from the database cache is computed by one caller while the others that miss
it at the same moment wait for it and read it back, as the requests of several web processes do (each thread
here has its own database connection, as each request has). On SQLite and PostgreSQL."""

import threading
import time
import uuid

import pytest
from django.core.cache import cache
from django.db import close_old_connections, connection

from keyplan.core.caching import computed_once

CALLERS = 8


def _at_once(call, callers: int = CALLERS) -> list[object]:
    barrier = threading.Barrier(callers)
    results: list[object] = [None] * callers

    def run(index):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test looks at what each caller got
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_cold_entry_is_computed_once_while_the_others_wait():
    key = f"test:{uuid.uuid4().hex}"
    computations = []

    def compute():
        computations.append(threading.get_ident())
        time.sleep(0.5)  # every other caller finds the entry missing meanwhile
        return {"answer": 42}

    results = _at_once(lambda: computed_once(key, compute))
    assert results == [{"answer": 42}] * CALLERS
    assert len(computations) == 1
    assert computed_once(key, lambda: {"answer": 0}) == {"answer": 42}  # kept


@pytest.mark.django_db(transaction=True)
def test_a_failed_computation_leaves_no_lock_behind():
    key = f"test:{uuid.uuid4().hex}"

    def fail():
        raise ValueError("no exchange rate for XYZ")

    with pytest.raises(ValueError, match="XYZ"):
        computed_once(key, fail)
    started = time.monotonic()
    assert computed_once(key, lambda: "computed") == "computed"
    assert time.monotonic() - started < 1  # nobody waited for a lock


@pytest.mark.django_db(transaction=True)
def test_the_lock_of_a_computation_that_died_expires():
    key = f"test:{uuid.uuid4().hex}"
    assert cache.add(f"{key}:computing", 1, timeout=1)  # as a process killed while computing leaves it
    started = time.monotonic()
    assert computed_once(key, lambda: "computed") == "computed"
    assert time.monotonic() - started < 10
