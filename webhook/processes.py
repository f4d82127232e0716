"""`mllint serve --processes N`: N server processes answering on one port.

One process serves on one core: its event loop does the TLS, the HTTP and the judging of
ordinary objects. For a pod given more than one core, the supervisor (the process `mllint
serve` started as) builds the engine, binds the port once to report a bad address before
anything starts, then forks N server processes. Each binds its own listening socket to that
port with SO_REUSEPORT, and the kernel spreads new connections over them; each has its own
certificate watcher and its own judging workers. Their metrics go to files in a private
directory (prometheus_client's multiprocess mode), so that whichever process answers a scrape
of /metrics reports the whole pod.

SIGTERM or SIGINT to the supervisor is passed on to every server process, which drains as a
single one does. A server process that ends while no shutdown was asked for stops the others
and `mllint serve` exits 1, so that the kubelet restarts the container rather than leave it
answering at part of its capacity.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from mllint.webhook import metrics
from mllint.webhook.settings import WebhookSettings

log = logging.getLogger("mllint.webhook")

_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) that other processes of this user may bind as well.

    It is made with its protocol named (IPPROTO_TCP, as getaddrinfo gives it), as asyncio
    turns Nagle's algorithm off only on connections accepted from such a socket: without it a
    response's last segment waits for the client's delayed acknowledgement (about 40 ms)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def supervise(settings: WebhookSettings, serve: Callable[[socket.socket], int]) -> int:
    """Run `settings.processes` server processes, each `serve(its socket)`; the exit status."""
    try:
        # Bound but never listening: it receives no connection, holds the port (0 picks one)
        # and reports a bad address before any process starts.
        reserved = listening_socket(settings.host, settings.port)
    except OSError as exc:
        log.error(
            "cannot bind the port",
            extra={"fields": {"host": settings.host, "port": settings.port, "error": str(exc)}},
        )
        return 1
    port: int = reserved.getsockname()[1]
    directory = Path(tempfile.mkdtemp(prefix="mllint-metrics-"))
    metrics.share_between_processes(directory)
    # Signals wait in the mask until the loop below takes them; children restore it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    children: set[int] = set()
    failed = False
    try:
        for _ in range(settings.processes):
            pid = os.fork()
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
                reserved.close()
                os._exit(_child(settings.host, port, serve))
            children.add(pid)
        log.info(
            "server processes started",
            extra={"fields": {"port": port, "pids": sorted(children)}},
        )
        stopping = False
        while children:
            info = signal.sigwaitinfo(_SIGNALS)
            if info.si_signo != signal.SIGCHLD:
                if not stopping:
                    stopping = True
                    _signal_all(children, signal.SIGTERM)
                continue
            for pid, status in _reap(children):
                if stopping and status == 0:
                    continue
                failed = True
                log.error(
                    "a server process ended; stopping the others",
                    extra={"fields": {"pid": pid, "how": _how(status)}},
                )
                if not stopping:
                    stopping = True
                    _signal_all(children, signal.SIGTERM)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        reserved.close()
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if failed else 0


def _child(host: str, port: int, serve: Callable[[socket.socket], int]) -> int:
    try:
        return serve(listening_socket(host, port))
    except BaseException as exc:
        log.error("the server process failed", exc_info=exc)
        return 1
    finally:
        # The process ends by os._exit, without the interpreter's wait for its judging
        # workers: they are ended here, or they would outlive it.
        for worker in multiprocessing.active_children():
            worker.terminate()
            worker.join()
        logging.shutdown()


def _reap(children: set[int]) -> list[tuple[int, int]]:
    """The children that have ended, with their wait statuses; removed from `children`.

    Orphans are reaped too: as a container's first process, the supervisor inherits them."""
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in children:
            children.discard(pid)
            ended.append((pid, status))
    return ended


def _signal_all(children: set[int], sig: signal.Signals) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):  # ended already; reaped on its SIGCHLD
            os.kill(pid, sig)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
