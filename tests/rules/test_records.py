"""Records as worker processes send them: pickled and rebuilt without `__init__`, equal to what
was sent, of the same class, and still frozen where they were."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from mllint.rules import Engine
from mllint.rules.model import Finding, Frozen, Record, _rebuild

GPU_JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [
                    {
                        "name": "trainer",
                        "image": "pytorch/pytorch:latest",
                        "command": ["torchrun", "train.py"],
                        "resources": {"requests": {"nvidia.com/gpu": 1}},
                    }
                ],
            }
        }
    },
}

SERVER: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "llm", "namespace": "ml"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "llm"}},
        "template": {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {
                "containers": [
                    {
                        "name": "vllm",
                        "image": "vllm/vllm-openai:v0.6.3",
                        "resources": {"limits": {"nvidia.com/gpu": 1}},
                    }
                ]
            },
        },
    },
}
AUTOSCALER: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "llm", "namespace": "ml"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
        "minReplicas": 1,
        "maxReplicas": 4,
    },
}
BUDGET: dict[str, Any] = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "llm", "namespace": "ml"},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "llm"}}},
}


def _records(value: Any) -> list[Record]:
    """The records in a value, at any depth."""
    if isinstance(value, Record):
        return [value, *(r for name in value._fields for r in _records(getattr(value, name)))]
    if isinstance(value, dict):
        return [r for item in value.items() for r in _records(item)]
    if isinstance(value, list | tuple | set | frozenset):
        return [r for item in value for r in _records(item)]
    return []


def test_findings_and_summaries_come_back_equal_of_their_class_and_frozen() -> None:
    engine = Engine()
    findings = engine.evaluate(GPU_JOB)
    collector = engine.collector()
    for index, obj in enumerate((GPU_JOB, SERVER, AUTOSCALER, BUDGET)):
        collector.add(obj, ("objects.yaml", index), "set")
    sent = (findings, collector.sets)
    records = _records(sent)
    assert any(isinstance(r, Finding) and r.fix is not None for r in records)
    # Findings, fixes and the set summaries' records: entries, workloads, their pods' labels,
    # autoscalers, budgets and their selectors.
    assert len({type(r) for r in records}) >= 8
    back = pickle.loads(pickle.dumps(sent, pickle.HIGHEST_PROTOCOL))
    assert back == sent
    for before, after in zip(records, _records(back), strict=True):
        assert type(after) is type(before)
        assert after._values() == before._values()
        if isinstance(after, Frozen):
            with pytest.raises(AttributeError):
                setattr(after, after._fields[0], None)


def test_a_record_is_not_rebuilt_from_the_wrong_number_of_values() -> None:
    finding = Engine().evaluate(GPU_JOB)[0]
    values = finding._values()
    assert _rebuild(Finding, values) == finding
    for wrong in (values[:-1], (*values, None)):
        with pytest.raises(ValueError, match="fields"):
            _rebuild(Finding, wrong)
