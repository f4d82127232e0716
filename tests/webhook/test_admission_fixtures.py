"""Every AdmissionReview collected from other admission controllers' test data gets an HTTP 200
and a response the API server accepts, on both endpoints."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from webhook_helpers import ADMISSION_FIXTURES, Running

pytestmark = pytest.mark.skipif(
    not ADMISSION_FIXTURES.is_dir(), reason=f"shared fixtures absent: {ADMISSION_FIXTURES}"
)

REQUESTS = sorted(
    p
    for p in (ADMISSION_FIXTURES.glob("*.json") if ADMISSION_FIXTURES.is_dir() else [])
    if not p.name.endswith(".response.json")
)
RESPONSES = sorted(
    p
    for p in (ADMISSION_FIXTURES.glob("*.json") if ADMISSION_FIXTURES.is_dir() else [])
    if "response" in json.loads(p.read_text())
)


def as_review(path: Path) -> dict[str, Any]:
    """The file's AdmissionReview; bare AdmissionRequests are wrapped (see SOURCES.md)."""
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("kind") == "AdmissionReview":
        data.pop("response", None)
        return data
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": data}


def response_fields() -> dict[str, type]:
    """The AdmissionResponse fields and their JSON types, from the collected responses (one of
    them, Kubernetes' own round-trip fixture, has every field)."""
    fields: dict[str, type] = {}
    for path in RESPONSES:
        for key, value in json.loads(path.read_text())["response"].items():
            fields[key] = type(value)
    return fields


def check_answer(answer: dict[str, Any], sent: dict[str, Any], *, mutating: bool) -> None:
    # What kube-apiserver's VerifyAdmissionResponse checks, and what the decision needs.
    assert answer["apiVersion"] == sent["apiVersion"]
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert isinstance(response["allowed"], bool)
    known = response_fields()
    for key, value in response.items():
        assert key in known, f"{key} is not an AdmissionResponse field"
        assert isinstance(value, known[key]), (key, value)
    if not mutating:
        assert "patch" not in response and "patchType" not in response
    elif "patch" in response:
        assert response["patchType"] == "JSONPatch"
        assert json.loads(base64.b64decode(response["patch"]))
    else:
        assert "patchType" not in response
    if not response["allowed"]:
        assert response["status"]["message"]
    for warning in response.get("warnings", []):
        assert 0 < len(warning) <= 120


def test_the_fixtures_are_there() -> None:
    assert len(REQUESTS) >= 5 and RESPONSES


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
@pytest.mark.parametrize("endpoint", ["/validate", "/mutate"])
def test_fixture_answered(webhook: Running, path: Path, endpoint: str) -> None:
    sent = as_review(path)
    response = webhook.client().post(endpoint, content=json.dumps(sent))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    check_answer(response.json(), sent, mutating=endpoint == "/mutate")


def test_v1beta1_answered_in_v1beta1(webhook: Running) -> None:
    path = ADMISSION_FIXTURES / "neuvector-deployment-update-v1beta1.admissionreview.json"
    answer = webhook.validate(as_review(path))
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
    assert answer["response"]["uid"] == "2e9c253b-6520-11e9-96d1-000c29f3d008"


def test_object_without_apiversion_is_judged_by_request_kind(webhook: Running) -> None:
    # The v1beta1 fixture's object has no apiVersion or kind; request.kind says apps/v1
    # Deployment, and its untagged-by-digest image is judged as a Deployment's. Its container
    # is given a GPU, so that it is an ML workload that image-tag-latest judges by default.
    path = ADMISSION_FIXTURES / "neuvector-deployment-update-v1beta1.admissionreview.json"
    sent = as_review(path)
    assert "kind" not in sent["request"]["object"]
    container = sent["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"nvidia.com/gpu": 1}}
    warnings = webhook.validate(sent)["response"].get("warnings", [])
    assert any("ML602" in w for w in warnings), warnings
