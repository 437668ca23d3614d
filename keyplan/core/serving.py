"""`keyplan serve`'s web server: waitress, in one or several processes that share one listening socket.

A Python process runs Python on one core at a time. Under the load test (50 users on two cores) one
process of eight threads answered 23 requests/s with a 95th percentile of 2.2 s while the second core
idled; so the socket is opened once, and each process started from here runs its own waitress server on
it (the kernel hands every new connection to one of them). This process only watches them: one that
exits is started again, with a log line.

SIGTERM (what a service manager sends) or Ctrl+C stops them gracefully: every process stops listening at
once, so that a new connection is refused and the proxy or load balancer tries another server instead of
waiting; the requests in flight (being received, running, or their answer being sent) finish, for at most
``drain`` seconds; idle keep-alive connections are closed. A second signal abandons what still runs.
waitress's own ``run()`` stops its loop at the first signal, so the answers of requests still running were
never sent and their connections were dropped (92-114 failed requests per restart under load).
"""

import argparse
import errno
import json
import logging
import os
import signal
import socket
import subprocess
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


def serve(sock: socket.socket, *, processes: int, threads: int, options: dict, drain: float = 20.0,
          on_stop: Callable[[], None] | None = None) -> None:
    """Answer requests on ``sock`` until SIGTERM or Ctrl+C: in this process when ``processes`` is 1, else in that
    many web processes sharing the socket; then stop gracefully (see above). ``on_stop`` runs once when the stop
    begins (e.g. to tell the background worker to stop, so that it finishes its task while the requests finish).

    Each web process is a new interpreter that is handed the socket, never a fork of this one: this process has
    migrated, recovered broken imports or built the demo, with Polars, whose thread pool a fork inherits without
    its threads; the first analysis a forked process computed then hung for ever."""
    if processes <= 1 or os.name != "posix":
        from keyplan.wsgi import application

        def stopping() -> None:
            sock.close()  # nobody listens any more, whoever else holds the socket
            if on_stop is not None:
                on_stop()

        _run_waitress(sock, application, threads, options, drain=drain, on_stop=stopping)
        return
    children: dict[int, subprocess.Popen] = {}  # its number -> the process

    def start(number: int) -> None:
        # Its own process group: Ctrl+C at the terminal reaches this process only, which tells each child with one
        # SIGTERM; the child stops by itself should this process die without telling it.
        children[number] = subprocess.Popen(
            [sys.executable, "-m", "keyplan.core.serving", "--socket", str(sock.fileno()), "--number", str(number),
             "--threads", str(threads), "--drain", str(drain), "--options", json.dumps(options),
             "--parent", str(os.getpid())],
            pass_fds=(sock.fileno(),), process_group=0)

    try:
        for number in range(1, processes + 1):
            start(number)
        logger.info("serving from %d processes", processes)
        while True:
            time.sleep(0.5)
            for number, child in list(children.items()):
                if child.poll() is not None:
                    logger.warning("web process %s (pid %s) exited (%s); starting it again", number, child.pid,
                                   _exit_reason(child.returncode))
                    time.sleep(RESTART_PAUSE)
                    start(number)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()  # this process's copy: once the children close theirs, nobody listens
        if on_stop is not None:
            on_stop()
        _stop_all(list(children.values()), timeout=drain + 5)


def _web_process(argv: list[str] | None = None) -> int:
    """One web process of several (``python -m keyplan.core.serving``, started by ``serve``): waitress on the socket
    it was handed, until SIGTERM or until the process that started it is gone."""
    parser = argparse.ArgumentParser(prog="python -m keyplan.core.serving")
    parser.add_argument("--socket", type=int, required=True, help="the listening socket's file descriptor")
    parser.add_argument("--number", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--drain", type=float, required=True)
    parser.add_argument("--options", type=json.loads, required=True, help="waitress's options, as JSON")
    parser.add_argument("--parent", type=int, required=True, help="the pid of `keyplan serve`")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides, and tells this process with SIGTERM
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    from keyplan.wsgi import application

    sock = socket.socket(fileno=args.socket)
    try:
        _run_waitress(sock, application, args.threads, args.options, drain=args.drain, signals=(signal.SIGTERM,),
                      keep_running=lambda: os.getppid() == args.parent)
    except KeyboardInterrupt:  # a second SIGTERM: what still runs is abandoned
        pass
    except Exception:
        logger.exception("web process %s stopped on an error", args.number)
        return 1
    return 0


def _run_waitress(sock: socket.socket, application, threads: int, options: dict, *, drain: float,
                  on_stop: Callable[[], None] | None = None, signals=(signal.SIGTERM, signal.SIGINT),
                  keep_running: Callable[[], bool] = lambda: True) -> None:
    from waitress.server import create_server

    server = create_server(application, sockets=[sock], threads=threads, ident="keyplan", **options)
    run_gracefully(server, drain=drain, on_stop=on_stop, signals=signals, keep_running=keep_running)


def _stop_all(children: list[subprocess.Popen], timeout: float) -> None:
    """SIGTERM to every web process (each stops listening and finishes its requests), then wait for them; a second
    signal to this process sends a second SIGTERM (they abandon what still runs); after ``timeout``, SIGKILL."""
    for child in children:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    abandoned = False
    for child in children:
        while child.poll() is None and time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:
                if not abandoned:
                    abandoned = True
                    for other in children:
                        _signal(other, signal.SIGTERM)
        if child.poll() is None:
            logger.warning("web process (pid %s) did not stop within %.0f s; killed", child.pid, timeout)
            child.kill()
            child.wait()


def _signal(child: subprocess.Popen, signum: int) -> None:
    if child.poll() is None:
        child.send_signal(signum)


def _exit_reason(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"


# ---------------------------------------------------------------- one waitress server, stopped gracefully


def _abandon(signum, frame):
    raise KeyboardInterrupt


def run_gracefully(server, *, drain: float, on_stop: Callable[[], None] | None = None, signals=STOP_SIGNALS,
                   keep_running: Callable[[], bool] = lambda: True) -> None:
    """Run ``server`` (made by ``waitress.server.create_server``) until one of ``signals`` or until ``keep_running()``
    is false (asked about once a second), then stop it gracefully. ``on_stop`` runs once the server no longer
    listens (e.g. to tell the background worker to stop, so that it finishes its task while the requests finish)."""
    stopping: list[int] = []

    def begin_stop(signum, frame):
        stopping.append(signum)
        for sig in signals:
            signal.signal(sig, _abandon)

    previous = {sig: signal.signal(sig, begin_stop) for sig in signals}
    try:
        while not stopping and keep_running():
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


if __name__ == "__main__":
    sys.exit(_web_process())
