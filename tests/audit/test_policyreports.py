"""PolicyReports from `mllint audit`: printed with `--format policyreport`, server-side applied
with `--write`, valid against the PolicyReport CRDs' schemas, stale results removed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from apiserver import APIServer
from test_audit import audit, deployment

SCHEMAS = Path(__file__).parent / "schemas"


def _pruning(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as the API server applies it: fields a structural schema does not declare
    are pruned, so a field mllint writes that is not declared would be lost. Refuse them."""
    out = copy.deepcopy(schema)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    for key, value in list(out.get("properties", {}).items()):
        out["properties"][key] = _pruning(value)
    if isinstance(out.get("items"), dict):
        out["items"] = _pruning(out["items"])
    return out


SCHEMA = {
    "wgpolicyk8s.io/v1alpha2": _pruning(
        yaml.safe_load((SCHEMAS / "wgpolicyk8s.io_v1alpha2.yaml").read_text())
    ),
    "openreports.io/v1alpha1": _pruning(
        yaml.safe_load((SCHEMAS / "openreports.io_v1alpha1.yaml").read_text())
    ),
}


def check(report: dict[str, Any]) -> None:
    jsonschema.validate(report, SCHEMA[report["apiVersion"]])
    counts = dict.fromkeys(("pass", "fail", "warn", "error", "skip"), 0)
    for r in report["results"]:
        counts[r["result"]] += 1
    assert report["summary"] == counts


def check_stored(api: APIServer, group: str = "wgpolicyk8s.io") -> int:
    """Validate every report the API server holds; how many there are."""
    plurals = ("policyreports", "clusterpolicyreports")
    if group == "openreports.io":
        plurals = ("reports", "clusterreports")
    stored = [r for p in plurals for r in api.stored(group, p)]
    for report in stored:
        check(report)
    return len(stored)


def test_the_schema_check_catches_a_wrong_report() -> None:
    bad = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {}}
    for wrong in (
        {"results": [{"policy": "p", "severity": "info"}]},  # not in v1alpha2's enum
        {"results": [{"policy": "p", "result": "failed"}]},
        {"results": [{"rule": "no policy"}]},
        {"summary": {"fail": 1, "failing": 1}},  # pruned by the API server
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad | wrong, SCHEMA["wgpolicyk8s.io/v1alpha2"])


def _cluster(api: APIServer) -> None:
    api.add(deployment("server", namespace="serving"))
    api.add(deployment("pinned", namespace="serving", image="vllm/vllm-openai:v0.6.3"))
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "research"},
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 3600,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "t",
                            "image": "ghcr.io/example/etl:1.2",
                            "resources": {
                                "requests": {"cpu": "1", "memory": "1Gi"},
                                "limits": {"memory": "1Gi"},
                            },
                        }
                    ],
                }
            },
        },
    }
    api.add(job)


def test_printed_reports_are_valid_and_map_enforcement(
    api: APIServer,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cluster(api)
    monkeypatch.setenv("MLLINT_ENFORCEMENT", '{"image-tag-latest": "deny", "ML301": "audit"}')
    code, out, _ = audit(capsys, "--kubeconfig", str(config), "--format", "policyreport")
    assert code == 1
    reports = list(yaml.safe_load_all(out))
    assert [(r["kind"], r["metadata"].get("namespace")) for r in reports] == [
        ("ClusterPolicyReport", None),
        ("PolicyReport", "research"),
        ("PolicyReport", "serving"),
    ]
    for report in reports:
        check(report)
        assert report["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "mllint"}
    results = reports[2]["results"]
    by_rule = {(r["rule"], r["resources"][0]["name"]): r for r in results}
    latest = by_rule[("ML602", "server")]
    assert latest["result"] == "fail" and latest["policy"] == "image-tag-latest"
    assert latest["severity"] == "medium" and latest["category"] == "Containers"
    assert latest["properties"]["field"] == "spec.template.spec.containers[0].image"
    assert latest["resources"][0] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "server",
        "namespace": "serving",
        "uid": api.stored("apps", "deployments")[0]["metadata"]["uid"],
    }
    assert by_rule[("ML301", "server")]["result"] == "warn"  # audit: recorded, not blocking
    assert by_rule[("ML302", "server")]["result"] == "warn"
    assert ("ML602", "pinned") not in by_rule
    # The GPU Job breaks no rule: one pass result says it was judged.
    [passed] = reports[1]["results"]
    assert passed["result"] == "pass" and passed["resources"][0]["name"] == "train"
    assert reports[1]["summary"]["pass"] == 1


def test_write_applies_reports_and_removes_stale_results(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cluster(api)
    code, _, err = audit(capsys, "--kubeconfig", str(config), "--write")
    assert code == 1, err
    assert "reports_applied=3 reports_removed=0" in err
    applies = [r for r in api.requests if r.method == "PATCH"]
    assert len(applies) == 3
    for request in applies:
        assert request.headers["content-type"] == "application/apply-patch+yaml"
        assert request.query["fieldManager"] == ["mllint-audit"]
        assert request.query["force"] == ["true"]
    [serving] = [
        r
        for r in api.stored("wgpolicyk8s.io", "policyreports")
        if r["metadata"]["namespace"] == "serving"
    ]
    assert check_stored(api) == 3
    assert [m["manager"] for m in serving["metadata"]["managedFields"]] == ["mllint-audit"]
    assert any(
        r["rule"] == "ML602" and r["resources"][0]["name"] == "server" for r in serving["results"]
    )

    # The image is pinned, and the research namespace is gone: a second run drops the
    # result and deletes the report no run wrote.
    fixed = deployment("server", namespace="serving", image="vllm/vllm-openai:v0.6.3")
    api.add(fixed)
    api.objects[("batch", "jobs")].clear()
    code, _, err = audit(capsys, "--kubeconfig", str(config), "--write")
    assert "reports_applied=2 reports_removed=1" in err
    # Stale reports are found from their names alone, not read whole.
    stale_lists = [r for r in api.lists("policyreports") if "labelSelector" in r.query]
    assert stale_lists
    assert all("as=PartialObjectMetadataList" in r.headers["accept"] for r in stale_lists)
    assert check_stored(api) == 2
    [serving] = api.stored("wgpolicyk8s.io", "policyreports")
    assert serving["metadata"]["namespace"] == "serving"
    assert not any(
        r["rule"] == "ML602" and r["resources"][0]["name"] == "server" for r in serving["results"]
    )
    assert [r.path for r in api.requests if r.method == "DELETE"] == [
        "/apis/wgpolicyk8s.io/v1alpha2/namespaces/research/policyreports/mllint"
    ]


def test_openreports_api(api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cluster(api)
    code, _, err = audit(
        capsys, "--kubeconfig", str(config), "--write", "--report-api", "openreports.io/v1alpha1"
    )
    assert code == 1
    assert "reports_applied=3" in err
    assert not api.stored("wgpolicyk8s.io", "policyreports")
    stored = api.stored("openreports.io", "reports") + api.stored(
        "openreports.io", "clusterreports"
    )
    assert {r["kind"] for r in stored} == {"Report", "ClusterReport"}
    assert check_stored(api, "openreports.io") == 3
    assert all(report["source"] == "mllint" for report in stored)


def test_large_namespaces_are_split_into_several_reports(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(700):
        api.add(deployment(f"server-{i}", namespace="big"))
    code, _, err = audit(capsys, "--kubeconfig", str(config), "--write")
    assert code == 1 and "reports_applied=5" in err
    stored = api.stored("wgpolicyk8s.io", "policyreports")
    assert sorted(r["metadata"]["name"] for r in stored) == [
        "mllint",
        "mllint-2",
        "mllint-3",
        "mllint-4",
    ]
    assert sum(len(r["results"]) for r in stored) == 700 * 5
    assert all(len(r["results"]) <= 1000 for r in stored)
    assert check_stored(api) == 5


def test_write_needs_the_report_crds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from apiserver import default_resources, kubeconfig, serve

    with serve(APIServer(default_resources(drop_groups=["wgpolicyk8s.io"]))) as api:
        api.add(deployment("server"))
        code, _, err = audit(
            capsys, "--kubeconfig", str(kubeconfig(tmp_path / "kc", api.url)), "--write"
        )
    assert code == 2
    assert "does not serve wgpolicyk8s.io/v1alpha2 PolicyReport" in err
