"""
## What it does
Flags a Kubeflow training job (PyTorchJob, MPIJob, XGBoostJob, PaddleJob, JAXJob, TFJob) whose
`runPolicy.cleanPodPolicy` is `None`, or is left out where the operator defaults it to `None`
(every kind but TFJob, which defaults to `Running`).

## What it judges and leaves alone
It judges training jobs whose pods use accelerators: pods left running on CPU cost little. A
`kubeflow.org/v1alpha1` MPIJob (its pod template at `spec.template`) has no `cleanPodPolicy`:
its controller scales the workers to zero once the launcher ends.

## Why is this bad?
A training job finishes when its master (or launcher) does, or when one replica fails for
good. With `cleanPodPolicy: None` the operator then leaves every pod of the job as it is: the
workers still blocked in an all-reduce waiting for a peer that died, the parameter servers,
the evaluators keep running, and keep their GPUs, until someone deletes the job. `Running`
deletes the pods that are still running when the job finishes and keeps the finished ones,
with their logs.

## Example
```yaml
apiVersion: kubeflow.org/v1
kind: PyTorchJob
spec:
  runPolicy: {}            # cleanPodPolicy defaults to None
```
Use instead:
```yaml
spec:
  runPolicy:
    cleanPodPolicy: Running
```

## Fix safety
Safe: sets `cleanPodPolicy: Running`. Only pods still running after the job has finished are
deleted; completed and failed pods and their logs stay.

## References
- [Training Operator API: RunPolicy `cleanPodPolicy` (All, Running, None)](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/common_types.go)
- [Training Operator: PyTorchJob defaults cleanPodPolicy to None](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/pytorch_defaults.go)
- [Training Operator: TFJob defaults cleanPodPolicy to Running](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/tensorflow_defaults.go)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.resources import fields
from mllint.rules.workload import Scope

POLICY = "/spec/runPolicy/cleanPodPolicy"
# The operators' defaults for a job that leaves the policy out.
DEFAULTS = {"TFJob": "Running"}
KINDS = ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob")


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    spec = scope.obj.get("spec")
    if not isinstance(spec, dict) or "cleanPodPolicy" in spec:
        return  # set in the deprecated place (MPIJob v1): the operator reads it from there
    if "template" in spec:
        return  # a v1alpha1 MPIJob: its controller scales the workers to 0 when the launcher ends
    accelerated = [p for p in scope.subject.pods if p.traits.uses_accelerators]
    if not accelerated:
        return  # leftover pods hold no accelerators: what the policy costs is small
    for field in fields(scope.obj, POLICY):
        policy = field.value if field.present else DEFAULTS.get(scope.subject.kind, "None")
        if policy != "None":
            continue
        how = "is None" if field.present else "defaults to None"
        yield Violation(
            field.at if field.present else field.owner,
            f"{scope.subject.kind} cleanPodPolicy {how}, so pods still running when the job "
            "finishes (workers waiting on a dead peer) keep their "
            f"{accelerated[0].traits.device}s until the job is "
            "deleted: set cleanPodPolicy: Running",
            Fix.safe(patch.set_value(POLICY, "Running")),
        )


RULE = rule(
    check,
    code="ML706",
    name="clean-pod-policy-none",
    severity=Severity.WARNING,
    summary="Training job leaves its running pods behind when it finishes",
    kinds=KINDS,
    fix=Safety.SAFE,
)
