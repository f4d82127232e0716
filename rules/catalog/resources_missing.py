"""
## What it does
Flags a container (init containers and sidecars included) that has no CPU request, no memory
request, or no memory limit. A limit given without a request counts as the request, as it
does for the API server.

## What it judges and leaves alone
It judges the containers of ML workloads (`traits.Purpose`): model servers, batch runs and other
pods that use accelerators or run ML software. Databases, queues, web front ends, operators,
and helper, test and demo pods (`busybox`, `sleep`, `nvidia-smi`) are left alone unless the
configuration sets `scope: all` (docs/configuration.md). The containers of a KServe
InferenceService are left alone: KServe's defaulting webhook fills missing CPU and memory
requests and limits from its configuration (`setResourceRequirementDefaults`,
[inference_service_defaults.go](https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_defaults.go)).
A ModelMesh-mode InferenceService makes no predictor pod of its own.

## Why is this bad?
The scheduler places pods by their requests. A container without them is placed as if it
used nothing, so a data loader or tokenizer that needs many gigabytes lands on a node that
has none to spare; a pod with no requests at all is `BestEffort` and the first to be evicted
when the node runs short. Without a memory limit, one container that leaks or loads too much
(a dataset read into memory, a model deserialized on the CPU) can exhaust the node's memory,
and the kernel's OOM killer then picks its victims among the other pods on that GPU node too.
With a limit, the OOM kill stays inside the container that went over.

## Example
```yaml
containers:
  - name: trainer
    resources:
      limits:
        nvidia.com/gpu: 1   # no CPU or memory: placed as if it needed none
```
Use instead:
```yaml
    resources:
      requests:
        cpu: "8"
        memory: 64Gi
      limits:
        memory: 64Gi
        nvidia.com/gpu: 1
```

## Fix safety
No fix: the right amounts depend on the workload; measure them.

## References
- [Requests schedule, limits are enforced; a lone limit is copied to the request](https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits)
- [Pod quality of service classes: `BestEffort` pods are evicted first](https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/)
- [Node-pressure eviction and the kernel OOM killer](https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#node-out-of-memory-behavior)
- [Assign memory resources: a container that exceeds its memory limit is terminated](https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.resources import section
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for c in scope.containers:
        if "resources" in c.provided:
            continue  # its operator fills in requests and limits (KServe's defaults)
        requests, limits = section(c.spec, "requests"), section(c.spec, "limits")
        missing = [
            f"resources.requests.{name}"
            for name in ("cpu", "memory")
            if name not in requests and name not in limits
        ]
        effects = ["is scheduled as if it needed none"] if missing else []
        if "memory" not in limits:
            missing.append("resources.limits.memory")
            effects.append("can use up the node's memory")
        if not missing:
            continue
        resources = c.spec.get("resources")
        yield Violation(
            jp.join(c.pointer, "resources") if isinstance(resources, dict) else c.pointer,
            f"container {c.name!r} sets no {_listing(missing)}, so it {' and '.join(effects)}: "
            f"set {'it' if len(missing) == 1 else 'them'} from measured usage",
        )


def _listing(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else items[0]


RULE = rule(
    check,
    code="ML601",
    name="resources-missing",
    severity=Severity.WARNING,
    summary="Container without CPU and memory requests or a memory limit",
    purposes=ML_PURPOSES,
    generic=True,
)
