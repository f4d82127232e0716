"""
## What it does
Flags a serving workload with two or more replicas, or scaled by a HorizontalPodAutoscaler,
when no PodDisruptionBudget in its namespace among the objects linted together selects its
pods. A whole-set rule: the linter checks it across the files of a run; the admission webhook
does not.

## What it judges and leaves alone
It judges model servers (`traits.Purpose`), whose replacements must load a model again;
databases, web front ends and exporters are left alone. Autoscalers are paired with workloads
in related sets only (docs/operators.md, "Whole-set rules"); templated names are not names yet.

## Why is this bad?
Node drains (upgrades, the cluster autoscaler removing a node, spot reclaim handling) evict
pods through the eviction API, which only holds back for a PodDisruptionBudget. Without one, a
drain may evict every replica of a model server at once; each replacement then waits for a
node and loads its model again, which for GPU servers takes minutes of failed requests. A PDB
with `maxUnavailable: 1` makes drains go one replica at a time.

## Example
```yaml
kind: Deployment
metadata: {name: reranker}
spec:
  replicas: 3
  template:
    metadata:
      labels: {app: reranker}
```
Add:
```yaml
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: reranker}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: reranker}
```

## Fix safety
No fix: a fix cannot add an object.

## References
- [Disruptions: pod disruption budgets](https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-budgets)
- [Specifying a disruption budget for your application](https://kubernetes.io/docs/tasks/run-application/configure-pdb/)
- [Safely drain a node: the eviction API respects PodDisruptionBudgets](https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Role, Severity
from mllint.rules.setrules import SetIndex, SetViolation, same_namespace, set_rule


def check(index: SetIndex[Any], options: Any) -> Iterator[SetViolation[Any]]:
    for workload in index.workloads:
        if workload.role is not Role.SERVING or workload.replicas_at is None:
            continue
        if not workload.model_server:
            continue  # a PDB keeps model servers up through drains; others are not judged
        if not workload.pods:
            continue
        replicas = workload.replicas if workload.replicas is not None else 1
        scalers = index.autoscalers_of(workload)
        if not scalers and not (isinstance(replicas, int) and replicas >= 2):
            continue
        e = workload.entry
        budgets = [b for b in index.budgets if same_namespace(b.entry.namespace, e.namespace)]
        if all(any(b.selector.matches(p.labels) for b in budgets) for p in workload.pods):
            continue
        why = f"{replicas} replicas" if not scalers else "replicas set by an autoscaler"
        yield SetViolation(
            e,
            workload.replicas_at if workload.replicas is not None else "/spec",
            f"{e.kind} {e.name!r} runs {why} but no PodDisruptionBudget selects its pods, so "
            "a node drain may evict them all at once: add a PodDisruptionBudget",
        )


RULE = set_rule(
    check,
    code="ML804",
    name="pdb-missing",
    severity=Severity.INFO,
    summary="Replicated serving workload without a PodDisruptionBudget",
)
