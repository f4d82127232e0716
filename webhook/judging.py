"""Judging in worker processes: decode, judge and encode one AdmissionReview away from the
event loop.

Threads would not do: decoding a 3 MiB body or encoding a large patch is one C call that holds
the interpreter lock for up to a few hundred milliseconds, during which no probe is answered.
The workers are forked once at start-up, after the engine is built and frozen out of the garbage
collector, so they share its memory and never pickle it; a body goes to a worker as bytes and
comes back as the encoded answer with the few fields metrics and logs need.

Small bodies, the usual case, are judged in the server's own process (`Inline`): there a
judgement takes less time than the round trip to a worker, and holds the event loop for about a
millisecond at most.

Every judgement is bounded by a SIGALRM timer in its process's main thread: a judgement that
outlives its budget is interrupted at its next bytecode and answered by the failure mode. The
timer raises only while a judgement is under way and past its deadline, so a late signal cannot
interrupt anything else. It is not stopped after each judgement: one due before the next
judgement's deadline is left to ring and set again for what remains of it, so that judgements
that follow each other set it about once per budget rather than twice each.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import time
from collections import Counter
from dataclasses import dataclass
from types import FrameType
from typing import Any

from mllint.webhook.admission import (
    BadRequest,
    Review,
    Unjudgeable,
    encode_review,
    envelope,
    parse_review,
)
from mllint.webhook.review import Admission, Outcome

log = logging.getLogger("mllint.webhook")

LOGGED = 50
"""Findings named in a log line; an object with thousands has its count logged instead."""
HEAD_BYTES = 64 * 1024
"""How much of a body is scanned for its uid when it is judged no further (the API server
writes `request.uid` first)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answered request: the encoded AdmissionReview and what metrics and logs record."""

    body: bytes
    decision: str
    uid: str
    failure: str = ""
    """The failure reason (timeout, error, depth, too-large) when the failure mode answered."""
    operation: str = ""
    kind: str = ""
    namespace: Any = None
    name: Any = None
    dry_run: bool = False
    findings: tuple[tuple[str, str, str], ...] = ()
    """(code, action, pointer) of the first LOGGED findings, for the log line."""
    counts: tuple[tuple[str, str, int], ...] = ()
    """(code, action, how many) of all findings, for the metrics."""
    patch_ops: int = 0
    reason: str = ""
    obj: Any = None
    """The object, only when bodies are logged."""


class Overtime(BaseException):
    """Raised in the judging code when its time is up; a BaseException, so that an `except
    Exception` in a rule cannot swallow it."""


_admission: Admission | None = None
_armed = False
"""Whether a judgement is under way in this process, and so may be interrupted."""
_deadline = 0.0
"""When the judgement under way must end (`time.monotonic()`)."""
_alarm: float | None = None
"""When the timer is due to ring (`time.monotonic()`), or None when it is not set."""


def start_worker(admission: Admission) -> None:
    """A worker's set-up, run once in it: the admission it inherited, a timer, and the server's
    signals handed back to their defaults (the server's process handles shutdown)."""
    global _admission, _alarm  # noqa: PLW0603 - one admission per worker process
    _admission = admission
    _alarm = None  # a timer the server had set is not inherited
    # Below the server's process on a busy CPU: probes and reads come before judging.
    os.nice(5)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _expire)
    _let_go_of_sockets()


class Inline:
    """Judging in the server's own process, in its main thread (where the timer can be set)."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        signal.signal(signal.SIGALRM, _expire)

    def judge(self, endpoint: str, body: bytes, seconds: float) -> Answer:
        return _bounded(self.admission, endpoint, body, seconds)


def _let_go_of_sockets() -> None:
    """Point the sockets a worker inherited (the listener, open connections) at /dev/null: a
    copy held here would keep a connection open after the server closes it. The worker talks
    to the server through pipes only."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd <= 2 or fd == null:
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
            except OSError:
                continue
    except OSError:
        return  # no /proc: nothing to do where there is none
    finally:
        os.close(null)


def _expire(signum: int, frame: FrameType | None) -> None:
    global _armed, _alarm  # noqa: PLW0603 - the timer's state, one per process
    _alarm = None
    if not _armed:
        return
    left = _deadline - time.monotonic()
    if left > 0:  # set for an earlier judgement's deadline: ring again at this one's
        _set_alarm(max(left, 1e-6))
        return
    _armed = False
    raise Overtime


def _set_alarm(seconds: float) -> None:
    global _alarm  # noqa: PLW0603 - the timer's state, one per process
    _alarm = time.monotonic() + seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)


def judge(endpoint: str, body: bytes, seconds: float) -> Answer:
    """Answer one request in a worker in at most `seconds`; BadRequest when it is no
    AdmissionReview."""
    admission = _admission
    assert admission is not None, "start_worker() first"
    return _bounded(admission, endpoint, body, seconds)


def _bounded(admission: Admission, endpoint: str, body: bytes, seconds: float) -> Answer:
    global _armed, _deadline  # noqa: PLW0603 - the timer's state, one per process
    seconds = max(seconds, 0.001)
    try:
        # Armed before the timer is looked at: a ring in between then sets it for this deadline.
        _deadline = time.monotonic() + seconds
        _armed = True
        alarm = _alarm
        if alarm is None or alarm > _deadline:
            _set_alarm(seconds)
        return _judge(admission, endpoint, body)
    except Overtime:
        return unreadable(
            admission, body, "timeout", "no answer within the request's time budget", None
        )
    finally:
        _armed = False


def _judge(admission: Admission, endpoint: str, body: bytes) -> Answer:
    try:
        review = parse_review(body)
    except Unjudgeable as exc:
        return failure(admission, exc.api_version, exc.uid, exc.reason, exc.detail)
    try:
        outcome = (admission.validate if endpoint == "validate" else admission.mutate)(review)
        encoded = encode_review(review.api_version, review.uid, outcome.response)
    except RecursionError:
        # Rules do not recurse into objects; copies of them (for patches) do.
        return failure(
            admission,
            review.api_version,
            review.uid,
            "depth",
            "the object nests too deep to be judged",
            review=review,
        )
    except Exception as exc:  # a bug must not become a 5xx: the failure mode answers
        log.error(
            "evaluation failed",
            exc_info=exc,
            extra={"fields": {"uid": review.uid, "kind": review.kind}},
        )
        detail = f"internal error: {type(exc).__name__}"
        return failure(admission, review.api_version, review.uid, "error", detail, review=review)
    return _answer(admission, encoded, outcome, review)


def unreadable(
    admission: Admission, body: bytes, reason: str, detail: str, refusal: BadRequest | None
) -> Answer:
    """The failure mode's answer to a request judged no further, found by its uid alone (in
    its head, else anywhere); `refusal` (or a 400) when even that cannot be read."""
    head = envelope(body[:HEAD_BYTES]) or (envelope(body) if len(body) > HEAD_BYTES else None)
    if head is None:
        raise refusal or BadRequest(400, reason, f"{detail}, and the request has no uid")
    return failure(admission, *head, reason, detail)


def failure(
    admission: Admission,
    api_version: str,
    uid: str,
    reason: str,
    detail: str,
    *,
    review: Review | None = None,
) -> Answer:
    outcome = admission.failure(detail)
    encoded = encode_review(api_version, uid, outcome.response)
    if review is not None:
        return _answer(admission, encoded, outcome, review, reason)
    return Answer(encoded, outcome.decision, uid, reason, reason=outcome.reason)


def _answer(
    admission: Admission, encoded: bytes, outcome: Outcome, review: Review, failed: str = ""
) -> Answer:
    request = review.request
    judged = outcome.judged
    counts = Counter((j.finding.code, str(j.action)) for j in judged) if judged else {}
    return Answer(
        encoded,
        outcome.decision,
        review.uid,
        failed,
        review.operation,
        review.kind,
        request.get("namespace"),
        request.get("name"),
        review.dry_run,
        tuple((j.finding.code, str(j.action), j.finding.pointer) for j in judged[:LOGGED]),
        tuple((code, action, n) for (code, action), n in counts.items()),
        outcome.patch_ops,
        outcome.reason,
        request.get("object") if admission.settings.log_bodies else None,
    )
