"""The workload model against the shared corpus of real manifests (../shared/corpus).

For every document of a kind the engine knows: every container in it (found by a walk that
knows no kind: a mapping with an `image` in a `containers` or `initContainers` list) is
reached, so a document holding containers yields pods; every rule runs without error, every
fix applies and leaves nothing to fix; and the whole-set rules run over each repository.
Documents of a known kind with no container at all (an Argo workflow that only references
templates, a Seldon graph of prepackaged servers, a TrainJob) are allowed no pods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import corpus as shared
import pytest

from mllint.rules import Config, Engine, fix_ops, patch
from mllint.rules import pointer as jp

pytestmark = pytest.mark.skipif(not shared.CORPUS.is_dir(), reason=shared.ABSENT)

ENGINE = Engine(Config(extend_select=("ALL",)))


def container_pointers(node: Any, at: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            child = jp.join(at, str(key))
            if key in ("containers", "initContainers") and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and "image" in item:
                        yield f"{child}/{i}"
            yield from container_pointers(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from container_pointers(item, f"{at}/{i}")


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, int, Any]]:
    return list(shared.documents())


def test_every_container_of_a_known_kind_is_reached(documents: list[tuple[str, int, Any]]) -> None:
    known = 0
    unreached: list[str] = []
    podless: list[str] = []
    for name, index, obj in documents:
        subject = ENGINE.subject(obj)
        if subject.workload is None:
            continue
        known += 1
        present = set(container_pointers(obj))
        reached = {c.pointer for c in subject.containers}
        unreached += [f"{name}#{index} {subject.kind} {p}" for p in sorted(present - reached)]
        if present and not subject.pods:
            podless.append(f"{name}#{index} {subject.kind}")
    assert known > 1000, "the corpus should hold the operator kinds' examples"
    assert unreached == []
    assert podless == []


def test_rules_and_fixes_run_on_every_document(documents: list[tuple[str, int, Any]]) -> None:
    kinds = set()
    for name, index, obj in documents:
        findings = ENGINE.evaluate(obj)
        ops = fix_ops(obj, findings, unsafe=True)
        fixed = patch.apply(obj, ops)
        again = ENGINE.evaluate(fixed)
        assert fix_ops(fixed, again, unsafe=True) == [], f"{name}#{index}: fixes are not final"
        if findings and ENGINE.subject(obj).workload is not None:
            kinds.add(ENGINE.subject(obj).workload.key)
    assert {"kubeflow.org/PyTorchJob", "ray.io/RayJob", "argoproj.io/Workflow"} <= kinds


def test_set_rules_run_over_each_repository(documents: list[tuple[str, int, Any]]) -> None:
    collectors = {}
    for name, index, obj in documents:
        repository = name.split("/", 1)[0]
        collectors.setdefault(repository, ENGINE.collector()).add(obj, (name, index))
    by_name = {(name, index): obj for name, index, obj in documents}
    codes = set()
    for collector in collectors.values():
        for ref, finding in collector.findings():
            obj = by_name[ref]
            assert jp.exists(obj, finding.pointer), (ref, finding)
            if finding.fix is not None:
                patch.apply(obj, fix_ops(obj, [finding]))
            codes.add(finding.code)
    assert {"ML802", "ML804"} <= codes
