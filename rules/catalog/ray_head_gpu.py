"""
## What it does
Flags a Ray cluster (RayCluster, or the cluster of a RayJob or RayService) whose head pod
requests GPUs while the cluster has worker groups.

## Why is this bad?
The head pod runs the cluster's control plane: the GCS, the dashboard, the autoscaler, the
job drivers. Ray's guidance is to keep tasks and actors off it, so that a user workload
cannot starve or crash the process every other node depends on. GPUs given to the head are
then either idle for the cluster's whole life, while they are reserved and paid for, or used
by GPU tasks scheduled next to the control plane, where an out-of-memory task takes the whole
cluster down. GPUs belong on worker groups, which the autoscaler can also scale to zero.

## Example
```yaml
headGroupSpec:
  template:
    spec:
      containers:
        - name: ray-head
          resources:
            limits: {nvidia.com/gpu: 1}   # reserved for the control plane
workerGroupSpecs:
  - groupName: gpu
```
Use instead:
```yaml
headGroupSpec:
  rayStartParams: {num-cpus: "0"}
  template:
    spec:
      containers:
        - name: ray-head
          resources:
            limits: {cpu: "4", memory: 16Gi}
```

## Fix safety
No fix: moving the GPUs to a worker group is a capacity decision.

## References
- [Ray: avoid scheduling tasks and actors on the head node](https://docs.ray.io/en/latest/ray-core/head-node-memory-management.html)
- [Ray: configuring the head node of a large cluster](https://docs.ray.io/en/latest/cluster/vms/user-guides/large-cluster-best-practices.html#configuring-the-head-node)
- [KubeRay: using GPUs in worker groups](https://docs.ray.io/en/latest/cluster/kubernetes/user-guides/gpu.html)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.workload import Scope

HEAD = "/headGroupSpec/template/spec"


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        if not pod.pointer.endswith(HEAD):
            continue
        cluster = pod.pointer[: -len(HEAD)]
        workers = next((v for _, v in jp.expand(scope.obj, cluster + "/workerGroupSpecs")), None)
        if not workers:
            continue  # a single-node cluster: the head is where the work runs
        for c in pod.main_containers:
            gpus = c.accelerator_count
            if gpus:
                yield Violation(
                    jp.join(c.pointer, "resources"),
                    f"Ray head container {c.name!r} requests {gpus} {pod.traits.device}(s); the "
                    "head runs the cluster's control plane and should not run accelerator work: "
                    f"give the {pod.traits.device}s to a "
                    "worker group",
                )


RULE = rule(
    check,
    code="ML704",
    name="ray-head-gpu",
    severity=Severity.WARNING,
    summary="Ray head pod requests GPUs",
    kinds={"RayCluster", "RayJob", "RayService"},
)
