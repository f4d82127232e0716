"""`mllint audit` against a local API server, through the real `kubernetes` client: discovery,
paged lists, judging with the engine the linter and the webhook use, and every report format."""

from __future__ import annotations

import json
import math
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver import TOKEN, APIServer, Res, corpus_cluster, default_resources, kubeconfig, serve
from installed import MLLINT, named_pipe

from mllint.audit.cli import main as audit_main
from mllint.audit.judge import wanted_kinds
from mllint.linter import output
from mllint.rules import Engine

EMPTY_CONFIG = "{}\n"


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = audit_main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def deployment(
    name: str, namespace: str = "ml", image: str = "vllm/vllm-openai:latest"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": image}]},
            },
        },
    }


def _key(f: dict[str, Any]) -> tuple[str, ...]:
    return (f["code"], f["kind"], f["namespace"], f["name"], f["pointer"], f["message"])


@pytest.fixture
def no_exempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLINT_EXEMPT_NAMESPACES", "[]")


def test_findings_equal_linting_the_same_objects_from_files(
    corpus: list[tuple[str, dict[str, Any]]], tmp_path: Path, no_exempt: None
) -> None:
    """The corpus, served by the API server, judged by `mllint audit`, gives exactly the
    findings of `mllint` on the same objects written to files (one file per namespace): the
    objects of every kind the audit lists (the kinds mllint judges, and those the whole-set
    rules read)."""
    api = APIServer(default_resources())
    assert corpus_cluster(api, 2500, corpus) == 2500
    listed = {(w.group, w.plural) for w in wanted_kinds(Engine())}
    files = tmp_path / "files"
    files.mkdir()
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    judged = 0
    for (group, plural), bucket in api.objects.items():
        if (group, plural) not in listed:
            continue
        for (namespace, _), obj in bucket.items():
            by_namespace.setdefault(namespace, []).append(obj)
            judged += 1
    assert judged > 2000
    for namespace, objs in by_namespace.items():
        (files / f"{namespace}.yaml").write_text(yaml.safe_dump_all(objs))
    config = tmp_path / "mllint.yaml"
    config.write_text(EMPTY_CONFIG)
    linted = subprocess.run(
        [MLLINT, "--config", str(config), "--format", "json", str(files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert linted.returncode == 1, linted.stderr
    from_files = json.loads(linted.stdout)
    with serve(api):
        audited = subprocess.run(
            [
                MLLINT,
                "audit",
                "--kubeconfig",
                str(kubeconfig(tmp_path / "kubeconfig", api.url)),
                "--config",
                str(config),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    assert audited.returncode == 1, audited.stderr
    from_cluster = json.loads(audited.stdout)
    assert from_cluster["summary"]["objects"] == from_files["summary"]["objects"] == judged
    assert len(from_files["findings"]) > 1000
    assert Counter(map(_key, from_cluster["findings"])) == Counter(
        map(_key, from_files["findings"])
    )
    # One line on stderr says what the run did.
    [line] = audited.stderr.splitlines()
    assert line.startswith("mllint audit: ") and f"objects={judged}" in line
    assert "duration_s=" in line


def test_pages_are_requested_as_asked(
    corpus: list[tuple[str, dict[str, Any]]],
    api: APIServer,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    no_exempt: None,
) -> None:
    corpus_cluster(api, 1200, corpus)
    code, out, _ = audit(
        capsys, "--kubeconfig", str(config), "--page-size", "37", "--format", "json"
    )
    assert code == 1
    total = 0
    listed = {(w.group, w.plural) for w in wanted_kinds(Engine())}
    for (group, plural), bucket in api.objects.items():
        if (group, plural) not in listed:
            continue
        asked = [
            r
            for r in api.lists(plural)
            if r.path.startswith(f"/apis/{group}/" if group else "/api/")
        ]
        assert len(asked) == math.ceil(len(bucket) / 37) or (not bucket and len(asked) == 1)
        assert all(r.query["limit"] == ["37"] for r in asked)
        # The first page has no token; each later one sends the token of the page before.
        assert "continue" not in asked[0].query
        assert all("continue" in r.query for r in asked[1:])
        total += len(bucket)
    assert json.loads(out)["summary"]["objects"] == total > 900


def test_only_kinds_the_cluster_serves_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(APIServer(default_resources(drop_groups=["ray.io", "kubeflow.org"]))) as api:
        api.add(deployment("server"))
        config = kubeconfig(tmp_path / "kubeconfig", api.url)
        code, out, _ = audit(capsys, "--kubeconfig", str(config), "--format", "json")
    paths = {r.path for r in api.requests}
    assert "/apis/ray.io/v1" not in paths and "/apis/kubeflow.org/v1" not in paths
    listed = {r.path for r in api.requests if "limit" in r.query}
    for expected in (
        "/apis/apps/v1/deployments",
        "/apis/batch/v1/cronjobs",
        "/api/v1/pods",
        "/apis/serving.kserve.io/v1beta1/inferenceservices",
        "/apis/jobset.x-k8s.io/v1alpha2/jobsets",
        "/apis/leaderworkerset.x-k8s.io/v1/leaderworkersets",
        "/apis/batch.volcano.sh/v1alpha1/jobs",
        "/apis/argoproj.io/v1alpha1/workflows",
    ):
        assert expected in listed, sorted(listed)
    assert not any(p.split("/")[2] in ("ray.io", "kubeflow.org") for p in listed)
    assert code == 1
    assert {f["name"] for f in json.loads(out)["findings"]} == {"server"}


def _owned(obj: dict[str, Any], api_version: str, kind: str, name: str) -> dict[str, Any]:
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": api_version, "kind": kind, "name": name, "uid": "u", "controller": True}
    ]
    return obj


def test_controller_made_objects_are_judged_through_their_owner(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("server"))
    replica_set = deployment("server-6d4cf56db6")
    replica_set["kind"] = "ReplicaSet"
    api.add(_owned(replica_set, "apps/v1", "Deployment", "server"))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "server-6d4cf56db6-x2x9k", "namespace": "ml"},
        "spec": {"containers": [{"name": "server", "image": "vllm/vllm-openai:latest"}]},
    }
    api.add(_owned(pod, "apps/v1", "ReplicaSet", "server-6d4cf56db6"))
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "retrain", "namespace": "ml"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "pytorch/pytorch:latest",
                                    "command": ["python", "train.py"],
                                }
                            ]
                        }
                    }
                }
            },
        },
    }
    api.add(cron)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "retrain-28001", "namespace": "ml"},
        "spec": cron["spec"]["jobTemplate"]["spec"],
    }
    api.add(_owned(job, "batch/v1", "CronJob", "retrain"))
    # A pod whose controller is a kind mllint does not judge is judged itself.
    other = json.loads(json.dumps(pod))
    other["metadata"]["name"] = "agent"
    api.add(_owned(other, "example.com/v1", "Agent", "agent"))
    code, out, err = audit(capsys, "--kubeconfig", str(config), "--format", "json")
    assert code == 1
    judged = {(f["kind"], f["name"]) for f in json.loads(out)["findings"]}
    assert judged == {("Deployment", "server"), ("CronJob", "retrain"), ("Pod", "agent")}
    assert "controlled=3" in err and "judged=3" in err


def test_namespaces_the_webhook_exempts_are_not_judged(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("dns", namespace="kube-system"))
    api.add(deployment("server", namespace="ml"))
    _, out, err = audit(capsys, "--kubeconfig", str(config), "--format", "json")
    assert {f["namespace"] for f in json.loads(out)["findings"]} == {"ml"}
    assert "exempt=1" in err


def test_namespace_flag_lists_in_that_namespace_only(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("a", namespace="team-a"))
    api.add(deployment("b", namespace="team-b"))
    _, out, _ = audit(capsys, "--kubeconfig", str(config), "-n", "team-b", "--format", "json")
    assert {f["name"] for f in json.loads(out)["findings"]} == {"b"}
    namespaced = [r.path for r in api.lists("deployments")]
    assert namespaced == ["/apis/apps/v1/namespaces/team-b/deployments"]


@pytest.mark.parametrize("fmt", sorted(output.FORMATS))
def test_every_report_format_names_the_object(
    fmt: str, api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("server"))
    code, out, _ = audit(capsys, "--kubeconfig", str(config), "--format", fmt)
    assert code == 1
    assert "ml/Deployment.apps/server" in out
    if fmt == "text":
        assert "ml/Deployment.apps/server:spec.template.spec.containers[0].image: ML602" in out
        assert out.rstrip().endswith(f"in 1 object of cluster {api.url}.")
    if fmt in ("json", "sarif"):
        json.loads(out)


def test_exit_zero_and_output_file(
    api: APIServer, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("server"))
    target = tmp_path / "audit.json"
    code, out, _ = audit(
        capsys, "--kubeconfig", str(config), "--format", "json", "-o", str(target), "--exit-zero"
    )
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["findings"]


def test_an_output_that_is_a_pipe_is_written_to_not_replaced(
    api: APIServer, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add(deployment("server"))
    with named_pipe(tmp_path) as (pipe, received):
        code, out, _ = audit(
            capsys, "--kubeconfig", str(config), "--format", "json", "-o", str(pipe)
        )
        assert code == 1 and out == ""
        assert json.loads(received())["findings"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_cluster_problems_are_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = audit(capsys, "--kubeconfig", str(tmp_path / "missing"))
    assert code == 2 and "no usable kubeconfig" in err and "Traceback" not in err
    with serve(APIServer(default_resources())) as api:
        config = kubeconfig(tmp_path / "kubeconfig", api.url)
        config.write_text(config.read_text().replace(TOKEN, "wrong"))
        code, _, err = audit(capsys, "--kubeconfig", str(config))
    assert code == 2 and "HTTP 401" in err
    url = api.url  # the server is gone now
    code, _, err = audit(capsys, "--kubeconfig", str(kubeconfig(tmp_path / "gone", url)))
    assert code == 2 and f"cannot reach the Kubernetes API server at {url}" in err


def test_a_custom_kind_of_the_configuration_is_discovered_and_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "mllint.yaml"
    rules.write_text(
        "kinds:\n"
        "  - api-version: training.example.com/v1\n"
        "    kind: FineTuneRun\n"
        "    role: batch\n"
        "    templates: [{path: /spec/template}]\n"
    )
    resources = [
        *default_resources(),
        Res("training.example.com", "v1", "finetuneruns", "FineTuneRun"),
    ]
    with serve(APIServer(resources)) as api:
        api.add(
            {
                "apiVersion": "training.example.com/v1",
                "kind": "FineTuneRun",
                "metadata": {"name": "llama", "namespace": "ml"},
                "spec": {
                    "template": {"spec": {"containers": [{"name": "t", "image": "t:latest"}]}}
                },
            }
        )
        config = kubeconfig(tmp_path / "kubeconfig", api.url)
        code, out, _ = audit(
            capsys, "--kubeconfig", str(config), "--config", str(rules), "--format", "json"
        )
    assert code == 1
    assert "/apis/training.example.com/v1/finetuneruns" in {
        r.path for r in api.lists("finetuneruns")
    }
    found = {(f["kind"], f["code"]) for f in json.loads(out)["findings"]}
    assert ("FineTuneRun", "ML602") in found


def test_sarif_of_an_audit_is_valid(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "linter"))
    from test_formats import sarif_schema

    api.add(deployment("server"))
    _, out, _ = audit(capsys, "--kubeconfig", str(config), "--format", "sarif")
    log = json.loads(out)
    jsonschema.validate(log, sarif_schema())
    [location] = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "ml/Deployment.apps/server"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "MLLINT_* environment"),
        ('{"ML602": "block"}', "MLLINT_ENFORCEMENT"),
        ('{"image-tag-lates": "deny"}', "image-tag-latest"),
    ],
)
def test_a_bad_webhook_setting_is_a_message(
    value: str,
    message: str,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLLINT_ENFORCEMENT", value)
    code, _, err = audit(capsys, "--kubeconfig", str(config))
    assert code == 2 and message in err and "Traceback" not in err


def test_a_list_whose_token_expired_is_started_again(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(120):
        api.add(deployment(f"server-{i}"))
    api.expire_tokens = 1
    code, out, err = audit(
        capsys, "--kubeconfig", str(config), "--page-size", "50", "--format", "json"
    )
    assert code == 1, err
    found = json.loads(out)["findings"]
    per_object = Counter(f["name"] for f in found if f["code"] == "ML602")
    assert len(per_object) == 120 and set(per_object.values()) == {1}
    assert "judged=120" in err
    # Page 1, page 2 refused (410), then the list again from the start: 3 pages.
    assert len(api.lists("deployments")) == 5


def test_a_list_that_keeps_expiring_is_a_message(
    api: APIServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(120):
        api.add(deployment(f"server-{i}"))
    api.expire_tokens = 100
    code, _, err = audit(capsys, "--kubeconfig", str(config), "--page-size", "50")
    assert code == 2 and "HTTP 410" in err and "run again" in err
