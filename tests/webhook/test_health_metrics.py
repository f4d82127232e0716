"""Liveness, readiness (and its end at shutdown) and the Prometheus metrics."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families
from webhook_helpers import PKI, Running, deployment, job, review, start_process


def test_health_and_readiness(webhook: Running) -> None:
    client = webhook.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readiness_fails_while_draining(tmp_path: Path, pki: PKI) -> None:
    running = start_process(tmp_path, pki, env={"MLLINT_SHUTDOWN_DELAY": "1.5"})
    try:
        client = running.client(connections=1)
        assert client.get("/readyz").status_code == 200
        assert running.process is not None
        running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code == 200:
            assert time.monotonic() < deadline, "readiness never failed"
            time.sleep(0.05)
        draining = client.post("/validate", json=review(deployment()))
        assert draining.status_code == 200 and draining.json()["response"]["allowed"]
        assert draining.headers["connection"] == "close"
        assert running.process.wait(timeout=30) == 0
    finally:
        running.stop()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics(serve: Callable[..., Running], pki: PKI) -> None:
    running = serve()
    running.validate(review(job()))
    running.validate(review(job(), dry_run=True))
    running.validate(review(deployment(image="bert:latest"), operation="UPDATE"))
    running.mutate(review(job()))
    running.validate(review(job(), operation="DELETE"))
    running.client().post("/validate", content=b"{")
    found = samples(running.client().get("/metrics").text)
    requests = "mllint_webhook_requests_total"
    base = {"endpoint": "validate", "kind": "Job", "operation": "CREATE", "dry_run": "false"}
    assert value(found, requests, **base, decision="deny") == 1
    assert value(found, requests, **{**base, "dry_run": "true"}, decision="deny") == 1
    assert value(found, requests, **{**base, "operation": "DELETE"}, decision="skip") == 1
    assert value(found, requests, **{**base, "endpoint": "mutate"}, decision="patch") == 1
    update = {**base, "kind": "Deployment", "operation": "UPDATE"}
    assert value(found, requests, **update, decision="warn") == 1
    violations = "mllint_webhook_violations_total"
    assert value(found, violations, rule="ML101", action="deny") == 2
    assert value(found, violations, rule="ML204", action="audit") == 2
    assert value(found, violations, rule="ML602", action="warn") == 1
    assert (
        value(found, "mllint_webhook_bad_requests_total", endpoint="validate", reason="json") == 1
    )
    latency = "mllint_webhook_request_duration_seconds_count"
    assert value(found, latency, endpoint="validate") == 4
    assert value(found, latency, endpoint="mutate") == 1
    assert value(found, "mllint_webhook_patch_operations_total") == 4
    expiry = x509.load_pem_x509_certificate(pki.cert.read_bytes()).not_valid_after_utc
    gauge = "mllint_webhook_certificate_expiry_timestamp_seconds"
    assert value(found, gauge) == expiry.timestamp()
