"""Requests that are not AdmissionReviews get a 4xx with a Kubernetes Status saying what is
wrong: never a 5xx, never a traceback, and the server stays up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from webhook_helpers import Running, deployment, job, review

MiB = 1024 * 1024


def status_of(response: httpx.Response, code: int) -> str:
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["code"] == code
    message: str = status["message"]
    return message


def post(webhook: Running, body: bytes | str, path: str = "/validate", **kw: Any) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return webhook.client().post(path, content=content, **kw)


def review_with(**request: Any) -> str:
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", **request})


CASES: dict[str, tuple[str | bytes, str]] = {
    "not json": ("{'apiVersion': 1", "not valid JSON"),
    "truncated": ('{"apiVersion": "admission.k8s.io/v1", "kind": ', "not valid JSON"),
    "empty body": ("", "not valid JSON"),
    "not utf-8": (b'{"a": "\xff\xfe"}', "not UTF-8"),
    "huge integer": ('{"n": ' + "9" * 5000 + "}", "not usable JSON"),
    "array": ("[]", "expected an AdmissionReview object, got a JSON array"),
    "wrong apiVersion": (
        json.dumps({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview"}),
        'apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got "admiss',
    ),
    "no apiVersion": (json.dumps({"kind": "AdmissionReview"}), "got nothing"),
    "wrong kind": (
        json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}),
        'kind must be AdmissionReview, got "Pod"',
    ),
    "no request": (review_with(), "the AdmissionReview has no request"),
    "null request": (review_with(request=None), "the AdmissionReview has no request"),
    "request not an object": (review_with(request=[1]), "request must be an object"),
    "no uid": (review_with(request={"operation": "CREATE"}), "request.uid must be"),
    "empty uid": (review_with(request={"uid": ""}), "request.uid must be"),
    "uid not a string": (review_with(request={"uid": 7}), "request.uid must be"),
    "object not an object": (
        review_with(request={"uid": "u", "object": "Pod"}),
        "request.object must be an object, got a JSON string",
    ),
    "nesting beyond the parser, no uid": (
        review_with(request={"operation": "CREATE"})[:-1]
        + ', "x": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        "nests too deep",
    ),
}


@pytest.mark.parametrize("body,expected", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("path", ["/validate", "/mutate"])
def test_bad_request(webhook: Running, path: str, body: str | bytes, expected: str) -> None:
    assert expected in status_of(post(webhook, body, path), 400)


@pytest.mark.parametrize("depth", [150, 500, 900, 990, 5000, 100_000])
@pytest.mark.parametrize("path", ["/validate", "/mutate"])
def test_deep_nesting_is_answered(webhook: Running, path: str, depth: int) -> None:
    """However deep a junk field nests (a CRD with x-kubernetes-preserve-unknown-fields lets
    one through), the request is answered by its uid: judged, or by the failure mode; never a
    4xx, which the API server would leave to failurePolicy."""
    obj = job(parallelism="DEEP")
    body = json.dumps(review(obj)).replace('"DEEP"', "[" * depth + "]" * depth)
    response = post(webhook, body, path)
    assert response.status_code == 200, response.text
    answer = response.json()["response"]
    assert answer["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
    if "nests too deep" in str(answer):
        assert answer["allowed"] is True  # the failure mode, open by default
        assert "could not check this object" in answer["warnings"][0]
    else:
        assert answer["allowed"] is (path == "/mutate")  # judged: ML101 denies
    assert webhook.client().get("/healthz").status_code == 200


def test_body_over_3_mib_is_answered_by_the_failure_mode(webhook: Running) -> None:
    """An UPDATE carries the object twice (object and oldObject): a request over the limit is
    still an AdmissionReview with a uid, answered by the failure mode rather than a 413 the
    API server would leave to failurePolicy."""
    obj = deployment()
    obj["metadata"]["annotations"] = {"blob": "x" * (3 * MiB)}
    response = post(webhook, json.dumps(review(obj)))
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert answer["allowed"] is True
    assert "larger than 3145728 bytes" in answer["warnings"][0]


def test_body_far_over_the_limit_is_refused(webhook: Running) -> None:
    obj = deployment()
    obj["metadata"]["annotations"] = {"blob": "x" * (13 * MiB)}
    message = status_of(post(webhook, json.dumps(review(obj))), 413)
    assert "larger than 3145728 bytes" in message


def test_body_over_3_mib_chunked(webhook: Running) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "x": "'
        for _ in range(4 * 16):
            yield b"y" * (MiB // 16)
        yield b'"}'

    response = webhook.client().post("/validate", content=chunks())
    assert "larger than" in status_of(response, 413)


def test_body_just_under_the_limit_is_answered(webhook: Running) -> None:
    obj = deployment()
    obj["metadata"]["annotations"] = {"blob": "x" * (3 * MiB - 4096)}
    response = post(webhook, json.dumps(review(obj)))
    assert response.status_code == 200 and response.json()["response"]["allowed"] is True


@pytest.mark.parametrize("timeout", ["", "5", "abc", "5x", "-1s", "0s", "1s2"])
def test_bad_timeout(webhook: Running, timeout: str) -> None:
    response = post(webhook, json.dumps(review(deployment())), params={"timeout": timeout})
    assert "timeout must be" in status_of(response, 400)


@pytest.mark.parametrize("timeout", ["10s", "1m0s", "1m30s", "2.5s", "500ms", "30s"])
def test_go_durations_are_accepted(webhook: Running, timeout: str) -> None:
    response = post(webhook, json.dumps(review(deployment())), params={"timeout": timeout})
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["dryRun=All&timeout=2s", "timeout=9s&timeout=2s", "x=%41"])
def test_timeout_among_other_parameters(webhook: Running, query: str) -> None:
    response = post(webhook, json.dumps(review(deployment())), f"/validate?{query}")
    assert response.status_code == 200 and response.json()["response"]["allowed"] is True


def test_a_bad_timeout_among_other_parameters(webhook: Running) -> None:
    response = post(webhook, json.dumps(review(deployment())), "/mutate?a=1&timeout=5x")
    assert "timeout must be a duration such as 10s or 500ms, got '5x'" in status_of(response, 400)


def test_wrong_method_and_path(webhook: Running) -> None:
    client = webhook.client()
    assert client.get("/validate").status_code == 405
    assert client.put("/mutate", content=b"{}").status_code == 405
    assert client.post("/validate/", content=b"{}").status_code in (307, 404)
    assert client.post("/admit", content=b"{}").status_code == 404


def test_the_server_stays_up_and_logs_no_traceback(webhook: Running) -> None:
    for body, _ in CASES.values():
        post(webhook, body)
    client = webhook.client()
    assert client.get("/healthz").status_code == 200
    assert client.post("/validate", json=review(deployment())).status_code == 200
    metrics = client.get("/metrics").text
    assert 'mllint_webhook_bad_requests_total{endpoint="validate",reason="json"}' in metrics
    logs = webhook.logs()
    assert "Traceback" not in logs
    assert all(json.loads(line) for line in logs.splitlines())
