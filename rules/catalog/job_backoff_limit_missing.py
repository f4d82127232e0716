"""
## What it does
Flags a run-to-completion workload (a Job, the job template of a CronJob, a training operator's
job) that declares no `backoffLimit`.

## What it judges and leaves alone
The message states what the kind does without a budget:
- a Job (and a CronJob's, a JobSet's or a Trainer runtime's child Job) retries failed pods 6
  times ([Job: backoffLimit](https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy));
- a Kubeflow training job has no default: replicas whose `restartPolicy` is `OnFailure`,
  `Always` or `ExitCode` are restarted without bound (training-operator's `PastBackoffLimit`
  only counts when `runPolicy.backoffLimit` is set). PyTorchJob and PaddleJob replicas default
  to `OnFailure`, TFJob, XGBoostJob, JAXJob and v1 MPIJob replicas to `Never`
  ([pytorch_types.go](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/pytorch_types.go),
  [tensorflow_types.go](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/tensorflow_types.go)).
  mpi-operator's v2beta1 MPIJob runs its Launcher as a Job and passes `runPolicy.backoffLimit`
  to it, so without one a failed launcher is retried 6 times, as a Job's pods are
  ([mpi-operator releases, v0.3.0](https://github.com/kubeflow/mpi-operator/blob/master/RELEASES.md));
  Replicas with `restartPolicy: ExitCode` are recreated without bound after each retryable
  exit (a signal, code 128 and above: killed, out of memory) and fail the job on any other
  ([common/pod.go, ReconcilePods](https://github.com/kubeflow/training-operator/blob/master/pkg/controller.v1/common/pod.go)).
  A job whose replicas are all `Never` retries nothing (a failed pod fails the job) and is not
  flagged; SageMaker HyperPod's `sagemaker.amazonaws.com/job-max-retry-count` annotation is a
  retry budget;
- a Katib Experiment's trial is a whole job of its own kind (`trialTemplate.trialSpec`), asked
  for that kind's budget at the trial spec: Katib marks a trial failed by its job's own Failed
  condition (`trialTemplate.failureCondition`), so a trial PyTorchJob that restarts without
  bound is never counted against `maxFailedTrialCount`
  ([Katib trial template](https://www.kubeflow.org/docs/components/katib/user-guides/trial-template/));
- an Argo `retryStrategy` without `limit` retries a step until it succeeds;
- a Volcano Job retries 3 times when `maxRetry` is unset (its admission webhook's
  `DefaultMaxRetry`): already the budget the fix would set, so it is not flagged.
It judges ML workloads only (`traits.Purpose`): a Job of helper or test pods is left alone,
and so is a training operator's job whose pods only run smoke tests (`sleep`, PaddlePaddle's
`run_check`), or an MPI job whose launcher's `mpirun` starts a probe (`fi_info`) or a program
that is not ML on pods with no accelerator (the MPI `pi` demo).

## Why is this bad?
A Job retries failed pods until `backoffLimit` failures, and the limit defaults to 6. A
training run that fails for a reason a retry cannot cure (a bad hyper-parameter, a missing
dataset, an out-of-memory GPU) is started seven times, each attempt scheduling its pods onto
GPUs and loading the model again before it fails. Setting the limit makes the retry budget a
decision rather than a default.

## Example
```yaml
apiVersion: batch/v1
kind: Job
spec:            # no backoffLimit: up to 6 retries
  template: ...
```
Use instead:
```yaml
spec:
  backoffLimit: 3
```

## Fix safety
Safe: sets the limit to the `default` option (3), which allows fewer retries than the
implicit 6; a Job that needs more retries states so.

## Operators
Each kind is asked for its own retry budget: `runPolicy.backoffLimit` (Kubeflow training jobs,
where none means unbounded restarts with `OnFailure`), each child Job's `backoffLimit` (JobSet,
Trainer runtimes), `maxRetry` (Volcano), and a `limit` in every Argo `retryStrategy` (without
one a step is retried until it succeeds). A RayJob is not asked: its `backoffLimit` defaults to
0. Decisions and sources: docs/operators.md.

## References
- [Jobs: pod backoff failure policy, `backoffLimit` defaults to 6](https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy)
- [Job API: `backoffLimit`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/job-v1/#JobSpec)
"""

from collections.abc import Iterator

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, Violation, literal, option, rule
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope, Subject, WorkloadKind


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    default: int = option(3, "The backoffLimit the fix sets.", ge=0)


RESTARTING = ("OnFailure", "Always", "ExitCode")


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    yield from _judge(scope.subject, options, scope.subject.kind, "")
    embedded = scope.subject.embedded
    if embedded is not None:
        # A Katib trial is a whole job of another kind, with that kind's retry budget.
        at, trial = embedded
        what = f"{scope.subject.kind}'s trial {trial.kind}"
        yield from _judge(trial, options, what, at)


def _judge(subject: Subject, options: Options, what: str, at: str) -> Iterator[Violation]:
    lifecycle = subject.workload.lifecycle if subject.workload else None
    if lifecycle is None or lifecycle.backoff_limit is None:
        return
    retries = lifecycle.retries
    if retries is not None and retries <= options.default:
        return  # the kind's own default already bounds retries as tightly (Volcano's 3)
    kind = subject.kind
    consequence = f"a failing run is retried up to {retries} times (the default)"
    if kind == "MPIJob" and subject.api_version.endswith("/v2beta1"):
        # mpi-operator runs the v2beta1 Launcher as a batch/v1 Job and hands it
        # runPolicy.backoffLimit: unset, the Job's own default applies.
        consequence = "its Launcher runs as a Job that retries a failed launcher up to 6 times"
    elif (
        retries is None
        and subject.workload is not None
        and subject.workload.group == "kubeflow.org"
    ):
        restarting = [
            p
            for p in subject.pods
            if p.traits.replica is not None and p.traits.restart_policy in RESTARTING
        ]
        if not restarting:
            return  # every replica is Never: a failed pod fails the job, nothing is retried
        first = restarting[0].traits
        replica = first.replica or "replica"
        if first.restart_policy == "ExitCode":
            # training-operator recreates a pod that exits with a retryable code (a signal,
            # 128+) and fails the job on any other (ReconcilePods, IsRetryableExitCode).
            consequence = (
                f"its {replica} pods (ExitCode) are recreated without bound after each "
                "retryable exit (killed, out of memory)"
            )
        else:
            consequence = f"its {replica} pods ({first.restart_policy}) are restarted without bound"
    elif retries is None:
        consequence = "a failing step is retried until it succeeds"
    if subject.uses_accelerators:
        consequence += f", each time on {subject.device}s"
    field = jp.split(lifecycle.backoff_limit)[-1]
    for u in lifecycle.unmet(subject.obj, "backoff_limit", options.default):
        value = literal(u.value)
        # A switch the setting needs (a RayJob's shutdownAfterJobFinishes) is named with its value.
        named = u.name if u.name == field else f"{u.name}: {value}"
        yield Violation(
            at + u.owner,
            f"{what} has no {named}, so {consequence}: set {u.name}: {value}",
            Fix.safe(*patch.under(at, u.ops)),
        )


def applies(kind: WorkloadKind) -> bool:
    """A kind with a retry budget, or one that embeds a run of another kind (a Katib trial)."""
    return kind.lifecycle.backoff_limit is not None or kind.embeds is not None


RULE = rule(
    check,
    code="ML202",
    name="job-backoff-limit-missing",
    severity=Severity.WARNING,
    summary="Job without a retry budget retries failures 6 times, or without bound",
    purposes=ML_PURPOSES,
    applies=applies,
    options=Options,
    fix=Safety.SAFE,
)
