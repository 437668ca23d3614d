"""Background workers: `keyplan worker` runs django-tasks' database worker with a heartbeat and patience
with a busy SQLite database, and `keyplan serve` keeps one running beside the web server.

A worker registers a `WorkerProcess` row and writes its ``seen_at`` every few seconds from a thread of
its own. Anyone can then tell whether the worker behind some work is still there (`is_gone`): it
stopped in order, its heartbeat is older than ``KEYPLAN_WORKER_TIMEOUT`` seconds, or, on the same
machine, its process no longer exists.
"""

import datetime
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone

from keyplan.core.busy import is_database_busy
from keyplan.core.models import WorkerProcess

logger = logging.getLogger("keyplan.worker")

HEARTBEAT_SECONDS = 5
BUSY_BACKOFF = (1, 2, 4, 8, 15, 30)  # seconds to wait before each new try when SQLite stays busy; then 30 s each

_current: str | None = None  # the WorkerProcess id of this process, while it runs as a worker


def current_worker_id() -> str | None:
    """The id of the worker this code runs in, or None outside a worker (a web request, the command line, a test)."""
    return _current


def gone_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.KEYPLAN_WORKER_TIMEOUT)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")  # a killed child its parent has not reaped yet is gone too


def is_gone(worker: WorkerProcess, *, now: datetime.datetime | None = None) -> bool:
    """Whether ``worker`` will never finish what it holds."""
    if worker.stopped_at is not None:
        return True
    if worker.seen_at < (now or timezone.now()) - gone_after():
        return True
    if worker.host == socket.gethostname():
        if worker.id == _current:
            return False
        if worker.pid == os.getpid():
            return True  # this very process number is someone else now (a restarted container, say)
        return not _process_alive(worker.pid)
    return False


def last_seen() -> datetime.datetime | None:
    """When a running worker was last seen (None: no worker runs, or none ever ran)."""
    row = WorkerProcess.objects.filter(stopped_at__isnull=True).order_by("-seen_at").values_list("seen_at", flat=True).first()
    return row


def seen_recently() -> bool:
    seen = last_seen()
    return seen is not None and seen >= timezone.now() - datetime.timedelta(seconds=60)


class Heartbeat:
    """Registers this process as a worker and writes its ``seen_at`` every HEARTBEAT_SECONDS from a thread."""

    def __init__(self, worker_id: str):
        self.worker_id = worker_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="keyplan-heartbeat", daemon=True)

    def start(self) -> None:
        global _current
        now = timezone.now()
        WorkerProcess.objects.update_or_create(id=self.worker_id, defaults={
            "host": socket.gethostname()[:255], "pid": os.getpid(), "started_at": now, "seen_at": now})
        # Rows of workers that stopped long ago say nothing any more.
        WorkerProcess.objects.filter(seen_at__lt=now - datetime.timedelta(days=30)).delete()
        _current = self.worker_id
        if not self._thread.is_alive():
            self._thread.start()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    WorkerProcess.objects.filter(pk=self.worker_id).update(seen_at=timezone.now())
                except OperationalError as error:  # SQLite busy beyond its timeout: the next beat tries again
                    logger.info("Worker heartbeat skipped: %s", error)
        finally:
            connection.close()

    def stop(self) -> None:
        global _current
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS * 2)
        _current = None
        try:
            WorkerProcess.objects.filter(pk=self.worker_id).update(stopped_at=timezone.now(), seen_at=timezone.now())
        except OperationalError:
            pass  # the heartbeat's age tells the others soon enough


def patiently(function, *args, **kwargs):
    """Call ``function``; while SQLite answers "database is locked" (another writer beyond the busy timeout), wait
    longer each time (BUSY_BACKOFF) and call it again."""
    tries = 0
    while True:
        try:
            return function(*args, **kwargs)
        except OperationalError as error:
            if not is_database_busy(error):
                raise
            wait = BUSY_BACKOFF[min(tries, len(BUSY_BACKOFF) - 1)]
            tries += 1
            logger.warning("The database is busy (%s); the worker tries again in %s s.", error, wait)
            close_old_connections()
            time.sleep(wait)


def run_worker(*, interval: float = 1.0, batch: bool = False, max_tasks: int | None = None, queue: str = "default",
               quiet: bool = False) -> None:
    """Run background tasks until stopped (or, with ``batch``, until the queue is empty), with a heartbeat.

    django-tasks' worker stops when its database gives up waiting for another writer (SQLite's
    "database is locked" while a long import or rollback writes, between tasks): this one waits,
    longer each time, and goes on.
    """
    from django.core.management import call_command

    worker_id = secrets.token_hex(16)
    heartbeat = Heartbeat(worker_id)
    patiently(heartbeat.start)
    try:
        patiently(call_command, "db_worker", interval=interval, batch=batch, reload=False, startup_delay=not batch,
                  max_tasks=max_tasks, queue_name=queue, worker_id=worker_id, verbosity=0 if quiet else 1)
    finally:
        heartbeat.stop()


# ---------------------------------------------------------------- `keyplan serve` keeps a worker running


class Supervisor:
    """Runs `keyplan worker` as a child process of `keyplan serve` and starts it again whenever it exits.

    The child gets its own session, so that Ctrl+C reaches only `keyplan serve`, which decides how it
    stops; on Linux it is also told to stop should `keyplan serve` die without cleaning up. A worker
    that keeps exiting is started again after a growing pause (1 s up to a minute), each time with a
    log line.
    """

    def __init__(self, command: list[str] | None = None):
        self.command = command or [sys.executable, "-m", "keyplan.cli", "worker", "--quiet"]
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._signalled = False  # SIGTERM sent: a second one would abandon the running task
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="keyplan-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self.process = subprocess.Popen(self.command, start_new_session=True,
                                            preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None)

    def _watch(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            process = self.process
            code = process.wait()
            if self._stopping.is_set():
                return
            started = time.monotonic()
            logger.warning("The background worker (process %s) exited with code %s; starting a new one in %.0f s.",
                           process.pid, code, pause)
            if self._stopping.wait(pause):
                return
            self._spawn()
            self.restarts += 1
            logger.warning("The background worker runs again (process %s).", self.process.pid)
            # A worker that ran a while before it exited gets the short pause again; one that keeps dying, longer ones.
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 60.0)

    def request_stop(self) -> None:
        """Tell the worker to stop after its running task (SIGTERM, once), without waiting for it."""
        with self._lock:
            self._stopping.set()
            worker = self.process
            if worker is None or worker.poll() is not None or self._signalled:
                return
            worker.send_signal(signal.SIGTERM)
            self._signalled = True

    def stop(self) -> None:
        """Ask the worker to stop and wait: it finishes a running import first; a second Ctrl+C abandons it (nothing
        half-done is kept)."""
        self.request_stop()
        worker = self.process
        if worker is None or worker.poll() is not None:
            return
        try:
            worker.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            print("Waiting for the running background import to finish (Ctrl+C again to abandon it)…", file=sys.stderr, flush=True)
        try:
            worker.wait()
        except KeyboardInterrupt:
            worker.send_signal(signal.SIGTERM)  # the second signal: the worker ends the task, which undoes its writes
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _stop_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
