"""`mllint serve`: the admission webhook over TLS, served by uvicorn.

Start-up problems (a bad flag, configuration or certificate) are reported before the port is
bound, as one line on stderr and exit status 2. On SIGTERM the server fails readiness, keeps
accepting for `shutdown_delay` seconds (while the Service's endpoints catch up), then stops
accepting and lets every open connection finish what it has in flight, answering with
`Connection: close` so clients move to another replica.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import contextlib
import logging
import math
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import h11
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError
from uvicorn.protocols.http.h11_impl import H11Protocol

from mllint.rules import ConfigError
from mllint.webhook import logs, processes
from mllint.webhook.app import create_app, start_draining
from mllint.webhook.review import Admission
from mllint.webhook.settings import MAX_PROCESSES, FailureMode, WebhookSettings
from mllint.webhook.tls import CertificateError, CertificateStore

log = logging.getLogger("mllint.webhook")

LINGER = 1.0
"""After the listener closes, how long open connections may still send a request."""


class WebhookServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, settings: WebhookSettings) -> None:
        super().__init__(config)
        self.app = app
        self.settings = settings
        self.terminated = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            self.terminated = True
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises a captured signal again once it has shut down, which would end the
        # process by that signal; a clean shutdown returns from main() instead.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        start_draining(self.app)
        loop = asyncio.get_running_loop()
        if self.terminated and self.settings.shutdown_delay > 0:
            log.info(
                "draining before shutdown",
                extra={"fields": {"seconds": self.settings.shutdown_delay}},
            )
            until = loop.time() + self.settings.shutdown_delay
            while loop.time() < until and not self.force_exit:
                await asyncio.sleep(0.05)
        for server in self.servers:
            server.close()
        until = loop.time() + LINGER
        while self.server_state.connections and loop.time() < until and not self.force_exit:
            await asyncio.sleep(0.02)
        await super().shutdown(sockets)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on request headers.

    uvicorn closes idle keep-alive connections, but not one that trickles its headers a byte at
    a time, nor a new connection that never sends any: each would hold a connection (and its
    TLS state) for ever. Headers must be complete `header_timeout` seconds after the connection
    opens or the request's first byte arrives."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._stop_watching()  # idle until the next request: the keep-alive timeout applies

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if not waiting:
            self._stop_watching()
        elif self._header_timer is None and self.timeout_keep_alive_task is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_watching(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    return type("GuardedH11", (GuardedH11Protocol,), {"header_timeout": header_timeout})


def _fixed_mmap_threshold() -> None:
    """Give large buffers (request bodies, decoded objects' big blocks) their own mappings, so
    that they go back to the system when freed. glibc raises its mmap threshold after each such
    free, after which they come from the heap, where a few live blocks keep the whole heap; a
    fixed threshold keeps the first behaviour. Elsewhere this does nothing."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


TLS_READ_BYTES = 64 * 1024
"""The buffer each read of a TLS connection decrypts into: asyncio's is 256 KiB, which a read
allocates twice (the second read finds nothing left), shrinks and frees. Past the mmap threshold
above, each of those is a mapping of its own: five system calls and fresh pages per request, a
fifth of a small request's CPU time. Below it, the buffers come from the heap and go back to
it. asyncio reads until nothing is left, so a smaller buffer loses nothing: a large body takes
more reads, each of at most a TLS record (16 KiB) anyway."""


def _heap_sized_tls_reads() -> None:
    """Read TLS connections in buffers below the mmap threshold (see TLS_READ_BYTES). It is the
    class attribute asyncio reads for every connection, and this process serves nothing else."""
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BYTES


def build_server(
    settings: WebhookSettings, admission: Admission, certificates: CertificateStore
) -> WebhookServer:
    """A server ready to `run()` (or `serve()` in a running loop, from any thread)."""
    app = create_app(settings, admission=admission, certificates=certificates)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # uvicorn loads these too (and so logs an https:// address); the context it serves with
        # is then replaced by the store's, which follows certificate rotations.
        ssl_certfile=str(certificates.cert_file),
        ssl_keyfile=str(certificates.key_file),
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=math.ceil(settings.keep_alive_timeout),
        timeout_graceful_shutdown=math.ceil(settings.graceful_timeout),
        http=_protocol(settings.header_timeout),
        limit_concurrency=settings.max_connections,
        # Headers (request line included) larger than this are refused with a 400.
        h11_max_incomplete_event_size=16 * 1024,
    )
    config.load()
    config.ssl = certificates.context
    return WebhookServer(config, app, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mllint serve",
        description="Serve mllint as a Kubernetes admission webhook over TLS "
        "(/validate, /mutate, /healthz, /readyz, /metrics). Every setting can also be given "
        "as an MLLINT_* environment variable; flags win.",
    )
    parser.add_argument("--cert-file", help="PEM serving certificate (MLLINT_CERT_FILE)")
    parser.add_argument("--key-file", help="PEM private key of the certificate (MLLINT_KEY_FILE)")
    parser.add_argument(
        "--client-ca-file",
        help="require client certificates signed by this CA (MLLINT_CLIENT_CA_FILE)",
    )
    parser.add_argument("--host", help="address to listen on (MLLINT_HOST; default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (MLLINT_PORT; default 8443)")
    parser.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="server processes answering on the port, one core each; for a pod given more "
        f"than one core (MLLINT_PROCESSES; default 1, at most {MAX_PROCESSES})",
    )
    parser.add_argument("--config", help="mllint rules configuration, YAML (MLLINT_CONFIG)")
    parser.add_argument(
        "--failure-mode",
        choices=[m.value for m in FailureMode],
        help="answer when an object cannot be evaluated: open allows, closed denies "
        "(MLLINT_FAILURE_MODE; default open)",
    )
    parser.add_argument(
        "--audit",
        action="store_const",
        const=True,
        dest="audit_mode",
        help="deny and warn nothing, only record findings in audit annotations (MLLINT_AUDIT_MODE)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="MLLINT_LOG_LEVEL; default info",
    )
    return parser


def _settings(args: argparse.Namespace) -> WebhookSettings:
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    return WebhookSettings(**overrides)


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"])
        env = "MLLINT_" + str(err["loc"][0]).upper() if err["loc"] else ""
        problems.append(f"{name} ({env}): {err['msg']}")
    return "; ".join(problems)


_FIELD = re.compile(r'field "([a-z_]+)"')


def _describe_env(exc: SettingsError) -> str:
    """pydantic-settings fails on a list or map variable that is not JSON without saying that
    JSON is what it wants: say it, with an example."""
    found = _FIELD.search(str(exc))
    if found is None:
        return str(exc)
    name = found[1]
    example = '{"ML602": "deny"}' if name == "enforcement" else '["value", "other"]'
    return (
        f"MLLINT_{name.upper()} is not valid JSON; lists and maps are given as JSON, "
        f"for example MLLINT_{name.upper()}='{example}'"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the webhook until SIGTERM or SIGINT; the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = _settings(args)
        if settings.cert_file is None or settings.key_file is None:
            raise CertificateError(
                "a serving certificate is required: give --cert-file and --key-file "
                "(or MLLINT_CERT_FILE and MLLINT_KEY_FILE)"
            )
        admission = Admission.from_settings(settings)
        certificates = CertificateStore(
            settings.cert_file, settings.key_file, settings.client_ca_file
        )
    except ValidationError as exc:
        return _fail(_describe(exc))
    except SettingsError as exc:
        return _fail(_describe_env(exc))
    except (ConfigError, CertificateError) as exc:
        return _fail(str(exc))
    logs.configure(settings.log_level)
    _fixed_mmap_threshold()
    _heap_sized_tls_reads()

    if settings.processes > 1:
        return processes.supervise(
            settings,
            lambda sock: _run(build_server(settings, admission, certificates), [sock]),
        )
    return _run(build_server(settings, admission, certificates), None)


def _run(server: WebhookServer, sockets: list[socket.socket] | None) -> int:
    try:
        server.run(sockets)
    except SystemExit:  # uvicorn exits when it cannot bind the port; it logged why
        return 1
    except KeyboardInterrupt:
        return 130
    return 0 if server.started else 1


def _fail(message: str) -> int:
    print(f"mllint serve: error: {message}", file=sys.stderr)
    return 2
