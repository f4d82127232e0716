"""
## What it does
Flags a KServe InferenceService component (predictor, transformer, explainer) that requests
GPUs and sets `minReplicas: 0`, in the serverless deployment mode where that scales it to
zero.

## Why is this bad?
A GPU model server is the slowest kind of pod to bring back: a GPU node may have to be added
by the cluster autoscaler, the storage initializer downloads the model (gigabytes for an
LLM), and the server loads it into GPU memory. Scaled to zero, the first request after an idle
period waits for all of that, and Knative's scale-down after its grace period can delete the
pod before it is ever ready: KServe users report InferenceServices that never become `Ready`
for that reason. Keep one replica warm (`minReplicas: 1`) for GPU models, and scale to zero
only models that start in seconds.

## Example
```yaml
spec:
  predictor:
    minReplicas: 0
    model:
      modelFormat: {name: huggingface}
      resources:
        limits: {nvidia.com/gpu: 1}
```
Use instead:
```yaml
spec:
  predictor:
    minReplicas: 1
```

## Fix safety
Unsafe: sets `minReplicas: 1`, which keeps one GPU pod running when there is no traffic, and
so costs what scaling to zero was meant to save.

## References
- [KServe: scale to zero with `minReplicas: 0`](https://kserve.github.io/website/latest/modelserving/autoscaling/autoscaling/)
- [kserve/kserve#1247: scale to zero makes an InferenceService with a long start fail](https://github.com/kserve/kserve/issues/1247)
- [kserve/kserve#1641: pod terminated before it is ready with minReplicas 0](https://github.com/kserve/kserve/issues/1641)
- [Knative: scale-to-zero grace period](https://knative.dev/docs/serving/autoscaling/scale-to-zero/)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.workload import Scope

DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
# Modes backed by a Deployment and an HPA, which never scale to zero.
RAW_MODES = ("RawDeployment", "Standard")


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    annotations = scope.subject.metadata.get("annotations")
    if isinstance(annotations, dict) and annotations.get(DEPLOYMENT_MODE) in RAW_MODES:
        return
    for pod in scope.pods:
        if pod.spec.get("minReplicas") != 0:
            continue
        gpus = sum(c.accelerator_count for c in pod.containers)
        if gpus:
            at = jp.join(pod.pointer, "minReplicas")
            yield Violation(
                at,
                f"component requests {gpus} {pod.traits.device}(s) and scales to zero, so a "
                f"request after an idle period waits for a {pod.traits.device} node, the model "
                "download and its load: set "
                "minReplicas: 1",
                Fix.unsafe(patch.set_value(at, 1)),
            )


RULE = rule(
    check,
    code="ML705",
    name="gpu-scale-to-zero",
    severity=Severity.WARNING,
    summary="GPU InferenceService that scales to zero",
    kinds={"InferenceService"},
    fix=Safety.UNSAFE,
)
