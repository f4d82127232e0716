"""Decisions: an error denies with a message naming each rule, the field path, what to do and the
rule's page; a warning is allowed with warnings within the API server's limits; info goes to
audit annotations; per-rule enforcement actions and the global audit mode change the action."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from webhook_helpers import Running, deployment, job, review

from mllint.rules import REGISTRY, Engine, Finding, Severity
from mllint.webhook.decisions import Policy, warnings

QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""k8s.io/apimachinery IsQualifiedName, which the API server applies to `<webhook>/<key>`."""


def gpu_job() -> dict[str, Any]:
    return job(ttlSecondsAfterFinished=3600)


def test_error_denies_with_rule_path_advice_and_link(webhook: Running) -> None:
    obj = gpu_job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    response = webhook.validate(review(obj))["response"]
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    message = status["message"]
    assert message.startswith("Job ml/train breaks mllint rules (1 problem):")
    assert "ML101 gpu-not-in-limits" in message
    assert "spec.template.spec.containers[0].resources.requests['nvidia.com/gpu']" in message
    assert "set limits.nvidia.com/gpu to 2" in message
    assert REGISTRY.lookup("ML101", "test").url in message
    assert "fixable" in message


def test_warning_allows_with_a_short_warning(webhook: Running) -> None:
    response = webhook.validate(review(deployment(image="pytorch/pytorch:latest")))["response"]
    assert response["allowed"] is True
    assert "status" not in response
    [warning] = response["warnings"]
    assert warning.startswith("mllint ML602 at spec.template.spec.containers[0].image: ")
    assert len(warning) <= 120


def test_clean_object_gets_a_bare_allow(webhook: Running) -> None:
    response = webhook.validate(review(deployment()))["response"]
    assert response == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_info_goes_to_audit_annotations(webhook: Running) -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": 2}
    response = webhook.validate(review(obj))["response"]
    assert response["allowed"] is True and "warnings" not in response
    annotations = response["auditAnnotations"]
    assert list(annotations) == ["job-ttl-missing"]
    assert annotations["job-ttl-missing"].startswith("spec: ")
    for key in annotations:
        # The API server prefixes each key with the webhook's name.
        assert "/" not in key and QUALIFIED_NAME.match(f"validate.mllint.io/{key}")


def test_many_warnings_stay_within_the_limits(webhook: Running) -> None:
    obj = deployment(image="pytorch/pytorch")
    containers = obj["spec"]["template"]["spec"]["containers"]
    template = containers[0]
    containers[:] = [{**template, "name": f"worker-{i:03d}"} for i in range(120)]
    response = webhook.validate(review(obj))["response"]
    found = response["warnings"]
    assert all(len(w) <= 120 for w in found)
    assert len(found) == len(set(found))
    assert sum(len(w.encode()) for w in found) < 4096
    assert re.fullmatch(r"mllint: \d+ more warnings not shown; run mllint on it", found[-1])
    shown = len(found) - 1
    assert found[-1].startswith(f"mllint: {120 - shown} more")


def test_many_denials_are_bounded(webhook: Running) -> None:
    obj = gpu_job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    containers = obj["spec"]["template"]["spec"]["containers"]
    containers[:] = [{**containers[0], "name": f"rank-{i}"} for i in range(25)]
    message = webhook.validate(review(obj))["response"]["status"]["message"]
    assert "(25 problems)" in message
    assert message.count("ML101 gpu-not-in-limits") == 20
    assert message.endswith("- and 5 more; run mllint on the manifest")


def test_enforcement_per_rule(serve: Callable[..., Running]) -> None:
    running = serve(enforcement={"ML101": "warn", "image-tag-latest": "deny", "ML204": "warn"})
    gpu = running.validate(review(gpu_job()))["response"]
    assert gpu["allowed"] is True
    assert any(w.startswith("mllint ML101 at ") for w in gpu["warnings"])
    latest = running.validate(review(deployment(image="bert:latest")))["response"]
    assert latest["allowed"] is False
    assert "ML602 image-tag-latest" in latest["status"]["message"]
    ttl = running.validate(review(job()))["response"]
    assert any(w.startswith("mllint ML204 at spec: ") for w in ttl["warnings"])


def test_audit_enforcement_of_an_error_allows_and_records(serve: Callable[..., Running]) -> None:
    running = serve(enforcement={"gpu-not-in-limits": "audit"})
    response = running.validate(review(gpu_job()))["response"]
    assert response["allowed"] is True
    assert "gpu-not-in-limits" in response["auditAnnotations"]
    assert not any("ML101" in w for w in response.get("warnings", []))


def test_audit_mode_denies_and_warns_nothing(serve: Callable[..., Running]) -> None:
    running = serve(audit_mode=True)
    response = running.validate(review(job()))["response"]
    assert response["allowed"] is True
    assert "warnings" not in response
    assert {"gpu-not-in-limits", "job-restart-policy-not-never", "job-ttl-missing"} <= set(
        response["auditAnnotations"]
    )
    assert running.mutate(review(job()))["response"] == {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "allowed": True,
    }


def test_severity_from_the_rules_config(serve: Callable[..., Running], tmp_path: Any) -> None:
    config = tmp_path / "mllint.yaml"
    config.write_text("select: [ML101]\nseverity:\n  gpu-not-in-limits: info\n")
    response = serve(config=config).validate(review(gpu_job()))["response"]
    assert response["allowed"] is True
    assert list(response["auditAnnotations"]) == ["gpu-not-in-limits"]


def test_identical_warnings_are_given_once() -> None:
    finding = Finding("ML602", "image-tag-latest", Severity.WARNING, "image is :latest", "/x")
    assert warnings([finding, finding], REGISTRY) == ["mllint ML602 at x: image is :latest"]


def test_a_long_warning_keeps_its_field_and_the_start_of_its_message() -> None:
    obj = deployment()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "registry.example.com/team/model-server-name"
    [finding] = [f for f in Engine().evaluate(obj) if f.code == "ML602"]
    head = "mllint ML602 at spec.template.spec.containers[0].image: "
    assert len(head + finding.message) > 120, "the case needs a message too long to fit"
    [text] = warnings([finding], REGISTRY)
    assert text.startswith(head) and text.endswith("...")
    assert len(text) <= 120
    shown = text.removeprefix(head).removesuffix("...")
    assert finding.message.startswith(shown)
    assert "'triton'" in shown, "the container the message names is kept"


def test_a_long_field_path_keeps_its_most_specific_end() -> None:
    pointer = "/spec/" + "/".join(f"level-{n}-of-a-deeply-nested-custom-resource" for n in range(4))
    finding = Finding("ML602", "image-tag-latest", Severity.WARNING, "image is :latest", pointer)
    [text] = warnings([finding], REGISTRY)
    assert len(text) <= 120
    assert text.startswith("mllint ML602 at ...")
    assert text.endswith("level-3-of-a-deeply-nested-custom-resource: image is :latest")


def test_unknown_rule_in_enforcement_is_named() -> None:
    try:
        Policy(REGISTRY, {"gpu-not-in-limit": "deny"})  # type: ignore[dict-item]
    except ValueError as exc:
        assert "unknown rule 'gpu-not-in-limit'" in str(exc)
        assert "did you mean 'gpu-not-in-limits'" in str(exc)
    else:
        raise AssertionError("an unknown rule was accepted")
