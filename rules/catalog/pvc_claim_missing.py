"""
## What it does
Flags a pod volume whose `persistentVolumeClaim.claimName` (or a KServe
`storageUri: pvc://<claim>/...`) names no PersistentVolumeClaim in its namespace among the
objects linted together, when those objects define PVCs at all. A whole-set rule: the linter
checks it across the files of a run; the admission webhook does not. Names that are still
templates (`{{...}}`, `$(...)`) are not checked.

## What it judges and leaves alone
Claims are looked for in related sets only (docs/operators.md, "Whole-set rules"), and only
where that set defines claims at all; placeholders (`{{...}}`, `${VAR}`, `PVC_NAME`) are not
claim names yet.

## Why is this bad?
A pod that mounts a claim that does not exist is never started: it stays `Pending`
(`persistentvolumeclaim "..." not found`), and a training job or model server waits with it,
often while holding a GPU reservation in its queue. When the manifests that define the
application's claims are linted together, a name that matches none of them is usually a typo
or a claim renamed in one place only.

## Example
```yaml
kind: PersistentVolumeClaim
metadata: {name: imagenet-data}
---
kind: Job
spec:
  template:
    spec:
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: imagenet}   # no such claim
```
Use instead:
```yaml
          persistentVolumeClaim: {claimName: imagenet-data}
```

## Fix safety
No fix: which claim was meant is for the author to say.

## References
- [Persistent volumes: claims as volumes; the claim must exist in the pod's namespace](https://kubernetes.io/docs/concepts/storage/persistent-volumes/#claims-as-volumes)
- [KServe: serving a model from a PVC with `pvc://`](https://kserve.github.io/website/latest/modelserving/storage/pvc/pvc/)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules.model import Severity
from mllint.rules.setrules import SetIndex, SetViolation, set_rule


def check(index: SetIndex[Any], options: Any) -> Iterator[SetViolation[Any]]:
    if not index.claims:
        return
    for workload in index.workloads:
        namespace = workload.entry.namespace
        for at, claim in workload.claims:
            if index.claim_exists(claim, namespace):
                continue
            yield SetViolation(
                workload.entry,
                at,
                f"volume claims PersistentVolumeClaim {claim!r}, which none of the objects "
                "linted defines, so the pod would stay Pending: check the claim name",
            )


RULE = set_rule(
    check,
    code="ML803",
    name="pvc-claim-missing",
    severity=Severity.INFO,
    summary="Pod mounts a PVC that the set does not define",
)
