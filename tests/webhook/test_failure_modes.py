"""When an object cannot be evaluated (a rule with a bug, no answer within the `?timeout=`
budget) the failure mode answers: open allows with a warning and an audit annotation, closed
denies with an explanation. Never a 5xx, never a hang."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_helpers import PKI, Running, deployment, free_port, review, wait_ready

from mllint.rules import Engine, Rule, Severity, Violation, parse_config
from mllint.rules.engine import Registry
from mllint.rules.workload import Scope
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings


def crashing(scope: Scope, options: Any) -> Iterator[Violation]:
    containers = scope.obj["spec"]["template"]["spec"]["volumes"]  # a bug: volumes may be absent
    yield Violation("/spec", f"{len(containers)} volumes")


def slow(scope: Scope, options: Any) -> Iterator[Violation]:
    time.sleep(2)
    yield from ()


def rule(check: Callable[[Scope, Any], Iterator[Violation]], code: str) -> Rule:
    return Rule(code, f"test-{check.__name__}", Severity.ERROR, "test rule", check, "")


def admission(check: Callable[[Scope, Any], Iterator[Violation]], **values: Any) -> Admission:
    code = "ML990" if check is crashing else "ML991"
    engine = Engine(parse_config({"select": [code]}, "test"), Registry([rule(check, code)]))
    return Admission(WebhookSettings(**values), engine)


@pytest.mark.parametrize("endpoint", ["validate", "mutate"])
def test_internal_error_fails_open(serve: Callable[..., Running], endpoint: str) -> None:
    running = serve(admission=admission(crashing, failure_mode="open"))
    response = getattr(running, endpoint)(review(deployment()))["response"]
    assert response["allowed"] is True
    [warning] = response["warnings"]
    assert warning == "mllint could not check this object (internal error: KeyError); admitted"
    assert response["auditAnnotations"] == {"error": "internal error: KeyError"}
    assert "patch" not in response


@pytest.mark.parametrize("endpoint", ["validate", "mutate"])
def test_internal_error_fails_closed(serve: Callable[..., Running], endpoint: str) -> None:
    running = serve(admission=admission(crashing, failure_mode="closed"))
    response = getattr(running, endpoint)(review(deployment()))["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert response["status"]["message"].startswith(
        "mllint could not check this object (internal error: KeyError) and fails closed"
    )


def test_answer_within_the_timeout_budget(serve: Callable[..., Running]) -> None:
    running = serve(admission=admission(slow, failure_mode="open"))
    response = running.validate(review(deployment()), timeout="1s")["response"]
    assert response["allowed"] is True
    assert "no answer within the request's time budget" in response["warnings"][0]
    metrics = running.client().get("/metrics").text
    assert (
        'mllint_webhook_failures_total{endpoint="validate",mode="open",reason="timeout"} 1.0'
        in metrics
    )


def test_timeout_fails_closed(serve: Callable[..., Running]) -> None:
    running = serve(admission=admission(slow, failure_mode="closed"))
    response = running.validate(review(deployment()), timeout="1s")["response"]
    assert response["allowed"] is False
    assert "time budget" in response["status"]["message"]


def test_server_keeps_answering_after_failures(serve: Callable[..., Running]) -> None:
    running = serve(admission=admission(crashing, failure_mode="open"))
    for _ in range(20):
        running.validate(review(deployment()))
    assert running.client().get("/healthz").status_code == 200


SLOW_SERVER = """
import sys
from pathlib import Path
from mllint.rules import Engine, Rule, Severity, parse_config
from mllint.rules.engine import Registry
from mllint.webhook.review import Admission
from mllint.webhook.server import build_server
from mllint.webhook.settings import WebhookSettings
from mllint.webhook.tls import CertificateStore

def spin(scope, options):
    turns = 0
    while True:  # a rule that never finishes: only the timer can stop it
        turns += 1
    yield

port, cert, key, mode = sys.argv[1:]
settings = WebhookSettings(host="127.0.0.1", port=int(port), failure_mode=mode)
rule = Rule("ML992", "test-spin", Severity.ERROR, "test rule", spin, "")
engine = Engine(parse_config({"select": ["ML992"]}, "test"), Registry([rule]))
certificates = CertificateStore(Path(cert), Path(key))
build_server(settings, Admission(settings, engine), certificates).run()
"""


@pytest.mark.parametrize("padding", [0, 100_000], ids=["inline", "worker"])
@pytest.mark.parametrize("mode", ["open", "closed"])
def test_a_rule_that_never_ends_in_the_main_thread(
    tmp_path: Path, pki: PKI, mode: str, padding: int
) -> None:
    """Small bodies are judged in the server's own process, larger ones (past `inline_bytes`)
    in worker processes; either way a timer ends the rule, and the server is free for the next
    request."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", SLOW_SERVER, str(port), str(pki.cert), str(pki.key), mode],
            stderr=err,
        )
    running = Running(port, pki.ca.path, process=process, stderr=log)
    try:
        wait_ready(running)
        for _ in range(2):  # and the server is still there for the next request
            obj = deployment()
            obj["metadata"]["annotations"] = {"example.com/padding": "x" * padding}
            response = running.validate(review(obj), timeout="1s")["response"]
            assert response["allowed"] is (mode == "open")
            text = str(response.get("warnings") or response.get("status"))
            assert "no answer within the request's time budget" in text
        assert running.client().get("/healthz").status_code == 200
    finally:
        running.stop()
