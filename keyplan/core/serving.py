"""`keyplan serve`'s web server: waitress, in one or several processes that share one listening socket.

A Python process runs Python on one core at a time. Under the load test (50 users on two cores) one
process of eight threads answered 23 requests/s with a 95th percentile of 2.2 s while the second core
idled; so the socket is opened once, and each process forked from here runs its own waitress server on
it (the kernel hands every new connection to one of them). This process only watches them: one that
exits is started again, with a log line.

SIGTERM (what a service manager sends) or Ctrl+C stops them gracefully: every process stops listening at
once, so that a new connection is refused and the proxy or load balancer tries another server instead of
waiting; the requests in flight (being received, running, or their answer being sent) finish, for at most
``drain`` seconds; idle keep-alive connections are closed. A second signal abandons what still runs.
waitress's own ``run()`` stops its loop at the first signal, so the answers of requests still running were
never sent and their connections were dropped (92-114 failed requests per restart under load).
"""

import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

logger = logging.getLogger("keyplan.serve")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

RESTART_PAUSE = 1.0  # seconds before starting again a process that exited: a crash loop must not spin


class PortUnavailable(Exception):
    """The address cannot be listened on; the message says why, in one line."""


def default_processes() -> int:
    """One process per core, at most four (each holds Django and its caches: about 150 MB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4))


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, or PortUnavailable with the reason."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=1024)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"{host}:{port} is in use by another program (another keyplan serve?). "
                                  f"Stop it, or serve on another port with --port.") from error
        if error.errno == errno.EACCES:
            raise PortUnavailable(f"this user may not listen on {host}:{port} (ports below 1024 need privileges): "
                                  f"use a higher --port behind the proxy.") from error
        raise PortUnavailable(f"cannot listen on {host}:{port}: {error.strerror or error}.") from error
    return sock


def serve(sock: socket.socket, application, *, processes: int, threads: int, options: dict, drain: float = 20.0,
          on_stop: Callable[[], None] | None = None) -> None:
    """Answer requests on ``sock`` until SIGTERM or Ctrl+C: in this process when ``processes`` is 1, else in that
    many child processes (POSIX: forked, sharing the socket); then stop gracefully (see above). ``on_stop`` runs
    once when the stop begins (e.g. to tell the background worker to stop, so that it finishes its task while the
    requests finish)."""
    if processes <= 1 or not hasattr(os, "fork"):
        def stopping() -> None:
            sock.close()  # nobody listens any more, whoever else holds the socket
            if on_stop is not None:
                on_stop()

        _run_waitress(sock, application, threads, options, drain=drain, on_stop=stopping)
        return
    from django.db import connections

    connections.close_all()  # a connection must not be shared by the forked processes
    children: dict[int, int] = {}  # pid -> its number

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                # Ctrl+C reaches the whole process group: the parent decides, and tells each child with one SIGTERM.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _run_waitress(sock, application, threads, options, drain=drain, signals=(signal.SIGTERM,))
            except KeyboardInterrupt:
                pass
            except BaseException:  # noqa: BLE001 - the child must leave through _exit, never back into the parent's code
                logger.exception("web process %s stopped on an error", number)
                code = 1
            finally:
                os._exit(code)
        children[pid] = number

    try:
        for number in range(1, processes + 1):
            start(number)
        logger.info("serving from %d processes", processes)
        while True:
            time.sleep(0.5)
            for pid, number in list(children.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    del children[pid]
                    logger.warning("web process %s (pid %s) exited (%s); starting it again", number, pid,
                                   _exit_reason(status))
                    time.sleep(RESTART_PAUSE)
                    start(number)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()  # this process's copy: once the children close theirs, nobody listens
        if on_stop is not None:
            on_stop()
        _stop_all(children, timeout=drain + 5)


def _run_waitress(sock: socket.socket, application, threads: int, options: dict, *, drain: float,
                  on_stop: Callable[[], None] | None = None, signals=(signal.SIGTERM, signal.SIGINT)) -> None:
    from waitress.server import create_server

    server = create_server(application, sockets=[sock], threads=threads, ident="keyplan", **options)
    run_gracefully(server, drain=drain, on_stop=on_stop, signals=signals)


def _stop_all(children: dict[int, int], timeout: float) -> None:
    """SIGTERM to every web process (each stops listening and finishes its requests), then wait for them; a second
    signal to this process sends a second SIGTERM (they abandon what still runs); after ``timeout``, SIGKILL."""
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    abandoned = False
    for pid in children:
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
            except KeyboardInterrupt:
                if not abandoned:
                    abandoned = True
                    for other in children:
                        _signal(other, signal.SIGTERM)
        else:
            logger.warning("web process %s did not stop within %.0f s; killed", pid, timeout)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


# ---------------------------------------------------------------- one waitress server, stopped gracefully


def _abandon(signum, frame):
    raise KeyboardInterrupt


def run_gracefully(server, *, drain: float, on_stop: Callable[[], None] | None = None, signals=STOP_SIGNALS) -> None:
    """Run ``server`` (made by ``waitress.server.create_server``) until one of ``signals``, then stop it gracefully.
    ``on_stop`` runs once the server no longer listens (e.g. to tell the background worker to stop, so that it
    finishes its task while the requests finish)."""
    stopping: list[int] = []

    def begin_stop(signum, frame):
        stopping.append(signum)
        for sig in signals:
            signal.signal(sig, _abandon)

    previous = {sig: signal.signal(sig, begin_stop) for sig in signals}
    try:
        while not stopping:
            wasyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=_map(server),
                           use_poll=server.adj.asyncore_use_poll, count=1)
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    # From here on a second signal abandons what still runs (KeyboardInterrupt), also while the caller then waits
    # for the background worker.
    stop_listening(server)
    print(f"Stopping: no new connections; letting the requests in flight finish (at most {drain:g} s).",
          file=sys.stderr, flush=True)
    if on_stop is not None:
        on_stop()
    finish_requests(server, drain)


def _map(server) -> dict:
    # One listening socket: the server is a dispatcher of its own map; several (a host name with IPv4 and IPv6
    # addresses): a MultiSocketServer holding them in its map.
    return server._map if hasattr(server, "_map") else server.map


def stop_listening(server) -> None:
    # The listening sockets only: the trigger that wakes the loop when a thread has an answer stays.
    for listener in [d for d in list(_map(server).values()) if isinstance(d, BaseWSGIServer)]:
        wasyncore.dispatcher.close(listener)


def _in_flight(channel: HTTPChannel) -> bool:
    """A request is being received, waits for a thread or runs (its answer is sent before ``requests`` empties)."""
    return bool(channel.requests) or channel.request is not None


def finish_requests(server, drain: float) -> int:
    """Serve the connections that are open until their requests are answered, at most ``drain`` seconds; return how
    many requests were abandoned."""
    deadline = time.monotonic() + drain
    busy: list[HTTPChannel] = []
    while True:
        channels = [c for c in list(_map(server).values()) if isinstance(c, HTTPChannel)]
        busy = [c for c in channels if _in_flight(c)]
        for channel in channels:
            if channel not in busy and not (channel.will_close or channel.close_when_flushed):
                channel.close_when_flushed = True  # what is still buffered is sent, then it closes; no new request is read
        if not channels:
            break
        if time.monotonic() >= deadline:
            logger.warning("%d request(s) still running after %g s; stopping without them.", len(busy), drain)
            break
        wasyncore.loop(timeout=0.1, map=_map(server), use_poll=server.adj.asyncore_use_poll, count=1)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(_map(server))
    return len(busy)
