"""
## What it does
Flags a serving container (a model server in a Deployment, StatefulSet, KServe predictor...)
that has a `livenessProbe` but no `startupProbe`, or that has no probe at all. Init containers
and batch workloads are not checked.

## What it judges and leaves alone
It judges the containers that serve the model in model servers (`traits.Purpose`): a KServe
predictor or explainer, a ServingRuntime, a SeldonDeployment, an LLMInferenceService, a
RayService, or a long-running pod that runs a known model server (vLLM, SGLang, TGI, Triton,
TorchServe, MLServer, TensorFlow Serving, llama.cpp, Ollama, NIM, Ray Serve, JetStream...), or
that uses accelerators and serves a port. Sidecars (proxies, exporters) and every pod that is
not a model server (databases, queues, web front ends, operators, test pods) are left alone,
unless the configuration sets `scope: all` (docs/configuration.md).

The liveness probe in effect is judged by its headroom: `initialDelaySeconds` plus
`failureThreshold` times `periodSeconds` (Kubernetes' defaults 0, 3 and 10). A container whose
liveness probe already allows `model-load-seconds` needs no startup probe.

- KubeRay injects a liveness probe on the raylet's health into Ray containers that set none:
  30 s + 120 x 5 s = 630 s (`DefaultLivenessProbe*`,
  [constant.go](https://github.com/ray-project/kuberay/blob/master/ray-operator/controllers/ray/utils/constant.go));
  its headroom is judged as the container's own would be, and the message names KubeRay's probe.
- The Seldon Core operator's TCP probes answer once the Python wrapper binds its port, which it
  does before the model's `load()` runs, so they cannot kill a loading model.
- An LLMInferenceService's `main` container gets startup, liveness and readiness probes from
  KServe's well-known `LLMInferenceServiceConfig` presets
  ([config-llm-template.yaml](https://github.com/kserve/kserve/tree/master/config/llmisvcconfig)).
- A KServe InferenceService in the default Serverless mode gets Knative's readiness check and
  no liveness probe, so nothing kills the load; the raw modes are judged as a Deployment.
- An InferenceService in ModelMesh mode makes no predictor pod of its own.

## Why is this bad?
A model server is not alive-and-ready a few seconds after it starts: it first downloads and
loads its weights, moves them to the GPU and warms up, which takes minutes for large models.
Until a startup probe succeeds, the kubelet holds off liveness and readiness probes; without
one, the liveness probe runs from the start, fails while the model loads, and the kubelet
kills the container after `failureThreshold` failures. The container restarts, loads the model
again and is killed again: a crash loop that only shows up with real model sizes. A startup
probe that allows `failureThreshold` times `periodSeconds` for the load avoids it without making
the liveness probe slow to catch a hung server later.

## Example
```yaml
containers:
  - name: server
    image: vllm/vllm-openai:v0.6.3
    livenessProbe:            # fails while the weights load: restart loop
      httpGet: {path: /health, port: 8000}
```
Use instead:
```yaml
    startupProbe:
      httpGet: {path: /health, port: 8000}
      periodSeconds: 10
      failureThreshold: 60    # up to 600 s to load the model
```

## Fix safety
Unsafe: adds a `startupProbe` that reuses the liveness probe's handler (the readiness probe's
when the liveness probe has none), probing every 10 seconds for up to `model-load-seconds`
(600 by default). Whether that handler answers once the model is loaded, and whether the time
fits the model, depends on the server. No fix is offered for a container without probes: there
is no handler to reuse.

## References
- [Protect slow-starting containers with startup probes](https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#define-startup-probes)
- [Probes: liveness and readiness checks wait for the startup probe to succeed](https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/)
- [Pod lifecycle: container probes and their handlers](https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes)
- [llm-d: vLLM model-aware probes; a model server is running long before its model is loaded](https://llm-d.ai/docs/usage/readiness-probes)
"""

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Role, RuleOptions, Safety, Severity, Violation, option, rule
from mllint.rules.traits import Purpose
from mllint.rules.workload import Scope

HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
PERIOD_SECONDS = 10


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    model_load_seconds: int = option(
        600, "The longest a model server may take to start and load its model.", gt=0
    )


def handler(probe: Any) -> dict[str, Any] | None:
    """The handler of a probe (`{"httpGet": {...}}`), None when it has none."""
    if not isinstance(probe, Mapping):
        return None
    for key in HANDLERS:
        if key in probe:
            return {key: probe[key]}
    return None


def headroom(probe: Mapping[str, Any]) -> int:
    """Seconds from a container's start until a failing liveness probe kills it."""

    def number(key: str, default: int) -> int:
        value = probe.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    return number("initialDelaySeconds", 0) + number("failureThreshold", 3) * number(
        "periodSeconds", 10
    )


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    load = options.model_load_seconds
    for c in scope.serving_containers:
        if c.has("startupProbe"):
            continue
        what = "to load the model" if c.pod.traits.model_server else "to start"
        liveness, operator = c.probe("livenessProbe")
        if liveness is None:
            if not c.has("readinessProbe"):
                yield Violation(
                    c.pointer,
                    f"container {c.name!r} has no probes: add a startupProbe that allows "
                    f"{load}s {what}, then readiness and liveness probes",
                )
            continue
        room = headroom(liveness)
        if room >= load:
            continue
        whose = f"the livenessProbe {operator} adds" if operator else "its livenessProbe"
        fix = None
        found = handler(c.spec.get("livenessProbe")) or handler(c.spec.get("readinessProbe"))
        if found is not None and not operator:
            attempts = -(-load // PERIOD_SECONDS)
            probe = {**found, "periodSeconds": PERIOD_SECONDS, "failureThreshold": attempts}
            fix = Fix.unsafe(patch.set_value(jp.join(c.pointer, "startupProbe"), probe))
        yield Violation(
            c.pointer,
            f"container {c.name!r} has no startupProbe, and {whose} can kill it {room}s after "
            f"it starts, before it has had {load}s {what}: add a startupProbe that allows "
            f"{load}s",
            fix,
        )


RULE = rule(
    check,
    code="ML301",
    name="startup-probe-missing",
    severity=Severity.WARNING,
    summary="Model server without a startupProbe can be killed while its model loads",
    roles={Role.SERVING},
    purposes={Purpose.MODEL_SERVER},
    generic=True,
    options=Options,
    fix=Safety.UNSAFE,
)
