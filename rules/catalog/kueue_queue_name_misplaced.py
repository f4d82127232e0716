"""
## What it does
Flags `kueue.x-k8s.io/queue-name` written where Kueue does not read it:

- as an annotation, on the object or on a template inside it;
- as a label on a pod template (or a JobSet's Job template) of a Job, JobSet, RayJob,
  RayCluster, RayService, a Kubeflow training job, a TrainJob or a LeaderWorkerSet, when the
  object's own `metadata.labels` do not carry it;
- on a CronJob, anywhere but `spec.jobTemplate.metadata.labels`, which is what its Jobs are
  created with.

A plain Pod carries the label on itself, which is the Pod; Deployments and StatefulSets are
left alone, since Kueue read the label from their pod template before it read it from the
object, and both are in use.

## Why is this bad?
Kueue admits a workload into the LocalQueue named by the `kueue.x-k8s.io/queue-name` *label*
of the object it manages: the Job, JobSet, RayJob, training job or LeaderWorkerSet, not the
pods they create (pods owned by an object Kueue manages are skipped by its pod integration).
Written anywhere else, the name is never read: depending on
`manageJobsWithoutQueueName`, the job either starts at once, outside every quota, priority
and fair-sharing rule the platform team set up for GPUs, or is never admitted at all. The
annotation form was deprecated for years and is no longer read.

## Example
```yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: finetune
spec:
  template:
    metadata:
      labels:
        kueue.x-k8s.io/queue-name: team-a
```
Use instead:
```yaml
metadata:
  name: finetune
  labels:
    kueue.x-k8s.io/queue-name: team-a
```

## Fix safety
Unsafe: adds the label where Kueue reads it, with the same value, which puts the workload
under the queue's quota: it may wait to be admitted where it used to start at once.

## References
- [Kueue: labels and annotations, `kueue.x-k8s.io/queue-name` is a label](https://kueue.sigs.k8s.io/docs/reference/labels-and-annotations/)
- [Kueue: run a Job, the label goes on the Job](https://kueue.sigs.k8s.io/docs/tasks/run/jobs/)
- [Kueue: run a CronJob, the label goes on `spec.jobTemplate.metadata`](https://kueue.sigs.k8s.io/docs/tasks/run/run_cronjobs/)
- [Kueue: run plain Pods, the label goes on the Pod](https://kueue.sigs.k8s.io/docs/tasks/run/plain_pods/)
- [kubernetes-sigs/kueue#7271: the deprecated queue-name annotation removed](https://github.com/kubernetes-sigs/kueue/pull/7271)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope

KEY = "kueue.x-k8s.io/queue-name"
_TOP_LEVEL = frozenset(
    {
        "Job",
        "JobSet",
        "RayJob",
        "RayCluster",
        "RayService",
        "PyTorchJob",
        "TFJob",
        "MPIJob",
        "XGBoostJob",
        "PaddleJob",
        "JAXJob",
        "TrainJob",
        "LeaderWorkerSet",
    }
)
_CRON = "/spec/jobTemplate/metadata"
_NO_METADATA = frozenset(
    {
        "containers", "initContainers", "ephemeralContainers", "env", "args", "command", "status",
        "selector", "strategy", "nodeSelector", "tolerations", "affinity", "securityContext",
        "topologySpreadConstraints",
    }
)  # fmt: skip
"""Fields that hold no object metadata below them, in every kind of `KINDS` (Kubernetes' pod,
container and workload fields: label selectors, scheduling constraints, rollout strategy;
the operators' kinds use these names for the same Kubernetes types): the walk does not enter
them."""
_COLLECTIONS = (dict, list)
KINDS = _TOP_LEVEL | {"CronJob", "Pod", "Deployment", "StatefulSet"}


def _metadata(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Pointer -> metadata, for every object metadata in the object that names a queue, its
    own first. This walks the whole object on every admission: first without keeping a path
    (most objects name no queue anywhere), then, for an object that does, again with the path
    of each metadata that names one."""
    found: dict[str, Mapping[str, Any]] = {}
    if _names_queue(obj):
        _walk(obj, [], found)
    return found


def _names_queue(node: Mapping[str, Any]) -> bool:
    """Whether a metadata in the mapping, at any depth `_walk` reaches, names a queue."""
    for key, value in node.items():
        if isinstance(value, dict):
            if key == "metadata":
                if _queue(value, "labels") is not None or _queue(value, "annotations") is not None:
                    return True
            elif key not in _NO_METADATA and _names_queue(value):
                return True
        elif isinstance(value, list) and key not in _NO_METADATA and _listed_queue(value):
            return True
    return False


def _listed_queue(items: list[Any]) -> bool:
    for value in items:
        if isinstance(value, dict):
            if _names_queue(value):
                return True
        elif isinstance(value, list) and _listed_queue(value):
            return True
    return False


def _walk(node: Any, path: list[str | int], found: dict[str, Mapping[str, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "metadata" and isinstance(value, dict):
                if _queue(value, "labels") is not None or _queue(value, "annotations") is not None:
                    found[jp.join("", *path, key)] = value
            elif isinstance(value, _COLLECTIONS) and key not in _NO_METADATA:
                path.append(key)
                _walk(value, path, found)
                path.pop()
    else:
        for index, value in enumerate(node):
            if isinstance(value, _COLLECTIONS):
                path.append(index)
                _walk(value, path, found)
                path.pop()


def _queue(metadata: Mapping[str, Any], field: str) -> Any:
    values = metadata.get(field)
    return values.get(KEY) if isinstance(values, dict) else None


def _home(scope: Scope) -> str | None:
    """Where Kueue reads the label on this object; None where it depends on the version."""
    kind = scope.subject.kind
    group = scope.workload.group if scope.workload is not None else ""
    if kind in ("Job", "CronJob") and group != "batch":
        return None  # a Volcano Job or CronJob: not a kind Kueue manages
    if kind == "CronJob":
        return _CRON
    return "/metadata" if kind in _TOP_LEVEL or kind == "Pod" else None


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    found = _metadata(scope.obj)
    if not found:
        return  # no metadata names a queue (most objects)
    kind = scope.subject.kind
    home = _home(scope)
    if home is not None:
        labelled = _queue(found.get(home, {}), "labels") is not None
    else:
        labelled = any(_queue(m, "labels") is not None for m in found.values())
    if labelled:
        return
    place = "spec.jobTemplate.metadata.labels" if home == _CRON else "metadata.labels"
    for at, metadata in found.items():
        for field in ("annotations", "labels"):
            value = _queue(metadata, field)
            if value is None or (field == "labels" and home is None):
                continue
            fix = Fix.unsafe(patch.set_value(jp.join(home, "labels", KEY), value)) if home else None
            where = jp.join(at, field, KEY)
            if field == "annotations":
                message = (
                    f"{KEY} is an annotation here, a form Kueue deprecated and then stopped "
                    f"reading, so current Kueue does not queue the {kind}: make it a label"
                    + (f" in {place}" if home else "")
                )
            elif at == "/metadata":
                message = (
                    f"{KEY} is on the CronJob, but its Jobs are created with "
                    f"{place}, so they are not queued: move the label there"
                )
            else:
                message = (
                    f"{KEY} is on a template inside the {kind}, but Kueue reads it from the "
                    f"{kind}'s {place}, so the {kind} is not queued: move the label there"
                )
            yield Violation(where, message, fix)


RULE = rule(
    check,
    code="ML710",
    name="kueue-queue-name-misplaced",
    severity=Severity.WARNING,
    summary="Kueue queue name given as an annotation or on a template, where Kueue ignores it",
    kinds=KINDS,
    purposes=ML_PURPOSES,
    fix=Safety.UNSAFE,
)
