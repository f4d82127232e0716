"""The pods of a view (`Subject.pods_in`): those of the roles, purposes and templates asked for,
or the subject's own list when that is every pod; the same for an object of one pod (read
without building lists) as for one of several."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mllint.rules import Engine
from mllint.rules.model import Role
from mllint.rules.traits import Purpose
from mllint.rules.workload import Pod, Subject

ENGINE = Engine()


def _pod(name: str, image: str, **spec: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": name, "image": image}], **spec}}


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm"},
        "spec": {"template": _pod("vllm", "vllm/vllm-openai:v0.6.3")},
    }


def _tf_job() -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": "train"},
        "spec": {
            "tfReplicaSpecs": {
                "Chief": {"template": _pod("tensorflow", "tensorflow/tensorflow:2.16.1-gpu")},
                "Worker": {"template": _pod("tensorflow", "tensorflow/tensorflow:2.16.1-gpu")},
                # Runs only a helper: not ML, so a view of batch runs leaves it out.
                "Evaluator": {"template": _pod("check", "busybox:1.36", restartPolicy="Never")},
            }
        },
    }


def _trainjob() -> dict[str, Any]:
    # A TrainJob's templates are partial: they override its runtime's pods.
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "tune"},
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {"image": "pytorch/pytorch:2.4.1", "command": ["torchrun", "train.py"]},
        },
    }


ROLES = [frozenset(), frozenset({Role.SERVING}), frozenset({Role.BATCH})]
PURPOSES = [frozenset(), frozenset({Purpose.MODEL_SERVER}), frozenset({Purpose.BATCH})]


def _expected(subject: Subject, roles: Any, purposes: Any, partial: bool) -> list[Pod]:
    return [
        p
        for p in subject.pods
        if (partial or not p.template.partial)
        and (not roles or p.role in roles)
        and (not purposes or p.traits.purpose in purposes)
    ]


@pytest.mark.parametrize("make", [_deployment, _tf_job, _trainjob])
def test_a_view_keeps_the_pods_of_its_roles_purposes_and_templates(make: Any) -> None:
    subject = ENGINE.subject(make())
    assert subject.pods
    for roles, purposes, partial in itertools.product(ROLES, PURPOSES, (True, False)):
        pods = subject.pods_in(roles, purposes, partial)
        expected = _expected(subject, roles, purposes, partial)
        assert pods == expected, (roles, purposes, partial)
        # Every pod: the subject's own list, which the engine's shared scope tells by identity.
        assert (pods is subject.pods) == (len(expected) == len(subject.pods))


def test_both_sides_of_a_view_of_one_pod() -> None:
    subject = ENGINE.subject(_deployment())
    (pod,) = subject.pods
    assert pod.traits.purpose is Purpose.MODEL_SERVER
    kept = subject.pods_in(frozenset({Role.SERVING}), frozenset({Purpose.MODEL_SERVER}), False)
    assert kept is subject.pods
    assert subject.pods_in(frozenset({Role.BATCH}), frozenset(), True) == []
    assert subject.pods_in(frozenset(), frozenset({Purpose.BATCH}), True) == []
