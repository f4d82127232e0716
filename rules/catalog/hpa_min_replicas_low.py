"""
## What it does
Flags a HorizontalPodAutoscaler whose `minReplicas` is missing (it defaults to 1) or below
the `minimum` option (2 by default).

## What it judges and leaves alone
It judges an autoscaler together with the workload it scales, among the files of the run
(the same sets as the other whole-set rules, docs/operators.md): only autoscalers of model
servers, whose new pods must load a model, are flagged. An autoscaler whose target is not in
the set, or is a web front end or exporter, is left alone; the admission webhook, which sees one
object at a time, does not run this rule.

## Why is this bad?
At one replica the model server behind the autoscaler is a single point of failure. Every
voluntary disruption (a node drain for an upgrade, a cluster autoscaler scale-down, a
rollout) and every crash takes the service down until a new pod has been scheduled, has
pulled its image and has loaded its model onto a GPU, which for a large model takes minutes.
With a PodDisruptionBudget that requires one pod to stay up, a single replica instead blocks
node drains. Two replicas on different nodes let one pod go while the other serves.

## Example
```yaml
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
spec:
  minReplicas: 1     # scales down to a single model server
  maxReplicas: 4
```
Use instead:
```yaml
  minReplicas: 2
```

## Fix safety
Safe: sets `minReplicas` to `minimum`, only when `maxReplicas` allows it. The service keeps at
least that many replicas, which costs their GPUs while traffic is low.

## References
- [HorizontalPodAutoscaler v2 API: `minReplicas` defaults to 1](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/#HorizontalPodAutoscalerSpec)
- [Disruptions: node drains and other voluntary disruptions; replicas keep a service up](https://kubernetes.io/docs/concepts/workloads/pods/disruptions/)
- [Disruption budgets for a single-instance application](https://kubernetes.io/docs/tasks/run-application/configure-pdb/#think-about-how-your-application-reacts-to-disruptions)
"""

from collections.abc import Iterator
from typing import Any, TypeGuard

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, option
from mllint.rules.setrules import SetIndex, SetViolation, set_rule

AT = "/spec/minReplicas"


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    minimum: int = option(2, "The fewest replicas the autoscaler may keep.", ge=1)


def check(index: SetIndex[Any], options: Options) -> Iterator[SetViolation[Any]]:
    for hpa in index.autoscalers:
        if hpa.entry.api_version.rpartition("/")[0] != "autoscaling":
            continue
        if not any(w.model_server for w in index.targets_of(hpa)):
            continue  # it scales no model server of the set: nothing loads a model
        current = hpa.min_replicas
        if current is not None and (not _is_count(current) or current >= options.minimum):
            continue
        fix = None
        if _is_count(hpa.max_replicas) and hpa.max_replicas >= options.minimum:
            fix = Fix.safe(patch.set_value(AT, options.minimum))
        stated = f"minReplicas is {current}" if current is not None else "minReplicas defaults to 1"
        yield SetViolation(
            hpa.entry,
            AT if current is not None else jp.parent(AT),
            f"autoscaler {stated}, so one disruption takes model server {hpa.kind} "
            f"{hpa.name!r} down while a new pod loads its model: set minReplicas to at least "
            f"{options.minimum}",
            fix,
        )


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


RULE = set_rule(
    check,
    code="ML502",
    name="hpa-min-replicas-low",
    severity=Severity.WARNING,
    summary="HorizontalPodAutoscaler may scale a model server down to one replica",
    options=Options,
    fix=Safety.SAFE,
)
