"""
## What it does
Flags a run-to-completion workload (a Job, the job template of a CronJob, a training operator's
job) that declares no `activeDeadlineSeconds`.

## What it judges and leaves alone
It judges ML workloads whose pods use accelerators (GPUs, TPUs, Gaudi, Neuron, DRA claims), the
resource a hung run holds; a CPU Job is left alone, and so is one whose pods only run helpers or
tests (`traits.Purpose`: an `echo` step that claims a device holds it for a moment). A
pod-level `activeDeadlineSeconds` in every pod template (or an Argo `timeout` on every step)
bounds the run as the Job's does
([Pod: activeDeadlineSeconds](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#lifecycle)),
so it is not flagged either. A TrainJob's accelerators are read from its `trainer`. A RayJob is
asked for `shutdownAfterJobFinishes: true` too when it lacks it: past its deadline KubeRay marks
the RayJob failed but deletes its cluster only under that switch
([rayjob_controller.go](https://github.com/ray-project/kuberay/blob/master/ray-operator/controllers/ray/rayjob_controller.go)),
so a deadline alone frees nothing.

## Why is this bad?
Nothing else bounds how long a Job runs. A training script that hangs (a deadlocked
collective, a data loader waiting on a dead worker, a stuck download) keeps its pods running
and its GPUs allocated until someone notices. Once a Job runs past `activeDeadlineSeconds`,
its pods are terminated and the Job is marked failed with reason `DeadlineExceeded`, which
frees the GPUs and makes the failure visible.

## Example
```yaml
apiVersion: batch/v1
kind: Job
spec:            # no deadline: a hung run holds its GPUs forever
  template: ...
```
Use instead:
```yaml
spec:
  activeDeadlineSeconds: 86400
```

## Fix safety
Unsafe: sets the deadline to the `default` option (86400 seconds, one day). A run that
legitimately takes longer is then killed before it finishes, so the value must fit the
workload: set the option, or edit the value the fix writes.

## Operators
Asked as `runPolicy.activeDeadlineSeconds` (Kubeflow training jobs), `activeDeadlineSeconds`
(RayJob, TrainJob, Argo Workflow, a CronWorkflow's `workflowSpec`) and each child Job's
`activeDeadlineSeconds` (JobSet, Trainer runtimes, which have no deadline of their own).
Volcano Jobs have no deadline field and are not asked. Decisions and sources:
docs/operators.md.

## References
- [Jobs: job termination and cleanup, `activeDeadlineSeconds`](https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup)
- [Job API: `activeDeadlineSeconds`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/job-v1/#JobSpec)
"""

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, Violation, literal, option, rule
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope, WorkloadKind


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    default: int = option(86400, "The activeDeadlineSeconds the fix sets.", gt=0)


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    lifecycle = scope.workload.lifecycle if scope.workload else None
    if lifecycle is None or lifecycle.active_deadline is None:
        return
    pods = scope.subject.pods
    if not scope.subject.uses_accelerators:
        return  # the harm is accelerators held by a hung run
    if pods and all(_bounded(p.spec) for p in pods):
        return  # every pod has its own deadline (or every Argo step a timeout)
    device = scope.subject.device
    field = jp.split(lifecycle.active_deadline)[-1]
    release = _release(scope.obj, lifecycle.releases)
    for u in lifecycle.unmet(scope.obj, "active_deadline", options.default):
        value = literal(u.value)
        # A switch the setting needs (a RayJob's shutdownAfterJobFinishes) is named with its value.
        what = u.name if u.name == field else f"{u.name}: {value}"
        ask = f"set {u.name}: {value}, or the longest the run may take"
        ops = u.ops
        if release is not None:
            at, on = release
            name = jp.split(at)[-1]
            what += f" nor {name}: {literal(on)}"
            ask += f", and {name}: {literal(on)}, without which the deadline frees nothing"
            ops = (*ops, patch.set_value(at, on))
        yield Violation(
            u.owner,
            f"{scope.subject.kind} has no {what}, so a hung run holds its {device}s until "
            f"someone deletes it: {ask}",
            Fix.unsafe(*ops),
        )


def _release(obj: Mapping[str, Any], releases: tuple[str, Any] | None) -> tuple[str, Any] | None:
    """(pointer, value) of the switch that makes the operator free the pods, when it is not
    on; None when it is on or the kind has none."""
    if releases is None:
        return None
    at, on = releases
    try:
        if jp.resolve(obj, at) == on:
            return None
    except (KeyError, IndexError, ValueError, TypeError):
        pass
    return at, on


def _bounded(spec: Mapping[str, Any]) -> bool:
    """A pod bounded on its own: `activeDeadlineSeconds` in its spec (or an Argo step's
    `activeDeadlineSeconds` or `timeout`, which sit in the same place)."""
    return "activeDeadlineSeconds" in spec or "timeout" in spec


def applies(kind: WorkloadKind) -> bool:
    """A kind with a deadline field."""
    return kind.lifecycle.active_deadline is not None


RULE = rule(
    check,
    code="ML203",
    name="job-active-deadline-missing",
    severity=Severity.WARNING,
    summary="Job on accelerators without activeDeadlineSeconds can hold them forever",
    workloads_only=True,
    purposes=ML_PURPOSES,
    applies=applies,
    options=Options,
    fix=Safety.UNSAFE,
)
