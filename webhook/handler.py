"""The HTTP side of an admission request: a bounded body, the `?timeout=` budget, evaluation
bounded by it, the failure mode, metrics and a log line.

In the main thread (as `mllint serve` runs) objects are evaluated in the event loop, bounded by a
SIGALRM timer: a round trip to a worker thread costs more than most evaluations. Elsewhere (a
server run in a thread) they are evaluated in worker threads, bounded by `asyncio.wait_for`.

Whatever happens, the answer is an AdmissionReview (HTTP 200) or, when the request itself is not
one, a 4xx with a Kubernetes Status saying why; never a 5xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from types import FrameType

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mllint.webhook.admission import (
    BadRequest,
    Review,
    encode_error,
    encode_review,
    parse_review,
    parse_timeout,
)
from mllint.webhook.metrics import Metrics
from mllint.webhook.review import Admission, Outcome

log = logging.getLogger("mllint.webhook")

JSON = "application/json"


class Endpoint(enum.StrEnum):
    VALIDATE = "validate"
    MUTATE = "mutate"


class Overtime(BaseException):
    """Raised in the evaluating code when its time is up; a BaseException, so that an `except
    Exception` in a rule cannot swallow it."""


class Watchdog:
    """Bounds the time of a call in the main thread with SIGALRM."""

    def __init__(self) -> None:
        self._armed = False
        signal.signal(signal.SIGALRM, self._expire)

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise Overtime

    def call(self, judge: Callable[[Review], Outcome], review: Review, seconds: float) -> Outcome:
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return judge(review)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False


def budget(timeout: float) -> float:
    """The time to answer in, given the API server's `?timeout=`: it rounds its remaining time up
    to whole seconds, so up to a second of it may already be gone, and the answer must travel."""
    return timeout * 0.5 if timeout <= 2 else min(timeout * 0.8, timeout - 1.0)


class AdmissionHandler:
    def __init__(self, admission: Admission, executor: Executor, metrics: Metrics) -> None:
        self.admission = admission
        self.executor = executor
        self.metrics = metrics
        self.settings = admission.settings
        self.draining = False
        """Set on shutdown: responses then close their connection, so clients move elsewhere."""
        main = threading.current_thread() is threading.main_thread()
        self.watchdog = Watchdog() if main and hasattr(signal, "setitimer") else None

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        start = time.perf_counter()
        try:
            review, seconds = await self._read(request)
            outcome = await self._evaluate(review, endpoint, start + budget(seconds))
        except BadRequest as exc:
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
            return self._respond(encode_error(exc), exc.status)
        except ClientDisconnect:
            return self._respond(b"", 400)
        try:
            body = encode_review(review.api_version, review.uid, outcome.response)
            self._record(review, endpoint, outcome, time.perf_counter() - start)
        except Exception as exc:  # a bug must not become a 5xx: the failure mode answers
            log.error("answer failed", exc_info=exc, extra={"fields": {"uid": review.uid}})
            outcome = self.admission.failure(f"internal error: {type(exc).__name__}")
            body = encode_review(review.api_version, review.uid, outcome.response)
        return self._respond(body, 200)

    def _respond(self, body: bytes, status: int) -> Response:
        response = Response(body, status_code=status, media_type=JSON)
        if self.draining:
            response.headers["connection"] = "close"
        return response

    async def _read(self, request: Request) -> tuple[Review, float]:
        raw_timeout = _timeout_param(request)
        seconds = (
            parse_timeout(raw_timeout) if raw_timeout is not None else self.settings.default_timeout
        )
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return parse_review(b"".join(chunks)), seconds

    async def _evaluate(self, review: Review, endpoint: Endpoint, deadline: float) -> Outcome:
        judge: Callable[[Review], Outcome] = (
            self.admission.validate if endpoint is Endpoint.VALIDATE else self.admission.mutate
        )
        loop = asyncio.get_running_loop()
        remaining = deadline - time.perf_counter()
        try:
            if remaining <= 0:
                raise TimeoutError
            if self.watchdog is not None:
                return self.watchdog.call(judge, review, remaining)
            return await asyncio.wait_for(
                loop.run_in_executor(self.executor, judge, review), remaining
            )
        except RecursionError:
            raise _too_deep() from None
        except (TimeoutError, Overtime):
            detail = "no answer within the request's time budget"
            reason = "timeout"
        except Exception as exc:  # a bug must not become a 5xx: the failure mode answers
            detail = f"internal error: {type(exc).__name__}"
            reason = "error"
            log.error(
                "evaluation failed",
                exc_info=exc,
                extra={"fields": {"uid": review.uid, "kind": review.kind}},
            )
        mode = str(self.settings.failure_mode)
        self.metrics.failures.labels(endpoint, reason, mode).inc()
        return self.admission.failure(detail)

    def _record(self, review: Review, endpoint: Endpoint, outcome: Outcome, elapsed: float) -> None:
        m = self.metrics
        m.requests.labels(
            endpoint, review.operation, review.kind, outcome.decision, str(review.dry_run).lower()
        ).inc()
        m.latency.labels(endpoint).observe(elapsed)
        for judged in outcome.judged:
            m.violations.labels(judged.finding.code, judged.action).inc()
        if outcome.patch_ops:
            m.patch_operations.inc(outcome.patch_ops)
        quiet = outcome.decision in ("allow", "skip")
        level = logging.DEBUG if quiet else logging.INFO
        if not log.isEnabledFor(level):
            return
        fields: dict[str, object] = {
            "endpoint": str(endpoint),
            "uid": review.uid,
            "operation": review.operation,
            "kind": review.kind,
            "namespace": review.request.get("namespace"),
            "name": review.request.get("name"),
            "dry_run": review.dry_run,
            "decision": outcome.decision,
            "duration_ms": round(elapsed * 1000, 3),
        }
        if outcome.judged:
            fields["findings"] = [
                {"rule": j.finding.code, "action": str(j.action), "at": j.finding.pointer}
                for j in outcome.judged
            ]
        if outcome.patch_ops:
            fields["patch_operations"] = outcome.patch_ops
        if outcome.reason:
            fields["reason"] = outcome.reason
        if self.settings.log_bodies:
            fields["object"] = review.request.get("object")
        log.log(level, "admission", extra={"fields": fields})


def _timeout_param(request: Request) -> str | None:
    """`?timeout=`, read straight from the query string in the usual case of it alone."""
    query: bytes = request.scope.get("query_string", b"")
    if not query:
        return None
    if query.startswith(b"timeout=") and not any(c in query for c in b"&%+"):
        return query[8:].decode("latin-1")
    return request.query_params.get("timeout")


def _too_deep() -> BadRequest:
    # Rules do not recurse into objects; the patch machinery's copies do.
    return BadRequest(400, "depth", "the request nests too deep to be evaluated")


def _too_large(limit: int) -> BadRequest:
    return BadRequest(
        413, "too-large", f"the body is larger than {limit} bytes, the most mllint accepts"
    )
