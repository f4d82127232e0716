"""Team rules: CEL rules of the configuration judged by the engine (scopes, variables, errors,
fixes), and Python rules from a real installed package (`plugin_example/`, a distribution on the
path of a `mllint` subprocess, found through its entry point)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mllint.rules import ConfigError, Engine, parse_config

PLUGIN_PATH = Path(__file__).parent / "plugin_example"

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "initContainers": [{"name": "fetch", "image": "busybox:1"}],
                "containers": [
                    {
                        "name": "train",
                        "image": "pytorch/pytorch:2.3.0",
                        "resources": {"limits": {"nvidia.com/gpu": 2}},
                    }
                ],
            }
        }
    },
}


def team(**rule: Any) -> Engine:
    spec = {"name": "team-rule", "code": "X100", "summary": "s", "message": "'broken'", **rule}
    return Engine(parse_config({"select": ["X"], "custom-rules": [spec]}, "team.yaml"))


def found(engine: Engine, obj: dict[str, Any] = JOB) -> list[tuple[str, str, str]]:
    return [(f.pointer, f.severity.value, f.message) for f in engine.evaluate(obj)]


def test_each_scope_reports_at_its_pointer() -> None:
    assert found(team(condition="true")) == [("", "warning", "broken")]
    assert found(team(condition="true", scope="pod")) == [
        ("/spec/template/spec", "warning", "broken")
    ]
    containers = team(condition="true", scope="container", message="container.name")
    assert found(containers) == [("/spec/template/spec/containers/0", "warning", "train")]
    both = team(
        condition="true", scope="container", message="container.name", **{"init-containers": True}
    )
    assert [m for _, _, m in found(both)] == ["fetch", "train"]


def test_workload_is_the_workload_model() -> None:
    engine = team(
        scope="pod",
        condition="workload.role == 'batch' && workload.acceleratorCount == 2",
        message="workload.purpose + ' ' + workload.device"
        + " + (workload.usesAccelerators ? ' used' : '')",
    )
    assert found(engine) == [("/spec/template/spec", "warning", "batch GPU used")]
    assert found(team(condition="workload.known && workload.ml", message="workload.kind")) == [
        ("", "warning", "Job")
    ]


def test_an_evaluation_error_is_an_error_finding_not_a_crash() -> None:
    engine = team(condition="object.metadata.labels.team == 'x'")
    [(pointer, severity, message)] = found(engine)
    assert (pointer, severity) == ("", "error")
    assert "could not be evaluated" in message and "labels" in message
    [(_, _, message)] = found(team(condition="1"))
    assert "not true or false" in message


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ({"condition": "!(", "scope": "pod"}, "condition:1:3: Syntax error"),
        (
            {"condition": "containr.image == ''", "scope": "container"},
            "condition:1:1: undeclared reference to 'containr'",
        ),
        ({"condition": "container.image == ''"}, "undeclared reference to 'container'"),
        ({"condition": "nosuch(object)"}, "condition:1:1: unknown function 'nosuch'"),
        (
            {"condition": "true", "message": "workload.purpos"},
            "message:1:10: workload has no field 'purpos'",
        ),
        ({"condition": "true", "code": "ML101"}, "is not a team rule code"),
        ({"condition": "true", "name": "Team_Rule"}, "is not kebab-case"),
        ({"condition": "true", "name": "gpu-not-in-limits"}, "is a built-in rule's"),
        (
            {"condition": "true", "init-containers": True},
            "init-containers goes with scope: container",
        ),
        (
            {"condition": "true", "fix": {"ops": [{"op": "move", "path": "/x"}]}},
            "op must be one of",
        ),
    ],
)
def test_configuration_errors_name_the_file_the_rule_and_the_position(
    rule: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        team(**rule)
    assert str(caught.value).startswith("team.yaml: ")
    assert said in str(caught.value)


def test_a_fix_is_relative_to_the_scope() -> None:
    engine = team(
        scope="container",
        condition="!has(container.imagePullPolicy)",
        fix={
            "safety": "safe",
            "ops": [{"op": "add", "path": "/imagePullPolicy", "value": "Always"}],
        },
    )
    [finding] = engine.evaluate(JOB)
    assert finding.fix is not None and finding.fixable
    assert finding.fix.ops == (
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/imagePullPolicy",
            "value": "Always",
        },
    )


def mllint(cwd: Path, *args: str, plugins: bool = True) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).with_name("mllint")
    command = str(beside) if beside.is_file() else shutil.which("mllint")
    assert command, "the mllint command is not installed"
    env = dict(os.environ)
    if plugins:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_PATH), env.get("PYTHONPATH")]))
    return subprocess.run(
        [command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_python_rule_from_an_installed_package(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(json.dumps(JOB))
    # Installed but not configured: not loaded.
    quiet = mllint(tmp_path, "--format", "json", "job.yaml")
    assert "X201" not in quiet.stdout
    (tmp_path / ".mllint.yaml").write_text("plugins: [acme]\n")
    done = mllint(tmp_path, "--format", "json", "job.yaml")
    report = json.loads(done.stdout)
    [finding] = [f for f in report["findings"] if f["code"] == "X201"]
    assert finding["pointer"] == "/spec/template/spec" and finding["line"] == 1
    [rule] = [r for r in report["rules"] if r["code"] == "X201"]
    assert rule["origin"].startswith("plugin acme") and "## What it does" in rule["docs"]
    shown = mllint(tmp_path, "rule", "X201")
    assert shown.returncode == 0 and "Kueue queue" in shown.stdout
    exported = mllint(tmp_path, "export", "vap", "--config", ".mllint.yaml")
    assert "X201 gpu-pod-queue-missing: a Python rule (plugin)" in exported.stdout


def test_an_unknown_plugin_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(json.dumps(JOB))
    (tmp_path / ".mllint.yaml").write_text("plugins: [acme-typo]\n")
    done = mllint(tmp_path, "job.yaml")
    assert done.returncode == 2
    assert ".mllint.yaml: plugins: 'acme-typo': no mllint.rules entry point" in done.stderr
    assert "acme" in done.stderr
