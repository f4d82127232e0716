"""
## What it does
Flags a serving container (a model server in a Deployment, StatefulSet, KServe predictor...)
that has no `readinessProbe`. Init containers and batch workloads are not checked.

## What it judges and leaves alone
It judges model servers (`traits.Purpose`), pod by pod: when no main container of the pod has a
readiness probe, it flags the containers that serve the model and those that take its traffic
(a front end's port). A readiness probe on any main container keeps the whole pod out of its
Service until it passes, so such a pod is not flagged. Databases, queues, web front ends,
operators and test pods are left alone unless the configuration sets `scope: all`.

Provided by the platform, so not flagged: KubeRay's readiness probe on Ray containers
([constant.go](https://github.com/ray-project/kuberay/blob/master/ray-operator/controllers/ray/utils/constant.go)),
the Seldon Core operator's TCP probes, the probes of KServe's `LLMInferenceServiceConfig`
presets, Knative's default readiness check on a KServe component in Serverless mode
([Knative: configuring probing](https://knative.dev/docs/serving/services/configure-probing/)),
and the TCP readiness probe KServe adds to `kserve-container` in the `RawDeployment` and
`Standard` modes (`setDefaultPodSpec`,
[deployment_reconciler.go](https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/deployment/deployment_reconciler.go)).
A ModelMesh-mode InferenceService makes no predictor pod of its own.

## Why is this bad?
A Service sends traffic to a pod once its containers are ready, and without a readiness probe
a container counts as ready as soon as it has started. A model server that is still loading
its weights then receives requests it answers with errors or timeouts, on every rollout and
every scale-up. A rolling update also counts such pods as available and moves on to remove
the old, working ones. A readiness probe that checks the server's health endpoint keeps the
pod out of the Service until it can answer.

## Example
```yaml
containers:
  - name: server              # ready as soon as it starts, long before the model loads
    image: nvcr.io/nvidia/tritonserver:24.08-py3
```
Use instead:
```yaml
  - name: server
    image: nvcr.io/nvidia/tritonserver:24.08-py3
    readinessProbe:
      httpGet: {path: /v2/health/ready, port: 8000}
```

## Fix safety
No fix: the health endpoint of a model server cannot be guessed.

## Operators
Containers whose operator adds a readiness probe itself are not flagged: the Ray containers of a
RayCluster, RayJob or RayService (KubeRay, kuberay#1674) and Seldon graph containers (the
Seldon Core operator adds TCP probes). Sources: docs/operators.md.

## References
- [Configure liveness, readiness and startup probes: define readiness probes](https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#define-readiness-probes)
- [Pod lifecycle: a container without a readiness probe is ready by default](https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes)
- [Deployments: rolling updates wait for new pods to be available](https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment)
- [Open Inference Protocol (KServe v2, served by Triton): `/v2/health/live` and `/v2/health/ready`](https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/)
- [llm-d: vLLM model-aware probes; a model server is running long before its model is loaded](https://llm-d.ai/docs/usage/readiness-probes)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Role, Severity, Violation, rule
from mllint.rules.traits import Purpose, declares_port, is_helper
from mllint.rules.workload import Container, Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for pod in scope.pods:
        main = list(pod.main_containers)
        if any(c.has("readinessProbe") for c in main):
            continue  # the pod is not ready, and gets no traffic, until that probe passes
        model_server = pod.traits.model_server
        for c in main:
            if model_server and not _judged(c):
                continue
            yield Violation(
                c.pointer,
                f"container {c.name!r} has no readinessProbe, so the pod gets traffic as soon "
                f"as it starts, {_while(model_server)}: add a readinessProbe on "
                "the server's health endpoint",
            )


def _judged(c: Container) -> bool:
    """In a model server, the containers that serve the model and those that take its traffic
    (a front end's port) are where a readiness probe belongs."""
    return c.pointer in c.pod.traits.serving or (declares_port(c.spec) and not is_helper(c))


def _while(model_server: bool) -> str:
    return "while a model may still be loading" if model_server else "before it can answer"


RULE = rule(
    check,
    code="ML302",
    name="readiness-probe-missing",
    severity=Severity.WARNING,
    summary="Model server without a readinessProbe gets traffic before it is ready",
    roles={Role.SERVING},
    purposes={Purpose.MODEL_SERVER},
    generic=True,
)
