"""Judging what a cluster holds: the kinds mllint judges, listed page by page, each object run
through the webhook's engine and configuration, then the whole-set rules over all of them.

What admission would not judge is not judged here either: objects in exempt namespaces, objects
being deleted, and (unless `judge-controlled` is set) objects a controller made from another
object the audit judges, such as the Pods of a ReplicaSet of a Deployment or the Jobs of a
CronJob. Their owner is judged instead, once. Exemptions by user or group have no meaning for
stored objects and do not apply.

Memory: a page is dropped once judged; what is kept per object is its findings, the compact
summaries of the whole-set rules, and (for PolicyReports) the reference of each clean object.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mllint.audit.cluster import Cluster, ListExpired, Resource, Wanted
from mllint.rules import Engine, Finding
from mllint.rules.workload import OTHER_KINDS, group_of

SET_RULE_KINDS = (
    Wanted("policy", "PodDisruptionBudget", ("v1", "v1beta1"), "poddisruptionbudgets"),
    Wanted("", "PersistentVolumeClaim", ("v1",), "persistentvolumeclaims"),
)
"""Kinds no rule judges alone that the whole-set rules read (a workload's PDB, its claims)."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A cluster object as reports name it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    def __str__(self) -> str:
        group = group_of(self.api_version)
        kind = f"{self.kind}.{group}" if group else self.kind
        return f"{self.namespace}/{kind}/{self.name}" if self.namespace else f"{kind}/{self.name}"

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            str(meta.get("uid") or ""),
        )


@dataclass(slots=True)
class Audit:
    """One run's results: findings by object, clean objects, and counts for the log line."""

    findings: list[tuple[ObjectRef, Finding]] = field(default_factory=list)
    clean: list[ObjectRef] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    objects: int = 0
    judged: int = 0
    exempt: int = 0
    controlled: int = 0
    deleting: int = 0


def wanted_kinds(engine: Engine) -> list[Wanted]:
    """Every kind an active rule judges, and the kinds the active whole-set rules read."""
    kinds = [Wanted(k.group, k.kind, k.versions, k.plural) for k in engine.kinds]
    named = {k for a in engine.active for k in a.rule.kinds}
    kinds += [Wanted(k.group, k.kind, k.versions, k.plural) for k in OTHER_KINDS if k.kind in named]
    if any(a.rule.whole_set for a in engine.active):
        kinds += SET_RULE_KINDS
    return kinds


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def run(
    cluster: Cluster,
    engine: Engine,
    *,
    namespaces: Sequence[str] | None,
    page_size: int,
    exempt_namespaces: Sequence[str] = (),
    judge_controlled: bool = False,
    keep_clean: bool = False,
) -> Audit:
    """Judge the cluster (or `namespaces` of it): list each served kind, evaluate every object
    admission would judge, then run the whole-set rules over them."""
    audit = Audit(resources=cluster.discover(wanted_kinds(engine)))
    judged_kinds = {(r.group, r.kind) for r in audit.resources}
    collector = engine.collector()
    for resource in audit.resources:
        scopes: Sequence[str | None] = (
            namespaces if namespaces is not None and resource.namespaced else [None]
        )
        for namespace in scopes:
            for obj in _listed(cluster, resource, namespace, page_size):
                audit.objects += 1
                meta = obj.get("metadata") or {}
                if _matches(str(meta.get("namespace") or ""), exempt_namespaces):
                    audit.exempt += 1
                    continue
                if meta.get("deletionTimestamp"):
                    audit.deleting += 1
                    continue
                if not judge_controlled and _controlled_by(meta, judged_kinds):
                    audit.controlled += 1
                    continue
                audit.judged += 1
                ref = ObjectRef.of(obj)
                collector.add(obj, ref)
                found = engine.evaluate(obj)
                audit.findings += [(ref, f) for f in found]
                if keep_clean and not found:
                    audit.clean.append(ref)
    audit.findings += list(collector.findings())
    if keep_clean:
        with_findings = {ref for ref, _ in audit.findings}
        audit.clean = [ref for ref in audit.clean if ref not in with_findings]
    return audit


RELISTS = 2
"""Times a list whose `continue` token expired is started again before the audit gives up."""


def _listed(
    cluster: Cluster, resource: Resource, namespace: str | None, page_size: int
) -> Iterator[dict[str, Any]]:
    """Every object of a kind, once. A list whose `continue` token expired (410 Gone: the API
    server compacted past the list's snapshot) is started again, and the objects already seen,
    by uid, are skipped, as informers relist."""
    seen: set[str] = set()
    for attempt in range(RELISTS + 1):
        try:
            for page in cluster.pages(resource, namespace, page_size):
                for obj in page:
                    uid = str((obj.get("metadata") or {}).get("uid") or "")
                    if uid in seen:
                        continue
                    if uid:
                        seen.add(uid)
                    yield obj
            return
        except ListExpired:
            if attempt == RELISTS:
                raise


def _controlled_by(meta: Mapping[str, Any], judged: set[tuple[str, str]]) -> bool:
    """Whether a controller of a kind the audit judges made this object."""
    owners = meta.get("ownerReferences")
    for owner in owners if isinstance(owners, list) else ():
        if isinstance(owner, dict) and owner.get("controller") is True:
            group = group_of(str(owner.get("apiVersion", "")))
            if (group, str(owner.get("kind", ""))) in judged:
                return True
    return False
