"""Which requests are judged: operations, dry runs, objects a controller made, exemptions by
namespace, user and group, and the engine's suppression annotations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webhook_helpers import Running, deployment, job, review

ALLOWED = {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def denied(answer: dict[str, Any]) -> bool:
    return answer["response"]["allowed"] is False


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
@pytest.mark.parametrize("endpoint", ["validate", "mutate"])
def test_delete_and_connect_are_allowed_unjudged(
    webhook: Running, operation: str, endpoint: str
) -> None:
    sent = review(job(), operation=operation)
    sent["request"]["oldObject"] = job()
    answer = getattr(webhook, endpoint)(sent)
    assert answer["response"] == ALLOWED


def test_delete_without_object(webhook: Running) -> None:
    sent = review(None, operation="DELETE")
    sent["request"]["oldObject"] = job()
    assert webhook.validate(sent)["response"] == ALLOWED
    assert webhook.mutate(sent)["response"] == ALLOWED


def test_update_judges_the_new_object(webhook: Running) -> None:
    good, bad = job(), job()
    good_spec = good["spec"]["template"]["spec"]
    good_spec["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": 2}
    good_spec["restartPolicy"] = "Never"
    fixed_update = review(good, operation="UPDATE", oldObject=bad)
    assert not denied(webhook.validate(fixed_update))
    breaking_update = review(bad, operation="UPDATE", oldObject=good)
    assert denied(webhook.validate(breaking_update))


def test_dry_run_gets_the_same_decision(webhook: Running) -> None:
    real = webhook.validate(review(job()))
    dry = webhook.validate(review(job(), dry_run=True))
    assert denied(real) and dry == real


def controlled_pod() -> dict[str, Any]:
    template = job()["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "train-x7k2p",
            "namespace": "ml",
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": "train",
                    "uid": "5c1f2a8e-4b0b-4c53-9a53-2f6e2b9f0f11",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template["spec"],
    }


JOB_CONTROLLER = "system:serviceaccount:kube-system:job-controller"
CONTROLLERS = (
    "system:serviceaccounts",
    "system:serviceaccounts:kube-system",
    "system:authenticated",
)


def test_pods_a_controller_sends_are_not_judged_again(
    webhook: Running, serve: Callable[..., Running]
) -> None:
    sent = review(controlled_pod(), user=JOB_CONTROLLER, groups=CONTROLLERS)
    assert webhook.validate(sent)["response"] == ALLOWED
    assert webhook.mutate(sent)["response"] == ALLOWED
    assert denied(serve(judge_controlled=True).validate(sent))


def test_an_owner_reference_from_a_user_is_judged(webhook: Running) -> None:
    """Anyone may write an owner reference: alice's GPU Job 'owned' by her own ConfigMap is
    judged like any other, and denied for its GPU request outside limits."""
    obj = job()
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "mine",
            "uid": "0b7a0c2e-1d8f-4f7e-9a59-3c0f5f1a2b3c",
            "controller": True,
        }
    ]
    answer = webhook.validate(review(obj, user="alice"))["response"]
    assert answer["allowed"] is False
    assert "ML101" in answer["status"]["message"]
    assert denied(webhook.validate(review(controlled_pod(), user="alice")))


def test_controller_identities_are_configurable(serve: Callable[..., Running]) -> None:
    running = serve(controller_users=(), controller_groups=("system:serviceaccounts:ops",))
    by_group = review(
        controlled_pod(),
        user="system:serviceaccount:ops:runner",
        groups=("system:serviceaccounts:ops",),
    )
    assert running.validate(by_group)["response"] == ALLOWED
    assert denied(running.validate(review(controlled_pod(), user=JOB_CONTROLLER)))


def test_owner_that_is_not_a_controller_does_not_exempt(webhook: Running) -> None:
    pod = controlled_pod()
    pod["metadata"]["ownerReferences"][0]["controller"] = False
    assert denied(webhook.validate(review(pod)))


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_system_namespaces_are_exempt(webhook: Running, namespace: str) -> None:
    obj = job()
    obj["metadata"]["namespace"] = namespace
    assert webhook.validate(review(obj, namespace=namespace))["response"] == ALLOWED
    assert webhook.mutate(review(obj, namespace=namespace))["response"] == ALLOWED


def test_namespace_from_the_object_when_the_request_has_none(webhook: Running) -> None:
    obj = job()
    obj["metadata"]["namespace"] = "kube-system"
    assert webhook.validate(review(obj, namespace=None))["response"] == ALLOWED


def test_own_namespace_and_configured_exemptions(serve: Callable[..., Running]) -> None:
    running = serve(
        namespace="mllint-system",
        exempt_namespaces=["kube-system", "sandbox-*"],
        exempt_users=["system:serviceaccount:argo:*"],
        exempt_groups=["platform-admins"],
    )
    assert not denied(running.validate(review(job(), namespace="mllint-system")))
    assert not denied(running.validate(review(job(), namespace="sandbox-42")))
    assert denied(running.validate(review(job(), namespace="kube-public")))
    argo = review(job(), user="system:serviceaccount:argo:workflow")
    assert not denied(running.validate(argo))
    admins = review(job(), groups=("system:authenticated", "platform-admins"))
    assert not denied(running.validate(admins))
    assert denied(running.validate(review(job(), user="bob")))


def test_suppression_annotation_with_a_reason(webhook: Running) -> None:
    obj = job()
    obj["metadata"]["annotations"] = {
        "ignore-check.mllint.io/gpu-not-in-limits": "the GPU operator sets limits here",
        "ignore-check.mllint.io/ML201": "restarts are wanted",
    }
    assert not denied(webhook.validate(review(obj)))


def test_suppression_without_a_reason_suppresses_nothing(webhook: Running) -> None:
    obj = job()
    obj["metadata"]["annotations"] = {"ignore-check.mllint.io/gpu-not-in-limits": ""}
    response = webhook.validate(review(obj))["response"]
    assert response["allowed"] is False
    assert any(w.startswith("mllint ML003 at metadata.annotations") for w in response["warnings"])


def test_suppression_can_be_disallowed(serve: Callable[..., Running], tmp_path: Path) -> None:
    config = tmp_path / "mllint.yaml"
    config.write_text("select: [ML101]\nallow-suppression: false\n")
    obj = job()
    obj["metadata"]["annotations"] = {"ignore-check.mllint.io/gpu-not-in-limits": "trust me"}
    assert denied(serve(config=config).validate(review(obj)))


def test_subresources_and_deletions_are_not_judged(webhook: Running) -> None:
    assert webhook.validate(review(job(), subResource="status"))["response"] == ALLOWED
    deleting = job()
    deleting["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    deleting["metadata"]["finalizers"] = []
    update = review(deleting, operation="UPDATE", oldObject=job())
    assert webhook.validate(update)["response"] == ALLOWED


def test_kinds_no_rule_judges_are_allowed(webhook: Running) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    assert webhook.validate(review(config_map))["response"] == ALLOWED
    assert not denied(webhook.validate(review(deployment())))
