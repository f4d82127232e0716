"""deploy/audit: the audit as a CronJob with least-privilege RBAC. Every object is valid against
the Kubernetes OpenAPI schema, mllint finds nothing in it with every rule on, and the RBAC
grants exactly what a real `mllint audit --write` run asks of the API server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from apiserver import APIServer
from installed import MLLINT
from test_audit import audit, deployment

from mllint.audit.cli import parser
from mllint.audit.judge import wanted_kinds
from mllint.rules import Engine

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
AUDIT = DEPLOY / "audit"
K8S_VERSION = kubernetes_validate.utils.latest_version()


def objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((AUDIT / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "resources"}
    found: list[dict[str, Any]] = []
    for entry in kustomization["resources"]:
        found += [d for d in yaml.safe_load_all((AUDIT / entry).read_text()) if d]
    return found


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["kind"] == kind]


def test_every_object_is_valid_against_the_openapi_schema() -> None:
    for obj in objects():
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "mllint"


def test_the_namespace_is_the_webhooks() -> None:
    [ours] = by_kind("Namespace")
    assert ours == yaml.safe_load((DEPLOY / "base" / "namespace.yaml").read_text())


def test_mllint_finds_nothing_with_every_rule() -> None:
    done = subprocess.run(
        [
            MLLINT,
            str(AUDIT),
            "--select",
            "ALL",
            "--fail-on",
            "info",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def test_the_cronjob_runs_the_audit_safely() -> None:
    [cron] = by_kind("CronJob")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 0
    pod = job["template"]["spec"]
    [container] = pod["containers"]
    # The image runs `mllint serve` (its entrypoint): the audit names its own command.
    assert container["command"] == ["mllint", "audit"]
    parsed = parser().parse_args(container["args"])
    assert parsed.write and parsed.exit_zero and parsed.quiet
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    [account] = by_kind("ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def _grants() -> set[tuple[str, str, str]]:
    found = set()
    account = by_kind("ServiceAccount")[0]["metadata"]
    roles = {r["metadata"]["name"]: r for r in by_kind("ClusterRole")}
    for binding in by_kind("ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
        ]
        for rule in roles[binding["roleRef"]["name"]]["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    found |= {(verb, group, resource) for verb in rule["verbs"]}
    return found


def _verb(method: str, path: str, query: dict[str, list[str]]) -> tuple[str, str, str] | None:
    """What RBAC checks for a request: (verb, group, resource); None for discovery."""
    parts = path.strip("/").split("/")
    if len(parts) <= 3 - (parts[0] == "api"):
        return None  # /api, /apis, /api/v1, /apis/<group>/<version>
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    if not rest:
        return None
    named = len(rest) == 2
    verb = {"GET": "get" if named else "list", "PATCH": "patch", "DELETE": "delete"}[method]
    return verb, group, rest[0]


def test_rbac_grants_exactly_what_a_run_asks(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("server", namespace="serving"))
    # A report of an earlier run in a namespace now empty: the run deletes it.
    stale = {
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {
            "name": "mllint",
            "namespace": "gone",
            "labels": {"app.kubernetes.io/managed-by": "mllint"},
        },
    }
    api.add(stale)
    [cron] = by_kind("CronJob")
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    code, _, err = audit(capsys, *args, "--kubeconfig", str(config))
    assert code == 0 and "reports_removed=1" in err
    asked = {v for r in api.requests if (v := _verb(r.method, r.path, r.query))}
    # Server-side apply of a missing object creates it: RBAC checks create as well as patch.
    asked |= {("create", g, res) for verb, g, res in asked if verb == "patch"}
    granted = _grants()
    assert asked <= granted
    reads = {(g, res) for verb, g, res in granted if verb in ("get", "list")} - {
        ("wgpolicyk8s.io", "policyreports"),
        ("wgpolicyk8s.io", "clusterpolicyreports"),
    }
    assert reads == {(w.group, w.plural) for w in wanted_kinds(Engine())}
    writes = {(verb, res) for verb, g, res in granted if g == "wgpolicyk8s.io"}
    assert writes == {
        (verb, res)
        for verb in ("list", "create", "patch", "delete")
        for res in ("policyreports", "clusterpolicyreports")
    }
    assert all(verb in ("get", "list") for verb, g, _ in granted if g != "wgpolicyk8s.io")
