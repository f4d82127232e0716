"""ML710 walks each object for metadata that names a Kueue queue, skipping fields that hold no
object metadata (selectors, scheduling constraints, containers): every place the rule documents
is still reached, beside those fields and below them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mllint.rules import Config, Engine

KEY = "kueue.x-k8s.io/queue-name"
ENGINE = Engine(Config(select=("ML710",)))


def pod_template() -> dict[str, Any]:
    """A GPU training pod template with every field the walk skips set beside its metadata."""
    return {
        "metadata": {"labels": {"app": "train"}},
        "spec": {
            "restartPolicy": "Never",
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            "nodeSelector": {"gpu": "a100"},
            "securityContext": {"runAsNonRoot": True},
            "topologySpreadConstraints": [{"maxSkew": 1, "labelSelector": {}}],
            "containers": [
                {
                    "name": "trainer",
                    "image": "ghcr.io/example/finetune:0.4.2",
                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                }
            ],
        },
    }


def job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"selector": {"matchLabels": {"app": "train"}}, "template": pod_template()},
    }


def jobset() -> dict[str, Any]:
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": "train"},
        "spec": {
            "replicatedJobs": [
                {"name": "workers", "template": {"metadata": {}, "spec": job()["spec"]}}
            ]
        },
    }


def rayjob() -> dict[str, Any]:
    head = pod_template()
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "embed"},
        "spec": {
            "entrypoint": "python embed.py",
            "rayClusterSpec": {
                "headGroupSpec": {"rayStartParams": {}, "template": head},
                "workerGroupSpecs": [
                    {"groupName": "gpu", "rayStartParams": {}, "template": pod_template()}
                ],
            },
        },
    }


def pytorchjob() -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "resnet"},
        "spec": {"pytorchReplicaSpecs": {"Worker": {"replicas": 2, "template": pod_template()}}},
    }


def leaderworkerset() -> dict[str, Any]:
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "serve"},
        "spec": {
            "leaderWorkerTemplate": {
                "size": 2,
                "leaderTemplate": pod_template(),
                "workerTemplate": pod_template(),
            }
        },
    }


def cronjob() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"metadata": {}, "spec": job()["spec"]},
        },
    }


def statefulset() -> dict[str, Any]:
    template = pod_template()
    template["spec"]["restartPolicy"] = "Always"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "serve"},
        "spec": {
            "selector": {"matchLabels": {"app": "train"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": template,
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
        },
    }


PLACES = {
    "Job pod template label": (job, "/spec/template/metadata", "labels"),
    "Job annotation": (job, "/metadata", "annotations"),
    "JobSet Job template label": (jobset, "/spec/replicatedJobs/0/template/metadata", "labels"),
    "JobSet pod template label": (
        jobset,
        "/spec/replicatedJobs/0/template/spec/template/metadata",
        "labels",
    ),
    "RayJob head label": (rayjob, "/spec/rayClusterSpec/headGroupSpec/template/metadata", "labels"),
    "RayJob worker group label": (
        rayjob,
        "/spec/rayClusterSpec/workerGroupSpecs/0/template/metadata",
        "labels",
    ),
    "PyTorchJob replica label": (
        pytorchjob,
        "/spec/pytorchReplicaSpecs/Worker/template/metadata",
        "labels",
    ),
    "LeaderWorkerSet worker label": (
        leaderworkerset,
        "/spec/leaderWorkerTemplate/workerTemplate/metadata",
        "labels",
    ),
    "CronJob label on itself": (cronjob, "/metadata", "labels"),
    "CronJob pod template label": (cronjob, "/spec/jobTemplate/spec/template/metadata", "labels"),
    "StatefulSet template annotation": (statefulset, "/spec/template/metadata", "annotations"),
    "StatefulSet claim template annotation": (
        statefulset,
        "/spec/volumeClaimTemplates/0/metadata",
        "annotations",
    ),
}


def _at(obj: dict[str, Any], pointer: str) -> dict[str, Any]:
    node = obj
    for token in pointer.strip("/").split("/"):
        node = node[int(token)] if isinstance(node, list) else node.setdefault(token, {})
    return node


@pytest.mark.parametrize("place", PLACES)
def test_the_queue_name_is_found_in_every_documented_place(place: str) -> None:
    make, metadata, field = PLACES[place]
    obj = make()
    _at(obj, metadata).setdefault(field, {})[KEY] = "team-a"
    before = copy.deepcopy(obj)
    findings = ENGINE.evaluate(obj)
    assert [f.pointer for f in findings] == [f"{metadata}/{field}/{KEY.replace('/', '~1')}"]
    assert obj == before
