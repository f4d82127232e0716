"""What the audit asks of the API server: discovery, paged lists, server-side apply and delete.

Raw REST calls through the official client's `ApiClient` (its authentication, TLS and
kubeconfig handling), so that any kind, custom resources included, is read the same way and a
list page is parsed once, as JSON, and dropped before the next one is fetched.
https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

APPLY_PATCH = "application/apply-patch+yaml"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
"""Lists of objects' metadata alone (what `kubectl get` asks for); a server that does not offer
them answers with whole objects."""
REQUEST_TIMEOUT = 60
"""Seconds per request: a page of 500 objects from a busy API server takes a few."""


class ClusterError(Exception):
    """The cluster could not be read or written: a message for the user (exit status 2)."""


class ListExpired(ClusterError):
    """410 Gone: a list's `continue` token outlived the snapshot it pages through."""


@dataclass(frozen=True, slots=True)
class Resource:
    """A kind the cluster serves: where to list it, and how its objects are named."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return base + (f"/{name}" if name else "")


@dataclass(frozen=True, slots=True)
class Wanted:
    """A kind mllint judges: its group, the versions it reads, its plural."""

    group: str
    kind: str
    versions: tuple[str, ...]
    plural: str


@dataclass(slots=True)
class Stats:
    requests: int = 0
    pages: int = 0


class Cluster:
    """An API server, through an `ApiClient` of the official client."""

    def __init__(self, api_client: Any) -> None:
        self.api = api_client
        self.stats = Stats()

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def call(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        *,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> Any:
        """One request; the parsed JSON answer. Refusals and unreachable servers raise
        ClusterError; a 404 returns None (a kind or an object that is not there)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        self.stats.requests += 1
        try:
            data = self._request(method, path, query, headers, body)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 410:
                raise ListExpired(refusal(method, path, exc)) from None
            if not exc.status:
                raise ClusterError(self._unreachable(exc.reason)) from None
            raise ClusterError(refusal(method, path, exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            # urllib3 wraps the cause (refused, timed out, bad certificate) in retry errors.
            raise ClusterError(self._unreachable(getattr(exc, "reason", None) or exc)) from None
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise ClusterError(f"{method} {path}: the API server's answer is not JSON") from None

    def _unreachable(self, cause: object) -> str:
        return f"cannot reach the Kubernetes API server at {self.host}: {cause}"

    def _request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
    ) -> bytes:
        """The answer's body; ApiException for an answer that is not a success."""
        from kubernetes.client.exceptions import ApiException

        if not hasattr(self.api, "param_serialize"):
            # Clients before the openapi-generator 7 rewrite: call_api builds and checks.
            response = self.api.call_api(
                path,
                method,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=REQUEST_TIMEOUT,
            )
            return bytes(response.data)
        serialized = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*serialized, _request_timeout=REQUEST_TIMEOUT)
        data = bytes(response.read() or b"")
        if not 200 <= response.status <= 299:
            raise ApiException(
                status=response.status,
                reason=response.reason,
                body=data.decode("utf-8", "replace"),
            )
        return data

    def discover(self, wanted: Iterable[Wanted]) -> list[Resource]:
        """The kinds of `wanted` the cluster serves, each at the version mllint reads that the
        cluster prefers (else the first it serves); kinds it does not serve are left out."""
        by_group: dict[str, list[Wanted]] = {}
        for w in wanted:
            by_group.setdefault(w.group, []).append(w)
        served: dict[str, list[str]] = {}
        if "" in by_group:
            core = self.call("GET", "/api") or {}
            served[""] = [str(v) for v in core.get("versions") or ()]
        if any(by_group.keys() - {""}):
            groups = (self.call("GET", "/apis") or {}).get("groups") or ()
            for g in groups:
                if g.get("name") in by_group:
                    versions = [str(v.get("version")) for v in g.get("versions") or ()]
                    preferred = (g.get("preferredVersion") or {}).get("version")
                    if preferred in versions:
                        versions.remove(preferred)
                        versions.insert(0, preferred)
                    served[g["name"]] = versions
        found: list[Resource] = []
        lists: dict[tuple[str, str], dict[str, Any]] = {}
        for group, kinds in sorted(by_group.items()):
            for w in sorted(kinds, key=lambda k: k.kind):
                for version in served.get(group, ()):
                    if version not in w.versions:
                        continue
                    resources = self._resources(group, version, lists)
                    entry = resources.get(w.plural)
                    if entry is not None and entry.get("kind") == w.kind:
                        found.append(
                            Resource(
                                group, version, w.plural, w.kind, bool(entry.get("namespaced"))
                            )
                        )
                        break
        return found

    def _resources(
        self, group: str, version: str, cache: dict[tuple[str, str], dict[str, Any]]
    ) -> dict[str, Any]:
        key = (group, version)
        if key not in cache:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            listed = (self.call("GET", path) or {}).get("resources") or ()
            # Subresources (`pods/log`) are listed beside the kinds; only kinds are wanted.
            cache[key] = {r["name"]: r for r in listed if "/" not in r.get("name", "/")}
        return cache[key]

    def pages(
        self,
        resource: Resource,
        namespace: str | None,
        page_size: int,
        label_selector: str | None = None,
        metadata_only: bool = False,
    ) -> Iterator[list[dict[str, Any]]]:
        """The objects of a kind page by page (`limit` and `continue`), each object with its
        `apiVersion` and `kind` (which list items of built-in kinds leave out); with
        `metadata_only`, only their metadata where the server offers it."""
        token = ""
        path = resource.path(namespace if resource.namespaced else None)
        while True:
            query = [("limit", str(page_size))]
            if token:
                query.append(("continue", token))
            if label_selector:
                query.append(("labelSelector", label_selector))
            answer = self.call(
                "GET", path, query, accept=METADATA_ONLY if metadata_only else "application/json"
            )
            if answer is None:
                return
            self.stats.pages += 1
            items = answer.get("items") or []
            for item in items:
                item["apiVersion"] = resource.api_version
                item["kind"] = resource.kind
            yield items
            token = (answer.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def apply(self, resource: Resource, obj: dict[str, Any], field_manager: str) -> Any:
        meta = obj["metadata"]
        path = resource.path(meta.get("namespace"), meta["name"])
        query = [("fieldManager", field_manager), ("force", "true")]
        return self.call("PATCH", path, query, body=obj, content_type=APPLY_PATCH)

    def delete(self, resource: Resource, namespace: str | None, name: str) -> None:
        self.call("DELETE", resource.path(namespace, name))


def refusal(method: str, path: str, exc: Any) -> str:
    # Read only on a refusal: the installer's module brings the certificate tooling with it.
    from mllint.webhook.install import api_message

    text = f"{method} {path}: HTTP {exc.status}: {api_message(exc)}"
    if exc.status in (401, 403):
        text += (
            "; the audit needs get/list on the kinds it judges, and with --write the "
            "permissions on policy reports of deploy/audit/rbac.yaml"
        )
    if exc.status == 410:
        text += "; the list kept expiring while it was read: run again, or raise --page-size"
    return text
