"""
## What it does
Flags a container that mounts an `emptyDir` volume at a path that holds datasets, models,
checkpoints or outputs (option `data-paths`: `*data*`, `*model*`, `*checkpoint*`, `*ckpt*`,
`*output*`, `*weights*` by default, matched case-insensitively against the whole mount
path). A memory-backed `emptyDir` mounted at `/dev/shm`, the usual way to give PyTorch data
loaders enough shared memory, is correct and never flagged.

## What it judges and leaves alone
It judges the pods of ML workloads. A volume that an init container mounts is left alone: it is
a cache the init container fills on every start (KServe's storage-initializer, a dataset
download), not data that only lives there. A kustomize patch is judged on the mounts it writes,
and so are a TrainJob's `runtimePatches` and `podTemplateOverrides`, which add volumes and mounts
to its runtime's pods (docs/operators.md).

## Why is this bad?
An `emptyDir` lives as long as its pod: when the pod is deleted, evicted or rescheduled, or a
Job retries a failed attempt in a new pod, its contents are deleted for good. Checkpoints
written there cannot resume the run they were meant to protect, outputs of a finished Job are
gone with its pod, and a dataset or model downloaded there is downloaded again on every
start. Large data in an `emptyDir` also fills the node's disk, and a pod whose ephemeral
storage use grows past its limit, or a node under disk pressure, evicts pods, which deletes
the data again.

## Example
```yaml
containers:
  - name: trainer
    volumeMounts:
      - name: scratch
        mountPath: /checkpoints    # deleted with the pod: the run cannot resume
volumes:
  - name: scratch
    emptyDir: {}
```
Use instead:
```yaml
volumes:
  - name: checkpoints
    persistentVolumeClaim:
      claimName: bert-finetune-checkpoints
```

## Fix safety
No fix: where the data should live (a PersistentVolumeClaim, object storage, a CSI volume)
is a decision about the cluster's storage.

## References
- [Volumes: `emptyDir` is deleted permanently when its pod is removed from a node](https://kubernetes.io/docs/concepts/storage/volumes/#emptydir)
- [Persistent volumes](https://kubernetes.io/docs/concepts/storage/persistent-volumes/)
- [Local ephemeral storage: pods that exceed their limit are evicted](https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage)
- [Node-pressure eviction on low disk](https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/)
- [PyTorch elastic: save checkpoints so that a restarted worker can resume](https://pytorch.org/docs/stable/elastic/train_script.html)
- [PyTorch: data loader workers use shared memory; increase the container's `/dev/shm`](https://github.com/pytorch/pytorch#using-pre-built-images)
"""

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import RuleOptions, Severity, Violation, option, rule
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope

SHM = "/dev/shm"
_NONE: frozenset[Any] = frozenset()
"""What init containers fill in a pod without any."""


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    data_paths: tuple[str, ...] = option(
        (
            "*data*",
            "*dataset*",
            "*model*",
            "*checkpoint*",
            "*ckpt*",
            "*output*",
            "*weights*",
        ),
        "Glob patterns (case-insensitive) of mount paths that hold data to keep.",
    )


def _memory_backed(volume: Mapping[str, Any]) -> bool:
    source = volume.get("emptyDir")
    return isinstance(source, dict) and source.get("medium") == "Memory"


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    for pod in scope.pods:
        # A volume an init container fills at start is a cache of data kept elsewhere (KServe's
        # storage-initializer, a dataset download): fetched again on every start by design.
        filled = (
            {
                m.get("name")
                for c in pod.containers
                if c.init
                for m in c.spec.get("volumeMounts") or ()
                if isinstance(m, dict)
            }
            if len(pod.main_containers) < len(pod.containers)
            else _NONE
        )
        scratch = {
            v["name"]: v
            for _, v in pod.volumes
            if "emptyDir" in v and isinstance(v.get("name"), str) and v["name"] not in filled
        }
        if not scratch:
            continue
        for c in pod.containers:
            mounts = c.spec.get("volumeMounts")
            if not isinstance(mounts, list):
                continue
            for index, mount in enumerate(mounts):
                name = mount.get("name") if isinstance(mount, dict) else None
                if not isinstance(name, str) or name not in scratch:
                    continue
                path = mount.get("mountPath")
                if not isinstance(path, str):
                    continue
                volume = scratch[name]
                if path.rstrip("/") == SHM and _memory_backed(volume):
                    continue
                if not any(
                    fnmatch.fnmatchcase(path.lower(), p.lower()) for p in options.data_paths
                ):
                    continue
                yield Violation(
                    jp.join(c.pointer, "volumeMounts", index),
                    f"container {c.name!r} keeps {path} on emptyDir volume "
                    f"{mount['name']!r}, which is deleted with the pod: mount a "
                    "PersistentVolumeClaim (or write to object storage) instead",
                )


RULE = rule(
    check,
    code="ML401",
    name="emptydir-for-data",
    severity=Severity.WARNING,
    summary="Datasets, models or checkpoints on an emptyDir, deleted with the pod",
    purposes=ML_PURPOSES,
    fragments=True,
    options=Options,
)
