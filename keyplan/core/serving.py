"""`keyplan serve`'s web server: waitress, in one or several processes that share one listening socket.

A Python process runs Python on one core at a time. Under the load test (50 users on two cores) one
process of eight threads answered 23 requests/s with a 95th percentile of 2.2 s while the second core
idled; so the socket is opened once, and each process forked from here runs its own waitress server on
it (the kernel hands every new connection to one of them). This process only watches them: one that
exits is started again, with a log line, and SIGTERM or Ctrl+C stops them all, each finishing the
requests it is answering (waitress gives its threads up to five seconds).
"""

import errno
import logging
import os
import signal
import socket
import time

logger = logging.getLogger("keyplan.serve")

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


def serve(sock: socket.socket, application, *, processes: int, threads: int, options: dict) -> None:
    """Answer requests on ``sock`` until SIGTERM or Ctrl+C: in this process when ``processes`` is 1, else in that
    many child processes (POSIX: forked, sharing the socket)."""
    if processes <= 1 or not hasattr(os, "fork"):
        _run_waitress(sock, application, threads, options)
        return
    from django.db import connections

    connections.close_all()  # a connection must not be shared by the forked processes
    children: dict[int, int] = {}  # pid -> its number

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                signal.signal(signal.SIGTERM, _stop)
                _run_waitress(sock, application, threads, options)
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
        _stop_all(children)


def _run_waitress(sock: socket.socket, application, threads: int, options: dict) -> None:
    from waitress.server import create_server

    create_server(application, sockets=[sock], threads=threads, ident="keyplan", **options).run()


def _stop(signum, frame):
    raise KeyboardInterrupt  # waitress's loop leaves on it, after its threads finish what they answer


def _stop_all(children: dict[int, int], timeout: float = 10.0) -> None:
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in children:
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
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

