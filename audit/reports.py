"""PolicyReports of an audit: one per namespace (split past `MAX_RESULTS`) and one
cluster-wide, in the `wgpolicyk8s.io/v1alpha2` API (what Kyverno, Policy Reporter, Rancher and
Fairwinds Insights read today) or its successor `openreports.io/v1alpha1`.

- `policy` is the rule's name, `rule` its code, `source` mllint.
- `result` is what admission would do with the finding, by the webhook's enforcement settings
  (its global audit mode aside: a report answers "what would enforcement do"): deny -> `fail`,
  warn -> `warn`, audit -> `warn` (recorded, never blocking). An object with no finding gets
  one `pass` result (policy `mllint`, rule `all-rules`).
- `severity`: error -> `high`, warning -> `medium`, info -> `low` (`info` in openreports).
- `category`: the rule family (GPU, Jobs, Probes, ...).

Writing is server-side apply by mllint's field manager, with the label
`app.kubernetes.io/managed-by: mllint`; reports so labelled that a run did not write (a
namespace now clean of objects, a split no longer needed) are deleted, so stale results go.
https://github.com/kubernetes-sigs/wg-policy-prototypes/tree/master/policy-report
https://github.com/openreports/reports-api
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mllint.audit.cluster import Cluster, ClusterError, Resource, Wanted
from mllint.audit.judge import Audit, ObjectRef
from mllint.rules import Finding, Severity
from mllint.rules.engine import Registry
from mllint.webhook.decisions import Policy, field_path
from mllint.webhook.settings import Action

MANAGED_BY = ("app.kubernetes.io/managed-by", "mllint")
FIELD_MANAGER = "mllint-audit"
REPORT_NAME = "mllint"
MAX_RESULTS = 1000
"""Results per report: a report is one object, and objects are kept well under etcd's 1.5 MiB."""
SOURCE = "mllint"

RESULT = {Action.DENY: "fail", Action.WARN: "warn", Action.AUDIT: "warn"}

CATEGORIES = {
    "ML0": "Input",
    "ML1": "GPU",
    "ML2": "Jobs",
    "ML3": "Probes",
    "ML4": "Storage",
    "ML5": "Autoscaling",
    "ML6": "Containers",
    "ML7": "ML operators",
    "ML8": "Workload set",
}


@dataclass(frozen=True)
class ReportAPI:
    group: str
    version: str
    kind: str
    plural: str
    cluster_kind: str
    cluster_plural: str
    severity: Mapping[Severity, str]
    top_source: bool
    """Whether the report itself has a `source` field."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def resource(self, cluster_scoped: bool) -> Resource:
        if cluster_scoped:
            return Resource(self.group, self.version, self.cluster_plural, self.cluster_kind, False)
        return Resource(self.group, self.version, self.plural, self.kind, True)


WGPOLICY = ReportAPI(
    "wgpolicyk8s.io",
    "v1alpha2",
    "PolicyReport",
    "policyreports",
    "ClusterPolicyReport",
    "clusterpolicyreports",
    {Severity.ERROR: "high", Severity.WARNING: "medium", Severity.INFO: "low"},
    top_source=False,
)
OPENREPORTS = ReportAPI(
    "openreports.io",
    "v1alpha1",
    "Report",
    "reports",
    "ClusterReport",
    "clusterreports",
    {Severity.ERROR: "high", Severity.WARNING: "medium", Severity.INFO: "info"},
    top_source=True,
)
APIS = {api.api_version: api for api in (WGPOLICY, OPENREPORTS)}


def _resource_ref(ref: ObjectRef) -> dict[str, str]:
    out = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name}
    if ref.namespace:
        out["namespace"] = ref.namespace
    if ref.uid:
        out["uid"] = ref.uid
    return out


class Builder:
    """Results from findings, and the reports that hold them."""

    def __init__(
        self, api: ReportAPI, policy: Policy, registry: Registry, now: dt.datetime
    ) -> None:
        self.api = api
        self.policy = policy
        self.registry = registry
        self.timestamp = {"seconds": int(now.timestamp()), "nanos": 0}

    def failure(self, ref: ObjectRef, finding: Finding) -> dict[str, Any]:
        rule = self.registry.get(finding.code)
        properties = {"field": field_path(finding.pointer), "code": finding.code}
        if rule is not None and rule.url:
            properties["url"] = rule.url
        if finding.fixable:
            properties["fix"] = "mllint --fix"
        return {
            "source": SOURCE,
            "policy": finding.rule,
            "rule": finding.code,
            "result": RESULT[self.policy.action(finding)],
            "severity": self.api.severity[finding.severity],
            "category": CATEGORIES.get(finding.code[:3], "Other"),
            "message": finding.message,
            "scored": True,
            "resources": [_resource_ref(ref)],
            "properties": properties,
            "timestamp": self.timestamp,
        }

    def passed(self, ref: ObjectRef) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "policy": "mllint",
            "rule": "all-rules",
            "result": "pass",
            "message": "no finding of the rules that ran",
            "scored": True,
            "resources": [_resource_ref(ref)],
            "timestamp": self.timestamp,
        }

    def reports(self, audit: Audit) -> Iterator[dict[str, Any]]:
        """The ClusterPolicyReport first, then each namespace's reports, by namespace. Made one
        at a time, so a run holds the results of one report, not of the whole cluster."""
        by_namespace: dict[str, list[tuple[str, ObjectRef, Finding | None]]] = {"": []}
        for ref, finding in audit.findings:
            key = f"{ref}\0{finding.code}\0{finding.pointer}"
            by_namespace.setdefault(ref.namespace, []).append((key, ref, finding))
        for ref in audit.clean:
            by_namespace.setdefault(ref.namespace, []).append((str(ref), ref, None))
        for namespace in sorted(by_namespace):
            entries = sorted(by_namespace[namespace], key=lambda e: e[0])
            for index, start in enumerate(range(0, max(len(entries), 1), MAX_RESULTS)):
                results = [
                    self.passed(ref) if finding is None else self.failure(ref, finding)
                    for _, ref, finding in entries[start : start + MAX_RESULTS]
                ]
                yield self.report(namespace, index, results)

    def report(self, namespace: str, index: int, results: list[dict[str, Any]]) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": REPORT_NAME if index == 0 else f"{REPORT_NAME}-{index + 1}",
            "labels": dict([MANAGED_BY]),
        }
        if namespace:
            metadata["namespace"] = namespace
        report: dict[str, Any] = {
            "apiVersion": self.api.api_version,
            "kind": self.api.kind if namespace else self.api.cluster_kind,
            "metadata": metadata,
        }
        if self.api.top_source:
            report["source"] = SOURCE
        counts = dict.fromkeys(("pass", "fail", "warn", "error", "skip"), 0)
        for r in results:
            counts[r["result"]] += 1
        report["summary"] = counts
        report["results"] = results
        return report


@dataclass(frozen=True, slots=True)
class Written:
    applied: int
    removed: int


def write(
    cluster: Cluster,
    api: ReportAPI,
    reports: Iterable[dict[str, Any]],
    namespaces: Sequence[str] | None,
    field_manager: str = FIELD_MANAGER,
) -> Written:
    """Apply `reports`, then delete mllint's reports of the audited namespaces (all, when
    `namespaces` is None) that this run did not write."""
    served = cluster.discover(
        [
            Wanted(api.group, api.kind, (api.version,), api.plural),
            Wanted(api.group, api.cluster_kind, (api.version,), api.cluster_plural),
        ]
    )
    if len(served) < 2:
        raise ClusterError(
            f"the cluster does not serve {api.api_version} {api.kind} and {api.cluster_kind}: "
            "install their CustomResourceDefinitions (see docs/audit.md), or choose the other "
            "API with --report-api"
        )
    written: set[tuple[bool, str, str]] = set()
    applied = 0
    for report in reports:
        meta = report["metadata"]
        cluster_scoped = "namespace" not in meta
        cluster.apply(api.resource(cluster_scoped), report, field_manager)
        written.add((cluster_scoped, meta.get("namespace", ""), meta["name"]))
        applied += 1
    removed = 0
    selector = "=".join(MANAGED_BY)
    for cluster_scoped, scopes in ((True, [None]), (False, _scopes(namespaces))):
        resource = api.resource(cluster_scoped)
        for scope in scopes:
            for namespace, name in _stale(cluster, resource, scope, selector, written):
                cluster.delete(resource, namespace or None, name)
                removed += 1
    return Written(applied, removed)


def _scopes(namespaces: Sequence[str] | None) -> Iterable[str | None]:
    return [None] if namespaces is None else list(namespaces)


def _stale(
    cluster: Cluster,
    resource: Resource,
    scope: str | None,
    selector: str,
    written: set[tuple[bool, str, str]],
) -> list[tuple[str, str]]:
    stale: list[tuple[str, str]] = []
    # Reports are large (up to MAX_RESULTS results each): only their names are read.
    for page in cluster.pages(resource, scope, 100, label_selector=selector, metadata_only=True):
        for item in page:
            meta = item.get("metadata") or {}
            key = (not resource.namespaced, str(meta.get("namespace") or ""), str(meta.get("name")))
            if key not in written:
                stale.append(key[1:])
    return stale
