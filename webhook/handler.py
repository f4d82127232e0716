"""The HTTP side of an admission request: a bounded body, the `?timeout=` budget, judging
bounded by that budget (see `judging`), metrics and a log line.

It speaks ASGI itself: the body is read from `receive` into one buffer and the answer goes out as
two messages of bytes already encoded, with no request or response objects in between (see
`app` for how requests reach it); under uvicorn's h11 protocol the two are written as one TLS
record (`_OneWrite`).

Bodies up to `inline_bytes` are judged in the event loop's own thread, which takes about a
millisecond at most; larger ones in worker processes. The event loop otherwise only reads bodies
(at most `max_reading` at once, each within its time) and answers, so that `/healthz` and other
requests are answered while the largest objects are judged.

Whatever happens, the answer is an AdmissionReview (HTTP 200) whenever the request's `uid` can be
read, an object mllint cannot judge (too large, nested too deep, a bug) included; only a request
that is not an AdmissionReview at all gets a 4xx with a Kubernetes Status saying why. Never a
5xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import RequestResponseCycle

from mllint.webhook import judging
from mllint.webhook.admission import BadRequest, encode_error, parse_timeout
from mllint.webhook.judging import Answer
from mllint.webhook.metrics import Metrics
from mllint.webhook.review import Admission

log = logging.getLogger("mllint.webhook")

JSON_HEADER = (b"content-type", b"application/json")
CLOSE_HEADER = (b"connection", b"close")
DRAIN_FACTOR = 4
"""A body too large to judge is still read to its end, up to this many times the limit, so that
it can be answered; a larger one is refused (413) and its connection closed."""
SLACK = 0.5
"""Seconds past the budget the event loop waits for a worker before it answers by the failure
mode itself (a worker's own timer answers first, unless it is stuck in one long C call)."""


class Endpoint(enum.StrEnum):
    VALIDATE = "validate"
    MUTATE = "mutate"


class Disconnected(Exception):
    """The client went away before its body arrived."""


def budget(timeout: float) -> float:
    """The time to answer in, given the API server's `?timeout=`: it rounds its remaining time up
    to whole seconds, so up to a second of it may already be gone, and the answer must travel."""
    return timeout * 0.5 if timeout <= 2 else min(timeout * 0.8, timeout - 1.0)


class AdmissionEndpoint:
    """An admission endpoint as a plain ASGI app: the app's route for its path, and what the app
    calls directly for a POST to that path (see `app.WebhookApp`)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: AdmissionHandler = scope["app"].state.handler
        await handler.handle(scope, receive, send, self.endpoint)


class AdmissionHandler:
    def __init__(
        self, admission: Admission, restart: Callable[[], Executor], metrics: Metrics
    ) -> None:
        self.admission = admission
        self.restart = restart
        """Starts the worker processes (again, when one died)."""
        self.executor = restart()
        self.metrics = metrics
        self.settings = admission.settings
        self.reading = asyncio.Semaphore(self.settings.max_reading)
        # The timer that bounds a judgement can only be set in the main thread, where `mllint
        # serve` runs its loop; a server run in another thread sends every body to the workers.
        self.inline = (
            judging.Inline(admission)
            if self.settings.inline_bytes and threading.current_thread() is threading.main_thread()
            else None
        )
        self.draining = False
        """Set on shutdown: responses then close their connection, so clients move elsewhere."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint) -> None:
        """Answer one request (an ASGI `http` scope) on `endpoint`."""
        start = time.perf_counter()
        try:
            seconds = self._timeout(scope)
            deadline = start + budget(seconds)
            body, oversize = await self._read(
                scope, receive, min(self.settings.body_timeout, seconds)
            )
            answer = await self._judge(body, oversize, endpoint, deadline)
        except BadRequest as exc:
            await self._refuse(send, exc, endpoint)
            return
        except Disconnected:
            await self._respond(send, b"", 400)
            return
        self._record(answer, endpoint, time.perf_counter() - start)
        await self._respond(send, answer.body, 200)

    async def _refuse(self, send: Send, exc: BadRequest, endpoint: Endpoint) -> None:
        self.metrics.bad_requests.labels(endpoint, exc.reason).inc()
        log.info(
            "bad request",
            extra={
                "fields": {
                    "endpoint": str(endpoint),
                    "status": exc.status,
                    "reason": exc.reason,
                    "detail": exc.message,
                }
            },
        )
        # After a 408 or 413 the rest of the body may still be on its way: close.
        await self._respond(send, encode_error(exc), exc.status, close=exc.status in (408, 413))

    async def _respond(self, send: Send, body: bytes, status: int, *, close: bool = False) -> None:
        headers = [(b"content-length", str(len(body)).encode()), JSON_HEADER]
        if close or self.draining:
            headers.append(CLOSE_HEADER)
        start = {"type": "http.response.start", "status": status, "headers": headers}
        cycle = getattr(send, "__self__", None)
        if not isinstance(cycle, RequestResponseCycle):
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        transport = cycle.transport
        cycle.transport = _OneWrite(transport)  # type: ignore[assignment]
        try:
            await send(start)
            await send({"type": "http.response.body", "body": body})
        finally:
            cycle.transport = transport

    def _timeout(self, scope: Scope) -> float:
        raw = _timeout_param(scope)
        return parse_timeout(raw) if raw is not None else self.settings.default_timeout

    async def _read(
        self, scope: Scope, receive: Receive, seconds: float
    ) -> tuple[bytes | bytearray, bool]:
        """The body (or, past the limit, its head) and whether it was larger than the limit.

        At most `max_reading` bodies are read at once and each must arrive within `seconds`,
        waiting included: slow clients cannot make the server hold many bodies for long."""
        limit = self.settings.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit * DRAIN_FACTOR:
            raise _too_large(limit)
        if not self.reading.locked() and _arrived(receive):
            # Read without waiting: neither a slot nor the time limit can come into play.
            return await _receive(receive, limit, declared)
        try:
            async with asyncio.timeout(seconds), self.reading:
                return await _receive(receive, limit, declared)
        except TimeoutError:
            raise BadRequest(
                408, "body-timeout", f"the body did not arrive within {seconds:g} seconds"
            ) from None

    async def _judge(
        self, body: bytes | bytearray, oversize: bool, endpoint: Endpoint, deadline: float
    ) -> Answer:
        remaining = deadline - time.perf_counter()
        if oversize:
            limit = self.settings.max_body_bytes
            detail = f"the request is larger than {limit} bytes, the most mllint judges"
            return judging.unreadable(
                self.admission, bytes(body), "too-large", detail, _too_large(limit)
            )
        data = bytes(body)
        if self.inline is not None and len(data) <= self.settings.inline_bytes:
            return self.inline.judge(str(endpoint), data, remaining)
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(
                self.executor, judging.judge, str(endpoint), data, remaining
            )
            return await asyncio.wait_for(future, max(remaining, 0) + SLACK)
        except (TimeoutError, BrokenProcessPool) as exc:
            if isinstance(exc, BrokenProcessPool):
                log.error("a judging worker died", extra={"fields": {"endpoint": str(endpoint)}})
                self.executor = self.restart()
            detail = "no answer within the request's time budget"
            reason = "timeout" if isinstance(exc, TimeoutError) else "error"
            return judging.unreadable(self.admission, data, reason, detail, None)

    def _record(self, answer: Answer, endpoint: Endpoint, elapsed: float) -> None:
        m = self.metrics
        if answer.failure:
            m.failures.labels(endpoint, answer.failure, str(self.settings.failure_mode)).inc()
        operation, kind = m.operation(answer.operation), m.kind(answer.kind)
        dry_run = str(answer.dry_run).lower()
        m.request_counter(endpoint, operation, kind, answer.decision, dry_run).inc()
        m.latency_of(endpoint).observe(elapsed)
        for code, action, count in answer.counts:
            m.violations.labels(code, action).inc(count)
        if answer.patch_ops:
            m.patch_operations.inc(answer.patch_ops)
        quiet = answer.decision in ("allow", "skip")
        level = logging.DEBUG if quiet else logging.INFO
        if not log.isEnabledFor(level):
            return
        fields: dict[str, object] = {
            "endpoint": str(endpoint),
            "uid": answer.uid,
            "operation": answer.operation,
            "kind": answer.kind,
            "namespace": answer.namespace,
            "name": answer.name,
            "dry_run": answer.dry_run,
            "decision": answer.decision,
            "duration_ms": round(elapsed * 1000, 3),
        }
        if answer.findings:
            fields["findings"] = [
                {"rule": code, "action": action, "at": at} for code, action, at in answer.findings
            ]
            total = sum(count for _, _, count in answer.counts)
            if total > len(answer.findings):
                fields["findings_total"] = total
        if answer.patch_ops:
            fields["patch_operations"] = answer.patch_ops
        if answer.reason:
            fields["reason"] = answer.reason
        if self.settings.log_bodies and answer.obj is not None:
            fields["object"] = answer.obj
        log.log(level, "admission", extra={"fields": fields})


def _arrived(receive: Receive) -> bool:
    """Whether the whole body is already in uvicorn's h11 cycle (a small body usually comes in
    one piece with its head), so that reading it does not wait."""
    cycle = getattr(receive, "__self__", None)
    return (
        isinstance(cycle, RequestResponseCycle)
        and cycle.message_event.is_set()
        and not cycle.more_body
    )


async def _receive(
    receive: Receive, limit: int, declared: int | None
) -> tuple[bytes | bytearray, bool]:
    """Read the body: as it came when it came in one piece, the usual case; else into one
    buffer (sized from Content-Length when it fits the limit, so a body is one allocation,
    given back whole when it is freed). Past the limit only the head is kept and the rest is
    drained."""
    message = await receive()
    if message["type"] != "http.request":
        raise Disconnected
    chunk: bytes = message.get("body", b"")
    if not message.get("more_body", False) and len(chunk) <= limit:
        return chunk, False
    body = bytearray()
    if declared is not None and declared <= limit:
        body = bytearray(declared)
        del body[:]
    size = 0
    while True:
        size += len(chunk)
        if size > limit * DRAIN_FACTOR:
            raise _too_large(limit)
        if len(body) < judging.HEAD_BYTES or size <= limit:
            body += chunk
        if size > limit and len(body) > judging.HEAD_BYTES:
            del body[judging.HEAD_BYTES :]
        if not message.get("more_body", False):
            return body, size > limit
        message = await receive()
        if message["type"] != "http.request":
            raise Disconnected
        chunk = message.get("body", b"")


class _OneWrite:
    """A connection's transport while one answer is sent through uvicorn's h11 cycle, which
    writes the head and the body apart: the head is held and written with the body, as one TLS
    record and one system call rather than two of each. Writes after that pass through."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.held is None:
            self.held = data
            return
        out, self.held = self.held + data, b""
        if out:
            self.transport.write(out)

    def close(self) -> None:
        if self.held:
            self.transport.write(self.held)
            self.held = b""
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _timeout_param(scope: Scope) -> str | None:
    """`?timeout=`, read straight from the query string in the usual case of it alone."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return None
    if query.startswith(b"timeout=") and not any(c in query for c in b"&%+"):
        return query[8:].decode("latin-1")
    found = None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == "timeout":
            found = value  # the last one, as a query parameter is read
    return found


def _too_large(limit: int) -> BadRequest:
    return BadRequest(
        413, "too-large", f"the body is larger than {limit} bytes, the most mllint accepts"
    )
