"""
## What it does
Flags a pod template that several pods are made from (a Deployment's or StatefulSet's
`replicas`, a Job's `parallelism`, a training job's replica count, a Ray worker group's
`replicas`) and that declares a named ResourceClaim (`resourceClaims[].resourceClaimName`)
rather than a claim template.

Off by default: sharing devices between pods is what a named ResourceClaim is for (a GPU
time-sliced between pods, an IMEX channel, a NIC), and the manifest does not say whether the
pods were meant to share. Turn it on where each replica is meant to get devices of its own.

## Why is this bad?
A ResourceClaim is allocated once, and every pod that names it gets the same devices: the
replicas of a model server run on one GPU instead of one each, and the workers of a training job
all share the devices of the first one scheduled (and must all run on the nodes that can reach
them). A `resourceClaimTemplateName` makes a new ResourceClaim for each pod, deleted with it.

## Example
```yaml
kind: Deployment
spec:
  replicas: 4
  template:
    spec:
      resourceClaims:
        - name: gpu
          resourceClaimName: single-gpu
```
Use instead:
```yaml
      resourceClaims:
        - name: gpu
          resourceClaimTemplateName: single-gpu
```

## Fix safety
No fix: a ResourceClaimTemplate has to be written for the devices the claim asks for.

## References
- [DRA: pods naming one ResourceClaim share its devices; a template makes one claim per pod](https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/#resourceclaims-and-resourceclaimtemplates)
- [NVIDIA DRA driver demos: one claim shared by pods on purpose](https://github.com/NVIDIA/k8s-dra-driver-gpu/tree/main/demo/specs/quickstart)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.traits import ML_PURPOSES, is_placeholder
from mllint.rules.workload import Pod, Scope

_COUNTS = ("replicas", "parallelism")


def pods_made(scope: Scope, pod: Pod) -> int:
    """How many pods the template makes at once: the product of the `replicas` and
    `parallelism` counts written on the objects that hold it (1 when unknown)."""
    total = 1
    tokens = jp.split(pod.pointer)
    for depth in range(len(tokens)):
        try:
            node = jp.resolve(scope.obj, jp.join("", *tokens[:depth]))
        except (KeyError, IndexError, ValueError, TypeError):
            continue
        if not isinstance(node, dict):
            continue
        for key in _COUNTS:
            value = node.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 1:
                total *= value
    return total


def _named(claim: Any) -> Any:
    if not isinstance(claim, dict):
        return None
    source = claim.get("source")  # resource.k8s.io/v1alpha2, Kubernetes 1.26 to 1.30
    return claim.get("resourceClaimName") or (
        source.get("resourceClaimName") if isinstance(source, dict) else None
    )


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        claims = pod.spec.get("resourceClaims")
        if not isinstance(claims, list):
            continue
        count = pods_made(scope, pod)
        if count < 2:
            continue
        for index, claim in enumerate(claims):
            name = _named(claim)
            if not isinstance(name, str) or is_placeholder(name):
                continue
            field = "resourceClaimName" if "resourceClaimName" in claim else "source"
            yield Violation(
                jp.join(pod.pointer, "resourceClaims", str(index), field),
                f"{count} pods are made from this template and all name ResourceClaim "
                f"{name!r}, so they share the same devices: if each pod should have its own, "
                "use resourceClaimTemplateName",
            )


RULE = rule(
    check,
    code="ML104",
    name="dra-claim-shared",
    severity=Severity.INFO,
    summary="One named DRA ResourceClaim shared by all the pods of a replicated template",
    purposes=ML_PURPOSES,
    enabled_by_default=False,
)
