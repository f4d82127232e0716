"""
## What it does
Flags a Job (or a training operator's job that has the same setting) that declares no
`ttlSecondsAfterFinished`. Jobs owned by a CronJob are not flagged: the CronJob's history
limits already delete them.

## What it judges and leaves alone
It judges every run-to-completion workload, ML or not: a finished object and its pods are kept
either way. A workload whose pods never finish is left alone: they only run server images with
their own entrypoint (`nginx`, a database) or `sleep infinity`.

## Why is this bad?
A finished Job and its pods stay in the API server until someone deletes them. Each
experiment, sweep trial or batch-inference run then leaves objects behind, which clutter
`kubectl get` output, count against the namespace's object quotas and load the API server.
With `ttlSecondsAfterFinished`, the TTL controller deletes the Job and its pods that many
seconds after it completes or fails.

## Example
```yaml
apiVersion: batch/v1
kind: Job
spec:            # finished Job and pods are kept forever
  template: ...
```
Use instead:
```yaml
spec:
  ttlSecondsAfterFinished: 86400
```

## Fix safety
Safe: sets the TTL to the `default` option, 86400 seconds (one day): long enough to read the
status and the pods' logs of a run that finished overnight, short enough that finished runs do
not pile up. Only finished Jobs are deleted, never running ones; ship logs and metrics
elsewhere if they must outlive the Job.

## Operators
Asked as `runPolicy.ttlSecondsAfterFinished` (Kubeflow training jobs) and
`ttlSecondsAfterFinished` (JobSet, Volcano Job). An Argo Workflow meets it with any
`ttlStrategy` or with `podGC`, and so does one compiled by the Kubeflow Pipelines SDK (its
`pipelines.kubeflow.org/kfp_sdk_version` annotation or label, which the KFP v1 compiler writes):
it is meant to be run through Kubeflow Pipelines, whose API server deletes the Workflow once the
persistence agent has reported the run's final state, `TTL_SECONDS_AFTER_WORKFLOW_FINISH`
(one day by default) after it finished
([workflow_saver.go](https://github.com/kubeflow/pipelines/blob/master/backend/src/agent/persistence/worker/workflow_saver.go),
[resource_manager.go](https://github.com/kubeflow/pipelines/blob/master/backend/src/apiserver/resource/resource_manager.go)).
A RayJob's TTL acts only with `shutdownAfterJobFinishes: true`
(KubeRay's rayjob_types.go), so that switch is what is asked for and set, with the TTL. A
CronWorkflow, like a CronJob, is cleaned up by its history limits. Decisions and sources:
docs/operators.md.

## References
- [Automatic cleanup for finished Jobs (TTL-after-finished controller)](https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/)
- [Jobs: clean up finished jobs automatically](https://kubernetes.io/docs/concepts/workloads/controllers/job/#clean-up-finished-jobs-automatically)
- [CronJob: jobs history limits](https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#jobs-history-limits)
"""

from collections.abc import Iterator

from mllint.rules import pointer as jp
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, Violation, literal, option, rule
from mllint.rules.traits import serves_forever
from mllint.rules.workload import Scope, WorkloadKind


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    default: int = option(86400, "The ttlSecondsAfterFinished the fix sets.", ge=0)


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    lifecycle = scope.workload.lifecycle if scope.workload else None
    if lifecycle is None or lifecycle.ttl is None:
        return
    pods = scope.subject.pods
    if pods and all(serves_forever(c.spec) for p in pods for c in p.main_containers):
        return  # its pods run servers that never finish: a TTL after finishing never starts
    field = jp.split(lifecycle.ttl)[-1]
    for u in lifecycle.unmet(scope.obj, "ttl", options.default):
        value = literal(u.value)
        # A switch the setting needs (a RayJob's shutdownAfterJobFinishes) is named with its value.
        what = u.name if u.name == field else f"{u.name}: {value}"
        yield Violation(
            u.owner,
            f"{scope.subject.kind} has no {what}, so it and its pods are kept after they "
            f"finish: set {u.name}: {value}",
            Fix.safe(*u.ops),
        )


def applies(kind: WorkloadKind) -> bool:
    """A kind with a TTL field."""
    return kind.lifecycle.ttl is not None


RULE = rule(
    check,
    code="ML204",
    name="job-ttl-missing",
    severity=Severity.INFO,
    summary="Finished Job is never cleaned up (no ttlSecondsAfterFinished)",
    workloads_only=True,
    applies=applies,
    options=Options,
    fix=Safety.SAFE,
)
