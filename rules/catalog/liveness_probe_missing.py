"""
## What it does
Flags a serving container (a model server in a Deployment, StatefulSet, KServe predictor...)
that has no `livenessProbe`. Init containers and batch workloads are not checked.

## What it judges and leaves alone
It judges the containers that serve the model in model servers (`traits.Purpose`): those that
run a known server or use accelerators, else those that serve a port. A liveness probe
restarts only its own container, so a proxy or exporter beside the server is not asked for
one; neither is an LWS or Ray worker that only joins its leader's Ray cluster
(`ray start --block`). Databases, queues, web front ends, operators and test pods are left
alone unless the configuration sets `scope: all`. KubeRay's injected liveness probe, the Seldon
Core operator's TCP probes and the presets of KServe's `LLMInferenceServiceConfig` count as
set. Knative adds no liveness probe, so a KServe predictor is judged in every mode.

## Why is this bad?
The kubelet restarts a container when its process exits, but not when it hangs. A model
server whose GPU hit an unrecoverable error, or whose worker deadlocked, can keep its process
alive while answering nothing: without a liveness probe it stays that way, still holding its
GPU, until someone restarts it by hand. A liveness probe on the server's health endpoint lets
the kubelet restart it. Pair it with a startup probe so that it does not fire while the model
loads (rule ML301).

## Example
```yaml
containers:
  - name: server              # a hung server is never restarted
    image: nvcr.io/nvidia/tritonserver:24.08-py3
```
Use instead:
```yaml
  - name: server
    image: nvcr.io/nvidia/tritonserver:24.08-py3
    livenessProbe:
      httpGet: {path: /v2/health/live, port: 8000}
```

## Fix safety
No fix: the health endpoint of a model server cannot be guessed.

## Operators
Containers whose operator adds a liveness probe itself are not flagged: the Ray containers of a
RayCluster, RayJob or RayService (KubeRay, kuberay#1674) and Seldon graph containers (the
Seldon Core operator adds TCP probes). Sources: docs/operators.md.

## References
- [Configure liveness, readiness and startup probes: define a liveness command and HTTP request](https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#define-a-liveness-http-request)
- [Pod lifecycle: when to use a liveness probe](https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#when-should-you-use-a-liveness-probe)
- [Open Inference Protocol (KServe v2, served by Triton): `/v2/health/live` and `/v2/health/ready`](https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Role, Severity, Violation, rule
from mllint.rules.traits import Purpose
from mllint.rules.workload import Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for c in scope.serving_containers:
        if not c.has("livenessProbe"):
            yield Violation(
                c.pointer,
                f"container {c.name!r} has no livenessProbe, so a hung server is never "
                "restarted: add a livenessProbe on its health endpoint",
            )


RULE = rule(
    check,
    code="ML303",
    name="liveness-probe-missing",
    severity=Severity.WARNING,
    summary="Model server without a livenessProbe is never restarted when it hangs",
    roles={Role.SERVING},
    purposes={Purpose.MODEL_SERVER},
    generic=True,
)
