"""
## What it does
Flags a HorizontalPodAutoscaler that states no scaling metric: an `autoscaling/v2` (or
`v2beta2`, `v2beta1`) autoscaler with no or empty `metrics`, or an `autoscaling/v1` one
without `targetCPUUtilizationPercentage`.

## What it judges and leaves alone
An `autoscaling/v1` object that carries its metrics in the
`autoscaling.alpha.kubernetes.io/metrics` annotation (how the API server returns a v2 metric
through v1) is left alone: it does state a metric.

## Why is this bad?
Without a metric the autoscaler falls back to an implicit target of 80% average CPU
utilization, a choice nobody made and that nothing in the manifest shows. For a model server
CPU is often not what saturates first (the GPU or the request queue is), so the implicit
target may never trigger a scale-out; for others 80% is too late to absorb a burst while new
pods load their model. Stating the metric makes the scaling signal reviewable, and is the
place to move to a better one (GPU utilization or queue length, through a custom or external
metric). CPU utilization is measured against the containers' CPU requests, which must be set.

## Example
```yaml
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
spec:                      # no metrics: implicit 80% CPU
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-server}
  minReplicas: 2
  maxReplicas: 8
```
Use instead:
```yaml
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
```

## Fix safety
Safe: adds an explicit CPU utilization target of `cpu-utilization` percent (70 by default),
in the shape of the autoscaler's API version (`targetCPUUtilizationPercentage` for `v1`,
`targetAverageUtilization` for `v2beta1`, a `target` for `v2` and `v2beta2`). It scales on the
same signal as before, a little earlier than the implicit 80%; set the option to 80 to keep
the old behaviour exactly.

## References
- [HPA v2 API: without metrics, the default is 80% average CPU utilization](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/#HorizontalPodAutoscalerSpec)
- [HorizontalPodAutoscaler v1 API: `targetCPUUtilizationPercentage`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v1/#HorizontalPodAutoscalerSpec)
- [HPA: utilization is relative to requests; custom and external metrics](https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#how-does-a-horizontalpodautoscaler-work)
- [Deprecated API migration guide: `autoscaling/v2beta1` and `v2beta2` removed in 1.25 and 1.26](https://kubernetes.io/docs/reference/using-api/deprecation-guide/#horizontalpodautoscaler-v126)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, Violation, option, rule
from mllint.rules.resources import fields
from mllint.rules.workload import Scope, group_of

GROUP = "autoscaling"
ALPHA_METRICS = "autoscaling.alpha.kubernetes.io/metrics"


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    cpu_utilization: int = option(
        70, "The CPU utilization target (percent) the fix sets.", gt=0, le=100
    )


def cpu_target(version: str, percent: int) -> tuple[str, Any] | None:
    """(field under spec, value) stating a CPU utilization target in an HPA API version."""
    if version == "v1":
        return "targetCPUUtilizationPercentage", percent
    if version == "v2beta1":
        resource: dict[str, Any] = {"name": "cpu", "targetAverageUtilization": percent}
    elif version in ("v2", "v2beta2"):
        target = {"type": "Utilization", "averageUtilization": percent}
        resource = {"name": "cpu", "target": target}
    else:
        return None
    return "metrics", [{"type": "Resource", "resource": resource}]


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    api_version = str(scope.obj.get("apiVersion", ""))
    if group_of(api_version) != GROUP:
        return
    version = api_version.rpartition("/")[2]
    wanted = cpu_target(version, options.cpu_utilization)
    if wanted is None:
        return
    name, value = wanted
    annotations = scope.subject.metadata.get("annotations")
    if isinstance(annotations, dict) and ALPHA_METRICS in annotations:
        return  # a v1 autoscaler whose metrics are in the annotation the API server keeps them in
    for field in fields(scope.obj, f"/spec/{name}"):
        if field.present and field.value not in (None, []):
            continue
        fix = Fix.safe(patch.set_value(field.at, value))
        where = field.at if field.present else field.owner
        yield Violation(
            where,
            f"autoscaler states no {name}, so it scales on an implicit 80% CPU target: "
            f"state the metric to scale on (e.g. CPU at {options.cpu_utilization}%)",
            fix,
        )


RULE = rule(
    check,
    code="ML501",
    name="hpa-metrics-missing",
    severity=Severity.WARNING,
    summary="HorizontalPodAutoscaler without an explicit scaling metric",
    kinds={"HorizontalPodAutoscaler"},
    options=Options,
    fix=Safety.SAFE,
)
