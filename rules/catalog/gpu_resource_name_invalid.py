"""
## What it does
Flags a resource key in `resources.requests` or `resources.limits` that asks for a GPU but is
not a name a GPU device plugin advertises: `gpu`, `GPU`, `nvidia/gpu`, `nvidia.com/gpus`,
`nvidia.com/GPU`, `nvidia.com/nvidia-gpu`, or any valid name in the wrong case.

Valid names are left alone: `nvidia.com/gpu`, `amd.com/gpu`, `gpu.intel.com/*`, MIG slices
such as `nvidia.com/mig-1g.5gb`, and the `.shared` names the NVIDIA device plugin advertises
for time-sliced or MPS-shared GPUs (`nvidia.com/gpu.shared`). Keys that only contain "gpu",
such as `nvidia.com/gpumem` or `volcano.sh/vgpu-number`, belong to GPU-sharing schedulers and
are not flagged.

## Why is this bad?
A resource name without a domain prefix must be one of Kubernetes' standard resources, so the
API server rejects `gpu` and `GPU` (`must be a standard resource type or fully qualified`). A
fully qualified name that no device plugin advertises (`nvidia.com/gpus`, `nvidia/gpu`) is
accepted, but no node has any of it: the scheduler never finds room and the training Job or
model server stays `Pending` forever. GPUs are requested by the vendor's resource name,
`nvidia.com/gpu` for NVIDIA's device plugin.

## Example
```yaml
resources:
  limits:
    nvidia.com/gpus: 1   # no node advertises this: the pod stays Pending
```
Use instead:
```yaml
resources:
  limits:
    nvidia.com/gpu: 1
```

## Fix safety
Unsafe: renames the key to `nvidia.com/gpu` (the valid name in lower case when only the case
was wrong, `amd.com/gpu` for an AMD key; no fix for Intel keys, whose name depends on the
driver). The rename changes what the pod asks the scheduler for; check that the cluster's
device plugin advertises the new name, and that a time-sliced or MIG name was not meant.

## References
- [Schedule GPUs: vendor resource names such as `nvidia.com/gpu`](https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/)
- [Extended resources: fully qualified names advertised by device plugins](https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#extended-resources)
- [Device plugins advertise the resources a node has](https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/)
- [NVIDIA device plugin: `renameByDefault` advertises `nvidia.com/gpu.shared`; MIG names](https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus)
- [NVIDIA: MIG support in Kubernetes (`nvidia.com/mig-<profile>` with the mixed strategy)](https://docs.nvidia.com/datacenter/cloud-native/kubernetes/latest/index.html)
- [API server validation: `must be a standard resource type or fully qualified`](https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go)
"""

import functools
from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.resources import section
from mllint.rules.traits import gpu_name_for, is_accelerator, means_gpu
from mllint.rules.workload import Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for c in scope.containers:
        for kind in ("requests", "limits"):
            amounts = section(c.spec, kind)
            for resource, amount in amounts.items():
                if not isinstance(resource, str) or not _misnamed(resource):
                    continue
                at = jp.join(c.pointer, "resources", kind, resource)
                meant = gpu_name_for(resource)
                if meant is None:
                    yield Violation(
                        at,
                        f"container {c.name!r} asks for {resource!r} in resources.{kind}, which no "
                        "device plugin advertises: use the name the cluster's GPU plugin uses",
                    )
                    continue
                fix = None
                if amounts.get(meant, amount) == amount:
                    target = jp.join(c.pointer, "resources", kind, meant)
                    fix = Fix.unsafe(patch.remove(at), patch.set_value(target, amount))
                yield Violation(
                    at,
                    f"container {c.name!r} asks for {resource!r} in resources.{kind}, which no "
                    f"device plugin advertises, so the pod cannot be scheduled: use {meant!r}",
                    fix,
                )


@functools.lru_cache(maxsize=4096)
def _misnamed(resource: str) -> bool:
    """Whether a resource name asks for a GPU under a name no device plugin advertises: asked
    of every resource name of every container, of which there are few (cpu, memory...)."""
    return not is_accelerator(resource) and means_gpu(resource)


RULE = rule(
    check,
    code="ML102",
    name="gpu-resource-name-invalid",
    severity=Severity.ERROR,
    summary="GPU requested under a resource name no device plugin advertises",
    workloads_only=True,
    fragments=True,
    fix=Safety.UNSAFE,
)
