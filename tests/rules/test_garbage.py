"""Judging an object leaves nothing for the cyclic garbage collector: the records of an object
(its subject, pods, containers, traits and scopes) and the manifest they read are freed by
reference counting as soon as the last of them is let go, so a server judging request after
request, or a run over many files, pays no collections for them. A pod reaches its subject, and
a container its pod, through a weak reference, which they keep for as long as the subject is
held."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mllint.rules import Engine, parse_config
from mllint.rules.workload import Container, Pod

ROOT = Path(__file__).parents[2]
FILES = sorted(
    [*(ROOT / "examples").glob("*/*.yaml"), *(ROOT / "tests/rules/kinds").glob("*/*.yaml")]
)

TEAM = parse_config(
    {
        "select": ["ALL"],
        "custom-rules": [
            {
                "name": "object-team-label",
                "code": "X101",
                "summary": "s",
                "condition": "!has(object.metadata.labels)",
                "message": "object.kind + ' ' + workload.kind",
            },
            {
                "name": "pod-team-label",
                "code": "X102",
                "summary": "s",
                "scope": "pod",
                "condition": "workload.ml && !has(pod.metadata.labels)",
                "message": "workload.purpose",
            },
            {
                "name": "container-image-pinned",
                "code": "X103",
                "summary": "s",
                "scope": "container",
                "condition": "!container.image.contains('@')",
                "message": "container.name + ' ' + workload.device",
            },
        ],
    },
    "team.yaml",
)


def objects() -> Iterator[dict[str, Any]]:
    for path in FILES:
        for obj in yaml.safe_load_all(path.read_text()):
            if isinstance(obj, dict):
                yield obj


def cyclic_garbage(run: Callable[[], object]) -> int:
    """How many objects the cycle collector finds unreachable after `run`, run with it off."""
    run()  # once first: what is made once (caches, compiled patterns) is not garbage
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


def test_the_examples_cover_the_kinds_with_pods_of_several_kinds() -> None:
    kinds = {obj.get("kind") for obj in objects()}
    assert {"Deployment", "Job", "CronJob", "PyTorchJob", "MPIJob", "RayCluster"} <= kinds
    assert {"Workflow", "TrainJob", "Experiment", "InferenceService"} <= kinds


@pytest.mark.parametrize(
    "config",
    [None, parse_config({"select": ["ALL"]}, "all.yaml"), TEAM],
    ids=["default", "all", "team"],
)
@pytest.mark.parametrize("fragment", [False, True], ids=["whole", "fragment"])
def test_evaluating_objects_leaves_no_cyclic_garbage(config: Any, fragment: bool) -> None:
    engine = Engine(config)
    found: list[int] = []

    def run() -> None:
        for obj in objects():
            found.append(len(engine.evaluate(obj, fragment=fragment)))

    assert cyclic_garbage(run) == 0
    assert sum(found) > 0  # the objects were judged, and found wanting


def test_the_whole_set_summaries_leave_no_cyclic_garbage() -> None:
    engine = Engine(parse_config({"select": ["ALL"]}, "all.yaml"))

    def run() -> None:
        collector = engine.collector()
        for i, obj in enumerate(objects()):
            subject = engine.subject(obj)
            collector.add(obj, i, subject=subject)
            engine.judge(subject)
        list(collector.findings())

    assert cyclic_garbage(run) == 0


JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train"},
    "spec": {"template": {"spec": {"containers": [{"name": "train", "image": "pytorch/pytorch"}]}}},
}


def test_pods_and_containers_reach_their_subject_while_it_is_held() -> None:
    subject = Engine().subject(JOB)
    pod = subject.pods[0]
    container = pod.containers[0]
    assert pod.subject is subject
    assert container.pod is pod
    assert container.has("image")
    assert pod.traits.purpose.value == "batch"


def test_a_pod_or_container_read_after_its_subject_is_let_go_says_so() -> None:
    pods = Engine().subject(JOB).pods  # the subject itself is let go here
    pod: Pod = pods[0]
    container: Container = pod.containers[0]
    assert container.pod is pod
    # What its traits need of the object, a pod holds itself.
    assert (pod.kind, pod.traits.purpose.value, pod.traits.restart_policy) == (
        "Job",
        "batch",
        "Always",
    )
    with pytest.raises(ReferenceError, match="subject of this pod is no longer held"):
        pod.subject  # noqa: B018
    del pods, pod
    with pytest.raises(ReferenceError, match="pod of this container is no longer held"):
        container.pod  # noqa: B018
    # What a container reads of its own (its spec, what its platform provides) it still has.
    assert container.has("image")
    assert container.probe("livenessProbe") == (None, "")
