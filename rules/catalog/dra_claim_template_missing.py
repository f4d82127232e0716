"""
## What it does
Flags a pod that names a DRA ResourceClaimTemplate (`resourceClaims[].resourceClaimTemplateName`)
or ResourceClaim (`resourceClaimName`) that no object linted with it defines, when the pod's
namespace is written and the objects linted define others of that kind in that very namespace.
A whole-set rule: the linter checks it across the files of a run; the admission webhook does
not. Placeholder names (`${CLAIM}`, `{{ ... }}`) are not checked.

Claims and templates are often created apart from the workloads that use them (by a driver's
install, a tutorial step, a platform team), so a set that defines none of that kind in the
namespace proves nothing, and neither does one that defines some in another namespace or
with no namespace: those are not judged.

## Why is this bad?
The devices a pod gets through Dynamic Resource Allocation come from the claim it names, or
from the claim Kubernetes creates for it from the template it names. When that object does
not exist, the claim is never allocated and the pod waits in `Pending` (`resourceclaimtemplate
"..." not found`), with the training job or model server it belongs to. When the manifests
that define the application's claim templates are linted together, a name that matches none
of them is usually a typo or a template renamed in one place only.

## Example
```yaml
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: single-gpu, namespace: research}
---
kind: Job
metadata: {name: finetune, namespace: research}
spec:
  template:
    spec:
      resourceClaims:
        - name: gpu
          resourceClaimTemplateName: one-gpu      # no such template
```
Use instead:
```yaml
          resourceClaimTemplateName: single-gpu
```

## Fix safety
No fix: which template was meant is for the author to say.

## References
- [Dynamic Resource Allocation: ResourceClaims and ResourceClaimTemplates](https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/#resourceclaims-and-resourceclaimtemplates)
- [Kubernetes API: `PodResourceClaim`, `resourceClaimName` and `resourceClaimTemplateName`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Severity
from mllint.rules.setrules import SetIndex, SetViolation, set_rule


def check(index: SetIndex[Any], options: Any) -> Iterator[SetViolation[Any]]:
    defined = {
        (kind, namespace)
        for (kind, _), namespaces in index.names.items()
        for namespace in namespaces
        if namespace
    }
    for workload in index.workloads:
        namespace = workload.entry.namespace
        for at, kind, name in workload.devices:
            if (kind, namespace) not in defined or index.exists(kind, name, namespace):
                continue
            yield SetViolation(
                workload.entry,
                at,
                f"pod names {kind} {name!r}, which none of the objects linted defines, so its "
                "claim is never allocated and the pod would stay Pending: check the name",
            )


RULE = set_rule(
    check,
    code="ML805",
    name="dra-claim-template-missing",
    severity=Severity.INFO,
    summary="Pod names a DRA claim or claim template that the set does not define",
)
