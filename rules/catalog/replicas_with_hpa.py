"""
## What it does
Flags a workload (a Deployment, a StatefulSet, any kind with a replica count) that sets
`spec.replicas` while a HorizontalPodAutoscaler among the objects linted together scales it.
A whole-set rule: the linter checks it across the files of a run; the admission webhook does
not.

## What it judges and leaves alone
It judges ML workloads; an exporter or web front end is left alone. Objects are paired only
within related sets (docs/operators.md, "Whole-set rules"): a Deployment and an autoscaler in
sibling directories are not the same deployment.

## Why is this bad?
Once an HPA manages a workload, the replica count is the HPA's to set. A manifest that still
carries `replicas` resets it on every `kubectl apply` or GitOps sync: a model server scaled out
to 12 replicas for the afternoon peak drops to the manifest's 2 in the middle of it, and the
HPA needs minutes of failing requests to scale back up, each new pod loading its model again.

## Example
```yaml
kind: Deployment
metadata: {name: embedder}
spec:
  replicas: 2          # reset on every apply
---
kind: HorizontalPodAutoscaler
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: embedder}
```
Use instead:
```yaml
kind: Deployment
metadata: {name: embedder}
spec: {}               # the HPA sets the replica count
```

## Fix safety
Safe: removes `spec.replicas`, as the Kubernetes documentation advises for workloads under an
HPA. The running replica count is left to the HPA, whose `minReplicas` is the floor.

## References
- [Horizontal Pod Autoscaling: migrating Deployments and StatefulSets to horizontal autoscaling](https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules.model import Fix, Safety, Severity
from mllint.rules.setrules import SetIndex, SetViolation, set_rule


def check(index: SetIndex[Any], options: Any) -> Iterator[SetViolation[Any]]:
    for workload in index.workloads:
        if workload.replicas_at is None or workload.replicas is None or not workload.ml:
            continue
        scalers = index.autoscalers_of(workload)
        if not scalers:
            continue
        yield SetViolation(
            workload.entry,
            workload.replicas_at,
            f"{workload.entry.kind} sets replicas: {workload.replicas} while "
            f"HorizontalPodAutoscaler {scalers[0].entry.name!r} scales it, so every apply "
            "resets the autoscaled count: remove replicas",
            Fix.safe(patch.remove(workload.replicas_at)),
        )


RULE = set_rule(
    check,
    code="ML802",
    name="replicas-with-hpa",
    severity=Severity.WARNING,
    summary="Workload sets replicas while an HPA scales it",
    fix=Safety.SAFE,
)
