"""
## What it does
Flags a CronJob (or another scheduled kind with the same setting) whose `concurrencyPolicy`
is missing, `Allow` or `Replace`.

## What it judges and leaves alone
It judges scheduled ML workloads (`traits.Purpose`): a CronJob or CronWorkflow of helper, test
or demo pods, or one whose workflow is only a reference to a template, is left alone. The
message speaks of GPUs only when the pods use accelerators.

## Why is this bad?
The policy decides what happens when a scheduled run is due while the previous one is still
running, which GPU jobs do often: a nightly fine-tune that once takes 26 hours, a queue for
GPUs that delays a start. `Allow`, the default, starts the new run next to the old one: two
runs compete for the same GPUs and may write the same checkpoints and outputs. `Replace`
kills the running one, throwing away its progress. `Forbid` skips the new run while the
previous one is still going.

## Example
```yaml
apiVersion: batch/v1
kind: CronJob
spec:
  schedule: "0 2 * * *"
  concurrencyPolicy: Replace   # a long run is killed by the next one
```
Use instead:
```yaml
  concurrencyPolicy: Forbid
```

## Fix safety
Safe: sets `concurrencyPolicy: Forbid`. A run that is due while the previous one is still
going is skipped rather than started; nothing that is running is stopped.

## Operators
Also asked of an Argo CronWorkflow and a Volcano CronJob, whose `concurrencyPolicy` takes the
same values (`Allow` by default). Sources: docs/operators.md.

## References
- [CronJob: concurrency policy (`Allow` is the default; `Forbid`; `Replace`)](https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy)
- [CronJob API: `concurrencyPolicy`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/cron-job-v1/#CronJobSpec)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.resources import fields
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope, WorkloadKind

FORBID = "Forbid"


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    lifecycle = scope.workload.lifecycle if scope.workload else None
    if lifecycle is None or lifecycle.concurrency is None:
        return
    if FORBID not in lifecycle.concurrency_values:
        return  # a kind whose policy values have no way to forbid overlap
    overlapping = set(lifecycle.concurrency_values) - {FORBID}
    subject = scope.subject
    competing = (
        f"competing for {subject.device}s" if subject.uses_accelerators else "competing for nodes"
    )
    for field in fields(scope.obj, lifecycle.concurrency):
        name = jp.split(field.at)[-1]
        fix = Fix.safe(patch.set_value(field.at, FORBID))
        if not field.present:
            yield Violation(
                field.owner,
                f"{scope.subject.kind} has no {name}, so a run that is due while the last one "
                f"still runs starts next to it, {competing}: set {name}: {FORBID}",
                fix,
            )
        elif isinstance(field.value, str) and field.value in overlapping:
            yield Violation(
                field.at,
                f"{scope.subject.kind} has {name}: {field.value}, so a run that is due while "
                f"the last one still runs {_effect(field.value, competing)}: set {name}: {FORBID}",
                fix,
            )


def _effect(policy: str, competing: str) -> str:
    if policy == "Replace":
        return "kills it, throwing away its progress"
    return f"starts next to it, {competing}"


def applies(kind: WorkloadKind) -> bool:
    """A kind with a concurrency policy."""
    return kind.lifecycle.concurrency is not None


RULE = rule(
    check,
    code="ML205",
    name="cronjob-concurrency-not-forbid",
    severity=Severity.WARNING,
    summary="CronJob runs may overlap or replace each other (concurrencyPolicy not Forbid)",
    purposes=ML_PURPOSES,
    applies=applies,
    fix=Safety.SAFE,
)
