"""
## What it does
Flags a pod that requests GPUs but neither tolerates the taint the cluster puts on its GPU
nodes (`taint-keys`, default `nvidia.com/gpu`) nor selects GPU nodes by label
(`node-label-keys`) in `nodeSelector` or required node affinity. Off by default: turn it on
(`extend-select = ["ML702"]`) on clusters whose GPU nodes are tainted.

## What it judges and leaves alone
It judges ML pods that ask for GPUs (not TPUs or other accelerators, whose nodes carry other
taints). A pod that selects a node by `node.kubernetes.io/instance-type`, or an
InferenceService with KServe's `serving.kserve.io/gke-accelerator` annotation (KServe's
accelerator injector adds the node selector), selects GPU nodes. GKE adds the GPU toleration
itself to pods that request GPUs, which a manifest does not show: the rule is off by default.

## Why is this bad?
Clusters taint GPU nodes so that ordinary pods stay off them; a pod is scheduled there only if
it tolerates the taint. Some platforms add the toleration to every pod that requests a GPU
(GKE does, with the ExtendedResourceToleration admission plugin); most clusters that taint
their GPU nodes by hand do not, and there a GPU pod without the toleration stays `Pending`
with `had untolerated taint {nvidia.com/gpu: ...}`, while the autoscaler adds no node for it.

## Example
```yaml
spec:
  containers:
    - name: trainer
      resources:
        limits: {nvidia.com/gpu: 1}
```
Use instead:
```yaml
spec:
  tolerations:
    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
  containers:
    - name: trainer
      resources:
        limits: {nvidia.com/gpu: 1}
```

## Fix safety
Unsafe: adds a toleration for the first of the `taint-keys` (`operator: Exists`, effect
`NoSchedule`). It lets the pod onto nodes carrying that taint, which is the intent for a GPU
pod, but the rule cannot see the cluster's taints.

## References
- [Taints and tolerations: dedicated nodes and nodes with special hardware](https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#example-use-cases)
- [Admission controllers: ExtendedResourceToleration](https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#extendedresourcetoleration)
- [AKS: taint GPU node pools so that only GPU workloads run there](https://learn.microsoft.com/en-us/azure/aks/gpu-cluster)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Fix, RuleOptions, Safety, Severity, Violation, option, rule
from mllint.rules.traits import ML_PURPOSES, accelerator
from mllint.rules.workload import Pod, Scope


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    taint_keys: tuple[str, ...] = option(
        ("nvidia.com/gpu",), "Keys of the taints on GPU nodes.", min_length=1
    )
    node_label_keys: tuple[str, ...] = option(
        (
            "nvidia.com/gpu.present",
            "nvidia.com/gpu.product",
            "cloud.google.com/gke-accelerator",
            "k8s.amazonaws.com/accelerator",
            "accelerator",
            "node.kubernetes.io/instance-type",
            "beta.kubernetes.io/instance-type",
        ),
        "Node labels that select GPU nodes.",
    )


GKE_ACCELERATOR = "serving.kserve.io/gke-accelerator"


def _gpus(accelerators: Mapping[str, int]) -> bool:
    found = (accelerator(r) for r, n in accelerators.items() if n > 0)
    return any(a is not None and a.device == "GPU" for a in found)


def _tolerates(pod: Pod, keys: tuple[str, ...]) -> bool:
    tolerations = pod.spec.get("tolerations")
    if not isinstance(tolerations, list):
        return False
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("key") in keys or (not t.get("key") and t.get("operator") == "Exists"):
            return True
    return False


def _selects(pod: Pod, keys: tuple[str, ...]) -> bool:
    selector = pod.spec.get("nodeSelector")
    if isinstance(selector, dict) and any(k in selector for k in keys):
        return True
    affinity: Any = pod.spec.get("affinity")
    terms = jp.expand(
        affinity,
        "/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
        "/nodeSelectorTerms/*/matchExpressions/*",
    )
    return any(isinstance(e, dict) and e.get("key") in keys for _, e in terms)


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    for pod in scope.pods:
        asking = [c for c in pod.containers if _gpus(c.accelerators)]
        if not asking:
            continue
        if _tolerates(pod, options.taint_keys) or _selects(pod, options.node_label_keys):
            continue
        annotations = scope.subject.metadata.get("annotations")
        if isinstance(annotations, dict) and GKE_ACCELERATOR in annotations:
            continue  # KServe's accelerator injector adds the matching nodeSelector
        toleration: Mapping[str, Any] = {
            "key": options.taint_keys[0],
            "operator": "Exists",
            "effect": "NoSchedule",
        }
        yield Violation(
            asking[0].pointer,
            f"container {asking[0].name!r} requests GPUs, but its pod neither tolerates the "
            f"GPU nodes' taint ({options.taint_keys[0]}) nor selects GPU nodes, so it stays "
            "Pending where GPU nodes are tainted: add a toleration",
            Fix.unsafe(patch.append(jp.join(pod.pointer, "tolerations"), dict(toleration))),
        )


RULE = rule(
    check,
    code="ML702",
    name="gpu-toleration-missing",
    severity=Severity.INFO,
    summary="GPU pod that tolerates no GPU-node taint and selects no GPU node",
    purposes=ML_PURPOSES,
    options=Options,
    fix=Safety.UNSAFE,
    enabled_by_default=False,
)
