"""
## What it does
Flags the pod template of a run-to-completion workload (a Job, the job template of a CronJob,
and operator kinds whose pods must not restart in place) whose `restartPolicy` is missing or is
not `Never`.

## What it judges and leaves alone
It judges ML workloads (`traits.Purpose`); a Job of helper, load-test or demo pods is left
alone. A Kubeflow training job's replicas are not asked: the replica spec's `restartPolicy`
replaces the pod's (docs/operators.md).

## Why is this bad?
A pod's `restartPolicy` defaults to `Always`, which a Job does not accept: the API server
rejects a Job whose template leaves it out, so the training run never starts. With
`OnFailure`, the kubelet restarts a crashed trainer in place and, once the Job reaches its
`backoffLimit`, its pods are terminated: the logs that explain the failure go with them.
`Never` makes every failure a new pod that keeps its logs and exit code, counts plainly
against `backoffLimit`, and is the policy a Job's `podFailurePolicy` requires.

## Example
```yaml
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      restartPolicy: OnFailure   # the failed attempt's logs are lost
```
Use instead:
```yaml
      restartPolicy: Never
```

## Fix safety
Safe: sets `restartPolicy: Never`. A failed container then makes a new pod instead of a
restart in place; the Job retries as before, up to its `backoffLimit`.

## Operators
Asked of the pod templates of kinds whose controller creates Jobs from them as written (a
RayJob's submitter, a Katib trial Job). Not asked of Kubeflow training jobs, whose replica
spec's own `restartPolicy` (default `Never`) overrides the pod's; nor of JobSet child Jobs,
whose empty `restartPolicy` the JobSet webhook defaults to `OnFailure`; nor of Argo steps,
whose pods Argo creates itself. Decisions and sources: docs/operators.md.

## References
- [Jobs: the pod template's `restartPolicy` may only be `Never` or `OnFailure`](https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-template)
- [Jobs: with `OnFailure`, pods are terminated once the backoff limit is reached; use `Never` when debugging](https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy)
- [Jobs: a pod failure policy requires `restartPolicy: Never`](https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-failure-policy)
- [Pod lifecycle: `restartPolicy` defaults to `Always`](https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.resources import fields
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope, WorkloadKind


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        wanted = pod.template.restart_policy
        if wanted is None:
            continue
        for field in fields(scope.obj, jp.join(pod.pointer, "restartPolicy")):
            fix = Fix.safe(patch.set_value(field.at, wanted))
            if not field.present:
                yield Violation(
                    field.owner,
                    "pod template has no restartPolicy, which defaults to Always and is not "
                    f"accepted here: set restartPolicy: {wanted}",
                    fix,
                )
            elif field.value != wanted:
                yield Violation(
                    field.at,
                    f"pod template has restartPolicy: {field.value}; failed attempts should "
                    f"leave their pod and logs behind: set restartPolicy: {wanted}",
                    fix,
                )


def applies(kind: WorkloadKind) -> bool:
    """A kind whose pod templates must have a restart policy."""
    return any(t.restart_policy is not None for t in kind.templates)


RULE = rule(
    check,
    code="ML201",
    name="job-restart-policy-not-never",
    severity=Severity.WARNING,
    summary="Job pod template without restartPolicy: Never",
    purposes=ML_PURPOSES,
    applies=applies,
    fix=Safety.SAFE,
)
