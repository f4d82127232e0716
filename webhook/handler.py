"""The HTTP side of an admission request: a bounded body, the `?timeout=` budget, judging off the
event loop and bounded by that budget, the failure mode, metrics and a log line.

The event loop only reads bodies (at most `max_reading` at once, each within its time) and
answers; decoding, judging and encoding run in `workers` threads, so that `/healthz` and other
requests are answered while the largest objects are judged. A judgement that outlives its budget
is answered by the failure mode at once, and its thread is interrupted (an exception raised in
it at its next bytecode), so that a slow object does not keep a worker.

Whatever happens, the answer is an AdmissionReview (HTTP 200) whenever the request's `uid` can be
read, an object mllint cannot judge (too large, nested too deep, a bug) included; only a request
that is not an AdmissionReview at all gets a 4xx with a Kubernetes Status saying why. Never a
5xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mllint.webhook.admission import (
    BadRequest,
    Review,
    Unjudgeable,
    encode_error,
    encode_review,
    envelope,
    parse_review,
    parse_timeout,
)
from mllint.webhook.metrics import Metrics
from mllint.webhook.review import Admission, Outcome

log = logging.getLogger("mllint.webhook")

JSON = "application/json"
HEAD_BYTES = 64 * 1024
"""How much of a body too large to judge is kept, to read its uid from (the API server writes
`request.uid` first)."""
DRAIN_FACTOR = 4
"""A body too large to judge is still read to its end, up to this many times the limit, so that
it can be answered; a larger one is refused (413) and its connection closed."""


class Endpoint(enum.StrEnum):
    VALIDATE = "validate"
    MUTATE = "mutate"


class Overtime(BaseException):
    """Raised in a judging thread when its time is up; a BaseException, so that an `except
    Exception` in a rule cannot swallow it."""


def budget(timeout: float) -> float:
    """The time to answer in, given the API server's `?timeout=`: it rounds its remaining time up
    to whole seconds, so up to a second of it may already be gone, and the answer must travel."""
    return timeout * 0.5 if timeout <= 2 else min(timeout * 0.8, timeout - 1.0)


@dataclass(slots=True)
class Answer:
    """A judged request: what to record, and the encoded AdmissionReview."""

    review: Review | None
    outcome: Outcome
    body: bytes
    failure: str = ""
    """The failure reason (timeout, error, depth, too-large), when the failure mode answered."""
    api_version: str = ""
    uid: str = ""


class Job:
    """One judgement in a worker thread, which the event loop can interrupt when it is late."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: int | None = None
        self._done = False

    def run(self, work: Callable[[], Answer], late: Callable[[], Answer]) -> Answer:
        with self._lock:
            if self._done:  # its time ran out while it waited for a worker
                return late()
            self._thread = threading.get_ident()
        try:
            return work()
        except Overtime:
            return late()
        finally:
            with self._lock:
                self._done = True
                self._thread = None
                # An interruption sent just as the work ended must not hit the next job.
                _interrupt(threading.get_ident(), None)

    def cancel(self) -> None:
        """Stop the work: at once when it has not started, at its next bytecode when it runs."""
        with self._lock:
            self._done = True
            if self._thread is not None:
                _interrupt(self._thread, Overtime)


def _interrupt(thread: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exc) if exc is not None else None
    )


class AdmissionHandler:
    def __init__(self, admission: Admission, executor: Executor, metrics: Metrics) -> None:
        self.admission = admission
        self.executor = executor
        self.metrics = metrics
        self.settings = admission.settings
        self.reading = asyncio.Semaphore(self.settings.max_reading)
        self.draining = False
        """Set on shutdown: responses then close their connection, so clients move elsewhere."""

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        start = time.perf_counter()
        try:
            seconds = self._timeout(request)
            deadline = start + budget(seconds)
            body, oversize = await self._read(request, min(self.settings.body_timeout, seconds))
            answer = await self._judge(body, oversize, endpoint, deadline)
        except BadRequest as exc:
            return self._refuse(exc, endpoint)
        except ClientDisconnect:
            return self._respond(b"", 400)
        self._record(answer, endpoint, time.perf_counter() - start)
        return self._respond(answer.body, 200)

    def _refuse(self, exc: BadRequest, endpoint: Endpoint) -> Response:
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
        response = self._respond(encode_error(exc), exc.status)
        if exc.status in (408, 413):  # the rest of the body may still be on its way
            response.headers["connection"] = "close"
        return response

    def _respond(self, body: bytes, status: int) -> Response:
        response = Response(body, status_code=status, media_type=JSON)
        if self.draining:
            response.headers["connection"] = "close"
        return response

    def _timeout(self, request: Request) -> float:
        raw = _timeout_param(request)
        return parse_timeout(raw) if raw is not None else self.settings.default_timeout

    async def _read(self, request: Request, seconds: float) -> tuple[bytearray, bool]:
        """The body (or, past the limit, its head) and whether it was larger than the limit.

        At most `max_reading` bodies are read at once and each must arrive within `seconds`,
        waiting included: slow clients cannot make the server hold many bodies for long."""
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > limit * DRAIN_FACTOR:
            raise _too_large(limit)
        try:
            async with asyncio.timeout(seconds), self.reading:
                return await _receive(request, limit, declared)
        except TimeoutError:
            raise BadRequest(
                408, "body-timeout", f"the body did not arrive within {seconds:g} seconds"
            ) from None

    async def _judge(
        self, body: bytearray, oversize: bool, endpoint: Endpoint, deadline: float
    ) -> Answer:
        judge = self.admission.validate if endpoint is Endpoint.VALIDATE else self.admission.mutate
        limit = self.settings.max_body_bytes
        job = Job()

        def work() -> Answer:
            if oversize:
                detail = f"the request is larger than {limit} bytes, the most mllint judges"
                return self._unreadable(body, "too-large", detail, _too_large(limit))
            return self._answer(body, judge)

        def late() -> Answer:
            detail = "no answer within the request's time budget"
            refusal = BadRequest(400, "timeout", f"{detail}, and the request has no uid")
            return self._unreadable(body, "timeout", detail, refusal)

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, job.run, work, late)
        remaining = deadline - time.perf_counter()
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(remaining, 0))
        except TimeoutError:
            job.cancel()
            return late()

    def _answer(self, body: bytearray, judge: Callable[[Review], Outcome]) -> Answer:
        """Decode, judge and encode, in a worker thread; the failure mode answers what cannot
        be judged."""
        try:
            review = parse_review(body)
        except Unjudgeable as exc:
            return self._failure_answer(exc.api_version, exc.uid, exc.reason, exc.detail)
        try:
            outcome = judge(review)
            encoded = encode_review(review.api_version, review.uid, outcome.response)
        except RecursionError:
            # Rules do not recurse into objects; copies of them (for patches) do.
            return self._failed_review(review, "depth", "the object nests too deep to be judged")
        except Exception as exc:  # a bug must not become a 5xx: the failure mode answers
            log.error(
                "evaluation failed",
                exc_info=exc,
                extra={"fields": {"uid": review.uid, "kind": review.kind}},
            )
            return self._failed_review(review, "error", f"internal error: {type(exc).__name__}")
        return Answer(review, outcome, encoded, api_version=review.api_version, uid=review.uid)

    def _unreadable(self, body: bytearray, reason: str, detail: str, refusal: BadRequest) -> Answer:
        """The failure mode's answer to a request judged no further, read by its uid alone
        (from its head, where the API server writes it, else the whole); `refusal` when even
        that cannot be read."""
        head = envelope(body[:HEAD_BYTES]) or (envelope(body) if len(body) > HEAD_BYTES else None)
        if head is None:
            raise refusal
        return self._failure_answer(*head, reason, detail)

    def _failed_review(self, review: Review, reason: str, detail: str) -> Answer:
        answer = self._failure_answer(review.api_version, review.uid, reason, detail)
        answer.review = review
        return answer

    def _failure_answer(self, api_version: str, uid: str, reason: str, detail: str) -> Answer:
        outcome = self.admission.failure(detail)
        body = encode_review(api_version, uid, outcome.response)
        return Answer(None, outcome, body, reason, api_version, uid)

    def _record(self, answer: Answer, endpoint: Endpoint, elapsed: float) -> None:
        m = self.metrics
        review, outcome = answer.review, answer.outcome
        if answer.failure:
            m.failures.labels(endpoint, answer.failure, str(self.settings.failure_mode)).inc()
        operation = m.operation(review.operation if review else "")
        kind = m.kind(review.kind if review else "")
        dry_run = str(review.dry_run if review else False).lower()
        m.requests.labels(endpoint, operation, kind, outcome.decision, dry_run).inc()
        m.latency.labels(endpoint).observe(elapsed)
        for judged in outcome.judged:
            m.violations.labels(judged.finding.code, judged.action).inc()
        if outcome.patch_ops:
            m.patch_operations.inc(outcome.patch_ops)
        quiet = outcome.decision in ("allow", "skip")
        level = logging.DEBUG if quiet else logging.INFO
        if not log.isEnabledFor(level):
            return
        fields: dict[str, object] = {"endpoint": str(endpoint), "uid": answer.uid}
        if review is not None:
            fields |= {
                "operation": review.operation,
                "kind": review.kind,
                "namespace": review.request.get("namespace"),
                "name": review.request.get("name"),
                "dry_run": review.dry_run,
            }
        fields |= {"decision": outcome.decision, "duration_ms": round(elapsed * 1000, 3)}
        if outcome.judged:
            fields["findings"] = [
                {"rule": j.finding.code, "action": str(j.action), "at": j.finding.pointer}
                for j in outcome.judged
            ]
        if outcome.patch_ops:
            fields["patch_operations"] = outcome.patch_ops
        if outcome.reason:
            fields["reason"] = outcome.reason
        if self.settings.log_bodies and review is not None:
            fields["object"] = review.request.get("object")
        log.log(level, "admission", extra={"fields": fields})


async def _receive(request: Request, limit: int, declared: int | None) -> tuple[bytearray, bool]:
    """Read the body into one buffer (sized from Content-Length when it fits the limit, so a
    body is one allocation, given back whole when it is freed); past the limit only the head
    is kept and the rest is drained."""
    body = bytearray()
    if declared is not None and declared <= limit:
        body = bytearray(declared)
        del body[:]
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit * DRAIN_FACTOR:
            raise _too_large(limit)
        if len(body) < HEAD_BYTES or size <= limit:
            body += chunk
        if size > limit and len(body) > HEAD_BYTES:
            del body[HEAD_BYTES:]
    return body, size > limit


def _timeout_param(request: Request) -> str | None:
    """`?timeout=`, read straight from the query string in the usual case of it alone."""
    query: bytes = request.scope.get("query_string", b"")
    if not query:
        return None
    if query.startswith(b"timeout=") and not any(c in query for c in b"&%+"):
        return query[8:].decode("latin-1")
    return request.query_params.get("timeout")


def _too_large(limit: int) -> BadRequest:
    return BadRequest(
        413, "too-large", f"the body is larger than {limit} bytes, the most mllint accepts"
    )
