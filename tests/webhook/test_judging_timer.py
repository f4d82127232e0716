"""The timer that bounds a judgement in the server's own process (SIGALRM, in the main thread,
where pytest runs tests). Judgements that follow each other set it about once per budget, not
twice each; a timer set for an earlier judgement's deadline never ends a later one early, and
one set for a later deadline never lets a judgement outlive its own budget."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from webhook_helpers import deployment, review

from mllint.rules import Engine, Rule, Severity, Violation, parse_config
from mllint.rules.engine import Registry
from mllint.rules.workload import Scope
from mllint.webhook import judging
from mllint.webhook.judging import Inline
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings

NAP = 0.3
"""How long the napping rule judges one object, in seconds."""
LATE = "no answer within the request's time budget"


def napping(scope: Scope, options: Any) -> Iterator[Violation]:
    time.sleep(NAP)  # a ring interrupts the sleep: its handler runs, then the sleep goes on
    yield from ()


def napper() -> Inline:
    rule = Rule("ML993", "test-napping", Severity.ERROR, "test rule", napping, "")
    engine = Engine(parse_config({"select": ["ML993"]}, "test"), Registry([rule]))
    return Inline(Admission(WebhookSettings(), engine))


@pytest.fixture
def settings_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The seconds of every setitimer call; no timer pending before or after the test, so that
    one left by another test in this process plays no part."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    judging._alarm = None
    calls: list[float] = []
    real = signal.setitimer

    def counting(which: int, seconds: float, interval: float = 0.0) -> tuple[float, float]:
        calls.append(seconds)
        return real(which, seconds, interval)

    monkeypatch.setattr(signal, "setitimer", counting)
    yield calls
    real(signal.ITIMER_REAL, 0)
    judging._alarm = None


def body() -> bytes:
    return json.dumps(review(deployment())).encode()


def test_judgements_in_a_row_set_the_timer_once(settings_calls: list[float]) -> None:
    inline = Inline(Admission.from_settings(WebhookSettings()))
    data = body()
    for _ in range(50):
        answer = inline.judge("validate", data, 30.0)
        assert not answer.failure
    assert len(settings_calls) == 1


def test_a_timer_set_for_an_earlier_deadline_rings_and_is_set_again(
    settings_calls: list[float],
) -> None:
    quick = Inline(Admission.from_settings(WebhookSettings()))
    assert not quick.judge("validate", body(), 0.05).failure  # leaves a timer due in 0.05 s
    answer = napper().judge("validate", body(), 30.0)
    assert not answer.failure, answer
    assert LATE not in answer.body.decode()
    first, again = settings_calls
    assert first == pytest.approx(0.05)
    assert 29 < again < 30  # set again, from the ring, for what remained of the 30 s


def test_a_timer_set_for_a_later_deadline_is_set_sooner(settings_calls: list[float]) -> None:
    quick = Inline(Admission.from_settings(WebhookSettings()))
    assert not quick.judge("validate", body(), 30.0).failure  # leaves a timer due in 30 s
    answer = napper().judge("validate", body(), NAP / 3)
    assert answer.failure == "timeout"
    assert LATE in answer.body.decode()
    assert settings_calls == [30.0, pytest.approx(NAP / 3)]
