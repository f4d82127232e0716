"""
## What it does
Flags a LeaderWorkerSet whose groups span several pods (`leaderWorkerTemplate.size` above 1)
and serve a model, when its `leaderWorkerTemplate.restartPolicy` is `None` (or the deprecated
`Default`, which means the same): only the failed pod restarts, not its group.

An unset `restartPolicy` is not flagged: LeaderWorkerSet defaults it to
`RecreateGroupOnPodRestart` since kubernetes-sigs/lws#214 (September 2024); releases before
that defaulted to `Default`, so a team on an older LeaderWorkerSet should set it. Nor is
`RecreateGroupAfterStart`, which recreates the group once all of its pods have started.

## Why is this bad?
A model too large for one node is sharded over the pods of a group: the leader and its workers
join one tensor- or pipeline-parallel process group (vLLM over Ray, SGLang, TensorRT-LLM over
MPI). When one of them restarts alone, the others keep waiting on collectives with a peer
that is gone, and the new pod cannot join a process group that was formed without it: the group
hangs or fails its health checks, and serves no requests until someone deletes it by hand.
`RecreateGroupOnPodRestart` recreates the whole group whenever one of its pods or containers
restarts, so it comes back as a whole.

## Example
```yaml
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
spec:
  leaderWorkerTemplate:
    size: 2
    restartPolicy: None
```
Use instead:
```yaml
    restartPolicy: RecreateGroupOnPodRestart
```

## Fix safety
Unsafe: sets `restartPolicy: RecreateGroupOnPodRestart`, after which a failure of one pod
restarts every pod of its group, which reloads the model on all of them.

## References
- [LeaderWorkerSet API: `restartPolicy` and its default](https://github.com/kubernetes-sigs/lws/blob/main/api/leaderworkerset/v1/leaderworkerset_types.go)
- [kubernetes-sigs/lws#204 and #214: the default changed to `RecreateGroupOnPodRestart`](https://github.com/kubernetes-sigs/lws/issues/204)
- [LeaderWorkerSet: failure handling and restart policies](https://lws.sigs.k8s.io/docs/concepts/failure-handling/)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.traits import ML_PURPOSES
from mllint.rules.workload import Scope

POLICY = "/spec/leaderWorkerTemplate/restartPolicy"
_ALONE = ("None", "Default")


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    template = scope.obj.get("spec", {}).get("leaderWorkerTemplate")
    if not isinstance(template, dict):
        return
    size = template.get("size", 1)
    policy = template.get("restartPolicy")
    if isinstance(size, bool) or not isinstance(size, int) or size < 2 or policy not in _ALONE:
        return
    servers = [p.traits for p in scope.pods if p.traits.model_server]
    if not servers:
        return
    server = next((t.server for t in servers if t.server), None)
    what = f"{server} server" if server else "model server"
    yield Violation(
        POLICY,
        f"restartPolicy {policy} restarts only the failed pod of a {size}-pod {what} group, "
        "whose other pods then wait on a peer that left their process group: set "
        "restartPolicy: RecreateGroupOnPodRestart to restart the group as a whole",
        Fix.unsafe(patch.set_value(POLICY, "RecreateGroupOnPodRestart")),
    )


RULE = rule(
    check,
    code="ML709",
    name="lws-group-restart-missing",
    severity=Severity.WARNING,
    summary="Multi-pod model server in a LeaderWorkerSet restarts pods alone, not as a group",
    kinds={"LeaderWorkerSet"},
    purposes=ML_PURPOSES,
    fix=Safety.UNSAFE,
)
