"""
## What it does
Flags a HorizontalPodAutoscaler whose `scaleTargetRef` names no object of that kind and name
in its namespace among the objects linted together. A whole-set rule: the linter checks it
across all the files of a run; the admission webhook, which sees one object, does not. It
stays silent when the run holds no scalable workload at all (an HPA linted alone).

Off by default: a linted set is often part of what deploys together (a script or a template
makes the target, as in an example whose `run.sh` renders the Deployment), and the rule cannot
tell that from a rename; every such finding in the answer key was of that kind. Turn it on where
one folder holds everything that deploys together.

## Why is this bad?
An HPA whose target does not exist scales nothing and says so only in its status
(`FailedGetScale`): the usual cause is a Deployment renamed in one file and not in the other,
or a kind typed differently (`StatefulSet` for a `Deployment`). The model server then runs
with its fixed replica count, and the first traffic peak finds it unscaled.

## Example
```yaml
kind: Deployment
metadata: {name: llm-server-v2}
---
kind: HorizontalPodAutoscaler
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: llm-server        # renamed to llm-server-v2
```
Use instead:
```yaml
    name: llm-server-v2
```

## Fix safety
No fix: which object was meant is for the author to say.

## References
- [Horizontal Pod Autoscaling: how the HPA finds its target's scale subresource](https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#how-does-a-horizontalpodautoscaler-work)
- [HorizontalPodAutoscaler API: `scaleTargetRef`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/#HorizontalPodAutoscalerSpec)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity
from mllint.rules.setrules import SetIndex, SetViolation, set_rule


def check(index: SetIndex[Any], options: Any) -> Iterator[SetViolation[Any]]:
    if not index.scalable:
        return
    for hpa in index.autoscalers:
        if index.exists(hpa.kind, hpa.name, hpa.entry.namespace):
            continue
        where = f" in namespace {hpa.entry.namespace!r}" if hpa.entry.namespace else ""
        yield SetViolation(
            hpa.entry,
            jp.join(hpa.at, "name"),
            f"HorizontalPodAutoscaler {hpa.entry.name!r} scales {hpa.kind} {hpa.name!r}, but no "
            f"{hpa.kind} of that name is among the objects linted{where}: it scales nothing",
        )


RULE = set_rule(
    check,
    code="ML801",
    name="hpa-target-missing",
    severity=Severity.WARNING,
    summary="HPA whose scaleTargetRef names no object in the set",
    enabled_by_default=False,
)
