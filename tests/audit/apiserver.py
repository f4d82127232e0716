"""A local HTTP server that speaks the part of the Kubernetes API the audit uses, for the real
`kubernetes` client to talk to: discovery (/api, /apis, /apis/<group>/<version>), paged lists
(`limit`, `continue`, `labelSelector`; the List shape with `metadata.continue`,
`resourceVersion` and `remainingItemCount`; built-in kinds' items without apiVersion and kind, as
the API server sends them; a PartialObjectMetadataList when the Accept header asks for one),
server-side apply (PATCH application/apply-patch+yaml with fieldManager and force, managedFields
recorded), get and delete. Bearer-token authentication. Every request is recorded so tests can
assert what was asked.

It serves the kinds of a cluster running the ML operators mllint knows (Kubeflow, KServe, Ray,
JobSet, LeaderWorkerSet, Volcano, Argo, Seldon) and the PolicyReport APIs, and holds objects
loaded from ../shared/corpus with the linter's loader (`corpus_cluster`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from mllint.linter.lint import items
from mllint.linter.loader import LoadError, decode, load
from mllint.rules.operators import OPERATOR_KINDS
from mllint.rules.workload import BUILTIN_KINDS, OTHER_KINDS

TOKEN = "audit-test-token"
META = "meta.k8s.io/v1"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus"


@dataclass(frozen=True)
class Res:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def default_resources(drop_groups: Iterable[str] = ()) -> list[Res]:
    """What a cluster with the ML operators and both PolicyReport APIs serves: each kind at one
    version (the newest mllint reads), since this server converts nothing between versions."""
    kinds = (*BUILTIN_KINDS, *OPERATOR_KINDS, *OTHER_KINDS)
    found = [Res(k.group, k.versions[-1], k.plural, k.kind) for k in kinds]
    found += [
        Res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
        Res("", "v1", "services", "Service"),
        Res("", "v1", "configmaps", "ConfigMap"),
        Res("", "v1", "namespaces", "Namespace", namespaced=False),
        Res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
        Res("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport"),
        Res("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport", False),
        Res("openreports.io", "v1alpha1", "reports", "Report"),
        Res("openreports.io", "v1alpha1", "clusterreports", "ClusterReport", False),
    ]
    dropped = set(drop_groups)
    return [r for r in found if r.group not in dropped]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class APIServer:
    resources: list[Res]
    objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = field(
        default_factory=dict
    )
    """(group, plural) -> (namespace, name) -> object."""
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    revision: int = 1000
    expire_tokens: int = 0
    """How many of the next `continue` tokens are answered 410 Gone, as after a compaction."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, api_version: str, kind: str) -> Res | None:
        for r in self.resources:
            if r.api_version == api_version and r.kind == kind:
                return r
        return None

    def add(self, obj: dict[str, Any]) -> bool:
        """Store an object as a create would; False when its kind is not served at its version."""
        res = self.resource(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        meta = obj.get("metadata")
        if res is None or not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            return False
        if not res.namespaced:
            meta.pop("namespace", None)
        self.revision += 1
        key = f"{res.group}/{res.plural}/{meta.get('namespace', '')}/{meta['name']}"
        meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, key))  # the server assigns it
        meta["resourceVersion"] = str(self.revision)
        bucket = self.objects.setdefault((res.group, res.plural), {})
        bucket[(str(meta.get("namespace", "")), meta["name"])] = obj
        return True

    def stored(self, group: str, plural: str) -> list[dict[str, Any]]:
        return list(self.objects.get((group, plural), {}).values())

    def lists(self, plural: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + plural)]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "reason": reason,
        "message": message,
        "code": code,
    }


def _selects(selector: str, obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _handler(api: APIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per answer, sent at once: headers and body in separate small writes meet
        # Nagle's algorithm and delayed ACKs, 40 ms a request.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _begin(self) -> tuple[Request, bytes] | None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
            )
            with api.lock:
                api.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                self._answer(401, _status(401, "Unauthorized", "Unauthorized"))
                return None
            return request, body

        def _route(self, path: str) -> tuple[Res, str | None, str | None] | None:
            parts = path.strip("/").split("/")
            if parts[:1] == ["api"]:
                group, rest = "", parts[1:]
            elif parts[:1] == ["apis"] and len(parts) >= 3:
                group, rest = parts[1], parts[2:]
            else:
                return None
            version, rest = rest[0], rest[1:]
            namespace = None
            if len(rest) >= 3 and rest[0] == "namespaces":
                namespace, rest = rest[1], rest[2:]
            if not rest or len(rest) > 2:
                return None
            for r in api.resources:
                if (r.group, r.version, r.plural) == (group, version, rest[0]):
                    if namespace is not None and not r.namespaced:
                        return None
                    return r, namespace, rest[1] if len(rest) == 2 else None
            return None

        def do_GET(self) -> None:
            begun = self._begin()
            if begun is None:
                return
            request, _ = begun
            path = request.path.rstrip("/")
            if path == "/api":
                self._answer(200, {"kind": "APIVersions", "versions": ["v1"]})
                return
            if path == "/apis":
                self._answer(200, self._groups())
                return
            discovered = self._discovery(path)
            if discovered is not None:
                self._answer(200, discovered)
                return
            route = self._route(path)
            if route is None:
                self._answer(404, _status(404, "NotFound", "the server could not find it"))
                return
            res, namespace, name = route
            if name is not None:
                found = api.objects.get((res.group, res.plural), {}).get((namespace or "", name))
                if found is None:
                    self._answer(404, _status(404, "NotFound", f"{res.plural} {name!r} not found"))
                else:
                    self._answer(200, found)
                return
            self._list(request, res, namespace)

        def _groups(self) -> dict[str, Any]:
            groups: dict[str, list[str]] = {}
            for r in api.resources:
                if r.group and r.version not in groups.setdefault(r.group, []):
                    groups[r.group].append(r.version)
            out = []
            for name, versions in groups.items():
                entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
                # The API server prefers the newest stable version; the last declared here.
                out.append({"name": name, "versions": entries, "preferredVersion": entries[-1]})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

        def _discovery(self, path: str) -> dict[str, Any] | None:
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) == 2:
                group, version = "", parts[1]
            elif parts[0] == "apis" and len(parts) == 3:
                group, version = parts[1], parts[2]
            else:
                return None
            listed = [r for r in api.resources if (r.group, r.version) == (group, version)]
            if not listed:
                return None
            resources = []
            for r in listed:
                verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
                resources.append(
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": verbs,
                    }
                )
                resources.append(
                    {"name": f"{r.plural}/status", "namespaced": r.namespaced, "kind": r.kind}
                )
            gv = f"{group}/{version}" if group else version
            return {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}

        def _list(self, request: Request, res: Res, namespace: str | None) -> None:
            query = {k: v[-1] for k, v in request.query.items()}
            selector = query.get("labelSelector", "")
            with api.lock:
                bucket = api.objects.get((res.group, res.plural), {})
                keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
                revision = api.revision
            start, snapshot = 0, str(revision)
            if query.get("continue") and api.expire_tokens:
                api.expire_tokens -= 1
                message = "The provided continue parameter is too old; start a new list"
                self._answer(410, _status(410, "Expired", message))
                return
            if query.get("continue"):
                try:
                    token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                    start, snapshot = int(token["start"]), str(token["rv"])
                except (ValueError, KeyError, TypeError):
                    self._answer(400, _status(400, "BadRequest", "invalid continue token"))
                    return
            limit = int(query.get("limit") or 0) or len(keys) or 1
            chosen: list[dict[str, Any]] = []
            index = start
            while index < len(keys) and len(chosen) < limit:
                obj = bucket.get(keys[index])
                index += 1
                if obj is not None and (not selector or _selects(selector, obj)):
                    chosen.append(obj)
            meta: dict[str, Any] = {"resourceVersion": snapshot}
            if index < len(keys):
                token = json.dumps({"rv": snapshot, "start": index}).encode()
                meta["continue"] = base64.urlsafe_b64encode(token).decode()
                meta["remainingItemCount"] = len(keys) - index
            if "as=PartialObjectMetadataList" in request.headers.get("accept", ""):
                partial = [
                    {"kind": "PartialObjectMetadata", "apiVersion": META, "metadata": o["metadata"]}
                    for o in chosen
                ]
                kind = {"kind": "PartialObjectMetadataList", "apiVersion": META}
                self._answer(200, {**kind, "metadata": meta, "items": partial})
                return
            # Items of built-in kinds carry no apiVersion or kind in a list; custom resources do.
            builtin = res.group in {"", "apps", "batch", "autoscaling", "policy"}
            shown = [
                {k: v for k, v in o.items() if k not in ("apiVersion", "kind")} if builtin else o
                for o in chosen
            ]
            self._answer(
                200,
                {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": meta,
                    "items": shown,
                },
            )

        def do_PATCH(self) -> None:
            begun = self._begin()
            if begun is None:
                return
            request, body = begun
            route = self._route(request.path)
            if route is None or route[2] is None:
                self._answer(404, _status(404, "NotFound", "the server could not find it"))
                return
            res, namespace, name = route
            if request.headers.get("content-type") != "application/apply-patch+yaml":
                self._answer(415, _status(415, "UnsupportedMediaType", "only apply is served"))
                return
            manager = (request.query.get("fieldManager") or [""])[-1]
            if not manager:
                self._answer(400, _status(400, "BadRequest", "fieldManager is required for apply"))
                return
            try:
                obj = json.loads(body)  # JSON is YAML, and what clients send
            except ValueError:
                obj = yaml.safe_load(body)
            meta = obj.get("metadata") or {}
            if (
                obj.get("apiVersion") != res.api_version
                or obj.get("kind") != res.kind
                or meta.get("name") != name
                or meta.get("namespace") != namespace
            ):
                self._answer(400, _status(400, "BadRequest", "the body does not match the URL"))
                return
            key = (namespace or "", name)
            with api.lock:
                bucket = api.objects.setdefault((res.group, res.plural), {})
                old = bucket.get(key)
                managers = {
                    m["manager"]
                    for m in ((old or {}).get("metadata") or {}).get("managedFields", [])
                }
                force = (request.query.get("force") or ["false"])[-1] == "true"
                if old is not None and managers - {manager} and not force:
                    self._answer(409, _status(409, "Conflict", f"conflict with {managers}"))
                    return
                api.revision += 1
                stored = copy.deepcopy(obj)
                stored["metadata"] |= {
                    "uid": (old or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()),
                    "resourceVersion": str(api.revision),
                    "creationTimestamp": ((old or {}).get("metadata") or {}).get(
                        "creationTimestamp"
                    )
                    or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "managedFields": [
                        {
                            "manager": manager,
                            "operation": "Apply",
                            "apiVersion": res.api_version,
                            "fieldsType": "FieldsV1",
                        }
                    ],
                }
                bucket[key] = stored
            self._answer(200 if old is not None else 201, stored)

        def do_DELETE(self) -> None:
            begun = self._begin()
            if begun is None:
                return
            request, _ = begun
            route = self._route(request.path)
            if route is None or route[2] is None:
                self._answer(404, _status(404, "NotFound", "the server could not find it"))
                return
            res, namespace, name = route
            with api.lock:
                gone = api.objects.get((res.group, res.plural), {}).pop(
                    (namespace or "", name), None
                )
            if gone is None:
                self._answer(404, _status(404, "NotFound", f"{res.plural} {name!r} not found"))
            else:
                self._answer(200, _status(200, "", "deleted"))

    return Handler


@contextlib.contextmanager
def serve(api: APIServer) -> Iterator[APIServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": server}}],
                "users": [{"name": "auditor", "user": {"token": TOKEN}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "auditor"}}],
                "current-context": "test",
            }
        )
    )
    return path


def corpus_objects(root: Path = CORPUS) -> list[tuple[str, dict[str, Any]]]:
    """(file, object) for every Kubernetes object of the corpus, read with the linter's loader."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
        try:
            documents = list(load(decode(path.read_bytes())))
        except (LoadError, OSError):
            continue
        rel = str(path.relative_to(root))
        for doc in documents:
            found += [(rel, item.obj) for item in items(doc.obj)]
    return found


def _namespace(replica: int, file: str) -> str:
    """One namespace per corpus repository and replica: `r0-kubeflow-trainer`."""
    repo = file.split("/", 1)[0].partition("__")[2] or file.split("/", 1)[0]
    slug = "".join(c if c.isalnum() else "-" for c in repo.lower()).strip("-")
    return f"r{replica}-{slug}"[:63].rstrip("-")


def corpus_cluster(api: APIServer, count: int, corpus: list[tuple[str, dict[str, Any]]]) -> int:
    """Fill `api` with `count` objects of the corpus (fewer if a pass adds none): each corpus
    repository becomes a namespace, and the corpus is replicated across namespaces `r<N>-` until
    `count` objects are stored. Returns how many were stored."""
    stored = 0
    replica = 0
    while stored < count:
        before = stored
        for file, obj in corpus:
            if stored >= count:
                break
            meta = obj.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                continue
            copied = copy.deepcopy(obj)
            copied["metadata"]["namespace"] = _namespace(replica, file)
            bucket_size = sum(len(b) for b in api.objects.values())
            if api.add(copied) and sum(len(b) for b in api.objects.values()) > bucket_size:
                stored += 1
        if stored == before:
            break
        replica += 1
    return stored
