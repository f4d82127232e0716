"""
## What it does
Flags a memory-backed `emptyDir` mounted at `/dev/shm` in an ML pod whose size nothing bounds
but the node, or whose `sizeLimit` is above the memory limit of a container that mounts it:

- no `sizeLimit`, and a main container of the pod sets no memory limit (so the pod has no
  memory limit either);
- a `sizeLimit` larger than the `limits.memory` of a container that mounts it.

A volume without `sizeLimit` in a pod whose every main container has a memory limit is left
alone: the kubelet sizes it to the pod's memory limit, which bounds it.

## Why is this bad?
A `medium: Memory` `emptyDir` is a tmpfs in the node's RAM. The kubelet sizes it to the smallest
of its `sizeLimit`, the pod's memory limit and the node's allocatable memory. With neither of
the first two, `/dev/shm` may grow until the node runs out of memory: a DataLoader or NCCL leak
in one training pod then evicts its neighbours on the node, often other GPU jobs. Pages written
to `/dev/shm` are charged to the memory limit of the container that writes them, so a
`sizeLimit` above that limit is never reached: the container is OOM-killed first, and the
setting promises room that is not there.

## Example
```yaml
volumes:
  - name: dshm
    emptyDir: {medium: Memory}     # containers set no memory limit
```
Use instead:
```yaml
volumes:
  - name: dshm
    emptyDir: {medium: Memory, sizeLimit: 16Gi}
```

## Fix safety
No fix: the size `/dev/shm` needs depends on the batch, the DataLoader workers and the ranks
per pod, and the memory limit may need to grow with it.

## References
- [kubelet `calculateEmptyDirMemorySize`: the least of sizeLimit, pod memory limit and node allocatable](https://github.com/kubernetes/kubernetes/blob/master/pkg/volume/emptydir/empty_dir.go)
- [Kubernetes: emptyDir with `medium: Memory` counts against the container's memory limit](https://kubernetes.io/docs/concepts/storage/volumes/#emptydir)
- [Kubernetes: node-pressure eviction](https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.quantity import quantity
from mllint.rules.resources import section
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Container, Scope

SHM = "/dev/shm"


def _shm_mounts(c: Container) -> Iterator[str]:
    """Names of the volumes the container mounts at /dev/shm."""
    mounts = c.spec.get("volumeMounts")
    for m in mounts if isinstance(mounts, list) else ():
        if isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == SHM:
            yield str(m.get("name"))


def _memory_limit(c: Container) -> float | None:
    return quantity(section(c.spec, "limits").get("memory"))


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        volumes: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for at, volume in pod.volumes:
            empty = volume.get("emptyDir")
            if isinstance(empty, dict) and empty.get("medium") == "Memory":
                volumes[str(volume.get("name"))] = (at, empty)
        if not volumes:
            continue
        main = pod.main_containers
        unlimited: bool | None = None  # whether a main container has no memory limit
        reported: set[str] = set()
        for c in main:
            for name in _shm_mounts(c):
                if name not in volumes or name in reported:
                    continue
                at, empty = volumes[name]
                raw = empty.get("sizeLimit")
                if raw is None and unlimited is None:
                    unlimited = any(_memory_limit(m) is None for m in main)
                if raw is None and unlimited:
                    reported.add(name)
                    yield Violation(
                        jp.join(at, "emptyDir"),
                        f"/dev/shm volume {name!r} has no sizeLimit and the pod no memory "
                        "limit, so this tmpfs may grow to the node's memory and get other "
                        "pods on the node evicted: set a sizeLimit",
                    )
                    continue
                size = quantity(raw)
                written = section(c.spec, "limits").get("memory")
                limit = quantity(written)
                if size is not None and limit is not None and size > limit:
                    reported.add(name)
                    yield Violation(
                        jp.join(at, "emptyDir", "sizeLimit"),
                        f"/dev/shm volume {name!r} has sizeLimit {raw} but container {c.name!r} "
                        f"is limited to {written} of memory, which its /dev/shm pages count "
                        "against, so it is OOM-killed before /dev/shm is full: keep sizeLimit "
                        "below the memory limit, or raise the limit",
                    )


RULE = rule(
    check,
    code="ML708",
    name="shm-size-unbounded",
    severity=Severity.WARNING,
    summary="Memory-backed /dev/shm bounded only by the node, or sized above the memory limit",
    purposes=ML_PURPOSES,
)
