"""
## What it does
Flags a container that requests a GPU (`nvidia.com/gpu`, `amd.com/gpu`, `gpu.intel.com/*`, a
MIG slice, any vendor's `*/gpu`) in `resources.requests` without the same value in
`resources.limits`.

## Why is this bad?
GPUs are extended resources, which Kubernetes does not overcommit: a GPU must be given in
`limits`, and when both are given they must be equal. A request without a limit is rejected by
the API server (`Limit must be set for non overcommitable resources`), so the training Job or
model server never starts; a request that differs from its limit is rejected the same way.

## Example
```yaml
resources:
  requests:
    nvidia.com/gpu: 1   # no limit: the API server rejects the pod
```
Use instead:
```yaml
resources:
  limits:
    nvidia.com/gpu: 1
```

## Fix safety
Safe: sets `limits` to the requested value, which is what the scheduler already reserves.

## References
- [Schedule GPUs: "GPUs are only supposed to be specified in the limits section"](https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/)
- [Extended resources cannot be overcommitted](https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#extended-resources)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.resources import section
from mllint.rules.traits import is_accelerator
from mllint.rules.workload import Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for c in scope.containers:
        requests, limits = section(c.spec, "requests"), section(c.spec, "limits")
        for resource, amount in requests.items():
            if not is_accelerator(resource):
                continue
            if resource in limits and limits[resource] == amount:
                continue
            at = jp.join(c.pointer, "resources", "requests", resource)
            limit_at = jp.join(c.pointer, "resources", "limits", resource)
            problem = "with a different limit" if resource in limits else "with no limit"
            yield Violation(
                at,
                f"container {c.name!r} requests {amount} {resource} {problem}; GPUs are "
                f"scheduled from limits: set limits.{resource} to {amount}",
                Fix.safe(patch.set_value(limit_at, amount)),
            )


RULE = rule(
    check,
    code="ML101",
    name="gpu-not-in-limits",
    severity=Severity.ERROR,
    summary="GPU requested outside resources.limits",
    workloads_only=True,
    fragments=True,
    fix=Safety.SAFE,
)
