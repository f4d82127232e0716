"""
## What it does
Flags a pod that asks for GPUs without naming the Kueue queue its team was given.

## Why is this bad?
The shared cluster admits GPU pods through the teams' queues; a pod outside a queue waits
forever.

## Fix safety
No fix: only the team knows its queue.
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Severity, Violation, rule
from mllint.rules.workload import Scope

QUEUE = "kueue.x-k8s.io/queue-name"


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    labels = scope.subject.metadata.get("labels")
    if isinstance(labels, dict) and QUEUE in labels:
        return
    for pod in scope.pods:
        if pod.traits.uses_accelerators:
            yield Violation(
                pod.pointer,
                f"{scope.subject.kind} pod asks for {pod.traits.device}s outside a Kueue queue: "
                f"label the object {QUEUE}: <your team's queue>",
            )


RULE = rule(
    check,
    code="X201",
    name="gpu-pod-queue-missing",
    severity=Severity.WARNING,
    summary="GPU pod outside the team's Kueue queue",
    workloads_only=True,
)
