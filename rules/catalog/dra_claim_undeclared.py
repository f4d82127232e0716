"""
## What it does
Flags a container that names a Dynamic Resource Allocation claim in `resources.claims[].name`
that its pod does not declare in `spec.resourceClaims` (nor, for an Argo workflow's pods, in
the workflow's `spec.resourceClaims`). Names that are still placeholders (`${CLAIM}`,
`{{ ... }}`) are not judged.

## Why is this bad?
`resources.claims` only picks, by name, one of the claims the pod declares; the declaration
in `spec.resourceClaims` says which ResourceClaim or ResourceClaimTemplate gives the devices.
The API server refuses a pod (and a Deployment, Job or other template) whose container names a
claim the pod does not declare, so the workload is never created, or, inside an operator's
object, its pods are never created and the operator reports the error in its own status while
the training job or model server waits.

## Example
```yaml
spec:
  containers:
    - name: trainer
      resources:
        claims:
          - name: gpus        # no pod claim named gpus
  resourceClaims:
    - name: gpu
      resourceClaimTemplateName: single-gpu
```
Use instead:
```yaml
        claims:
          - name: gpu
```

## Fix safety
No fix: whether the container's name or the pod's declaration is wrong is for the author to
say.

## References
- [Kubernetes API: `ResourceClaim.name` must match the name of one entry in `pod.spec.resourceClaims`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources)
- [Dynamic Resource Allocation: claims in a pod](https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/)
- [Argo Workflows: workflow and template `resourceClaims`](https://argo-workflows.readthedocs.io/en/latest/fields/)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.traits import ML_PURPOSES, is_placeholder
from mllint.rules.workload import Pod, Scope


def declared_claims(spec: Any) -> set[str]:
    """The names a pod-spec-like object declares in `resourceClaims`."""
    # A pod spec is a dict, which `dict` tells at once (the abstract Mapping costs more).
    claims = spec.get("resourceClaims") if isinstance(spec, (dict, Mapping)) else None
    return {
        str(c["name"]) for c in claims or () if isinstance(c, dict) and c.get("name") is not None
    }


def _declared(scope: Scope, pod: Pod) -> set[str]:
    names = declared_claims(pod.spec)
    for source in pod.template.inherit:
        for _, node in jp.expand(scope.obj, source):
            names |= declared_claims(node)
    return names


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        declared: set[str] | None = None  # read once a container names a claim (few do)
        for c in pod.containers:
            resources = c.spec.get("resources")
            claims = resources.get("claims") if isinstance(resources, dict) else None
            for index, claim in enumerate(claims if isinstance(claims, list) else ()):
                name = claim.get("name") if isinstance(claim, dict) else None
                if not isinstance(name, str):
                    continue
                if declared is None:
                    declared = _declared(scope, pod)
                if name in declared or is_placeholder(name):
                    continue
                known = ", ".join(sorted(declared)) or "none"
                yield Violation(
                    jp.join(c.pointer, "resources", "claims", str(index), "name"),
                    f"container {c.name!r} uses claim {name!r}, which the pod does not declare "
                    f"in spec.resourceClaims (it declares: {known}), so the API server refuses "
                    "the pod: name one of the pod's claims, or declare it",
                )


RULE = rule(
    check,
    code="ML103",
    name="dra-claim-undeclared",
    severity=Severity.ERROR,
    summary="Container uses a DRA claim its pod does not declare",
    purposes=ML_PURPOSES,
)
