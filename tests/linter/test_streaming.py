"""A run's report is written as it is read back: the same bytes as the whole run formatted at
once, whether one process or several linted it and whether its findings stayed in memory or
went to a temporary file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from installed import named_pipe

from mllint.linter import configfile, discover, output, runner
from mllint.linter.discover import Excluder
from mllint.rules import REGISTRY, Engine

Runner = Callable[..., subprocess.CompletedProcess[str]]

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: train-{i}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:latest
          resources:
            requests: {{nvidia.com/gpu: 1}}
"""

SERVER = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: serve-{i}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: serve-{i}}}
  template:
    metadata:
      labels: {{app: serve-{i}}}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.0
          resources:
            limits: {{nvidia.com/gpu: 1}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: serve-{i}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: serve-{i}}}
  minReplicas: 1
  maxReplicas: 4
"""


def _tree(root: Path, files: int, jobs_per_file: int) -> None:
    """Files of many Jobs in nested folders, and model servers with autoscalers (whole-set
    findings), some in a folder above others."""
    for f in range(files):
        folder = root / f"team-{f % 3}" / ("nested" if f % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        docs = [JOB.format(i=f * 1000 + i) for i in range(jobs_per_file)]
        docs.append(SERVER.format(i=f))
        (folder / f"m{f:03}.yaml").write_text("---\n".join(docs), encoding="utf-8")


def _whole(root: str, fmt: str) -> str:
    """The report of `root` built the other way: every report gathered, sorted and formatted
    at once."""
    paths = list(discover.discover([root], Excluder((), os.path.abspath(root))))
    engine = Engine()
    reports = runner.lint_many(paths, engine, jobs=1)
    run = output.Run.of(reports, {r.path: engine.config.fail_on for r in reports}, REGISTRY.rules)
    return output.FORMATS[fmt](run, False)


TEAM_RULES = """\
custom-rules:
  - name: image-registry-not-allowed
    code: X101
    summary: Image pulled from outside the internal registry
    scope: container
    condition: "!container.image.startsWith('registry.acme.io/')"
    message: "'container ' + container.name + ' runs ' + container.image"
    docs: "## What it does\\nFlags images from outside registry.acme.io."
  - name: gpu-pod-unlabelled
    code: X102
    severity: warning
    summary: GPU pod without a team label
    scope: pod
    condition: "workload.usesAccelerators && !('team' in object.metadata.labels)"
    message: "'a ' + workload.kind + ' with GPUs has no team label'"
"""


def _whole_by_config(root: str, fmt: str) -> str:
    """`_whole` with each file's nearest configuration: the run's rules are the built-in ones
    and every configuration's team rules."""
    configs = configfile.Configs(None, lambda config: config)
    groups: dict[str | None, tuple[configfile.LoadedConfig, list[str]]] = {}
    for path in discover.discover([root], Excluder((), os.path.abspath(root))):
        loaded = configs.of_file(path)
        groups.setdefault(loaded.source, (loaded, []))[1].append(path)
    reports = []
    rules = {r.code: r for r in REGISTRY.rules}
    fail_on = {}
    for loaded, paths in groups.values():
        engine = Engine(loaded.config)
        rules |= {r.code: r for r in engine.registry.rules}
        reports += runner.lint_many(paths, engine, jobs=1)
        fail_on |= dict.fromkeys(paths, engine.config.fail_on)
    reports.sort(key=lambda r: r.path)
    run = output.Run.of(reports, fail_on, tuple(rules.values()))
    return output.FORMATS[fmt](run, False)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_team_rules_stream_with_workers_as_with_one_process(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Worker processes build each configuration's team rules as this process does: the
    report of `-j 2` is that of `-j 1` and of the run formatted whole."""
    _tree(tmp_path / "tree", files=30, jobs_per_file=3)
    (tmp_path / "tree" / "team-1" / ".mllint.yaml").write_text(TEAM_RULES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    expected = _whole_by_config("tree", fmt)
    serial = mllint("--format", fmt, "-j", "1", "tree")
    parallel = mllint("--format", fmt, "-j", "2", "tree")
    assert serial.returncode == parallel.returncode == 1, parallel.stderr
    assert serial.stdout == expected
    assert parallel.stdout == expected
    data = json.loads(parallel.stdout)
    if fmt == "json":
        team = [f for f in data["findings"] if f["code"].startswith("X")]
        assert {f["code"] for f in team} == {"X101", "X102"}
        assert all(Path(f["file"]).parts[1] == "team-1" for f in team)
        described = {r["code"]: r for r in data["rules"]}
        assert described["X101"]["origin"] == "configuration"
        assert "Flags images from outside registry.acme.io." in described["X101"]["docs"]
        assert list(data) == ["findings", "summary", "rules"]
    else:
        driver = data["runs"][0]["tool"]["driver"]
        team = {r["id"]: r for r in driver["rules"] if r["id"].startswith("X")}
        assert set(team) == {"X101", "X102"}
        assert "team" in team["X101"]["properties"]["tags"]
        results = data["runs"][0]["results"]
        assert {r["ruleId"] for r in results if r["ruleId"].startswith("X")} == {"X101", "X102"}


def test_a_team_rule_error_with_workers_is_a_configuration_error(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=4, jobs_per_file=1)
    config = tmp_path / "tree" / ".mllint.yaml"
    config.write_text(TEAM_RULES.replace("container.image.startsWith", "containr.image.startsWith"))
    for jobs in ("1", "2"):
        result = mllint("-j", jobs, "tree")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert (
            "tree/.mllint.yaml: custom-rules[0] (image-registry-not-allowed): condition:1:2: "
            "undeclared reference to 'containr'"
        ) in result.stderr


@pytest.mark.parametrize("fmt", sorted(output.FORMATS))
def test_a_streamed_report_is_the_whole_report(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    _tree(tmp_path / "tree", files=30, jobs_per_file=3)
    monkeypatch.chdir(tmp_path)
    expected = _whole("tree", fmt)
    serial = mllint("--format", fmt, "-j", "1", "tree")
    parallel = mllint("--format", fmt, "-j", "2", "tree")
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == expected
    assert parallel.stdout == expected
    assert any(r.whole_set and r.name in expected for r in REGISTRY.rules)


def test_a_run_with_more_findings_than_memory_holds_reports_them_all(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SPILL_AFTER findings the spool moves them to a temporary file; the report and the
    summary are those of the run gathered whole."""
    _tree(tmp_path / "tree", files=36, jobs_per_file=40)
    monkeypatch.chdir(tmp_path)
    expected = _whole("tree", "json")
    assert expected.count('"rule": ') > runner.SPILL_AFTER
    for jobs in ("1", "2"):
        result = mllint("--format", "json", "-j", jobs, "tree")
        assert result.returncode == 1
        assert result.stdout == expected


def test_the_output_file_is_replaced_whole_and_keeps_its_mode(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=2, jobs_per_file=2)
    target = tmp_path / "out" / "report.sarif"
    target.parent.mkdir()
    target.write_text("an older report\n", encoding="utf-8")
    target.chmod(0o640)
    shown = mllint("--format", "sarif", "tree")
    written = mllint("--format", "sarif", "-o", "out/report.sarif", "tree")
    assert written.returncode == shown.returncode == 1
    assert written.stdout == ""
    assert target.read_text(encoding="utf-8") == shown.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.sarif"]


def test_an_output_file_that_cannot_be_written_is_a_usage_error(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=1, jobs_per_file=1)
    result = mllint("-o", "missing/report.txt", "tree")
    assert result.returncode == 2
    assert "--output missing/report.txt: cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_output_that_is_a_pipe_is_written_to_not_replaced(
    mllint: Runner, tmp_path: Path
) -> None:
    """`-o /dev/null` or a named pipe: renaming over it would put a regular file in its place."""
    _tree(tmp_path / "tree", files=1, jobs_per_file=1)
    with named_pipe(tmp_path) as (pipe, received):
        result = mllint("--format", "json", "-o", str(pipe), "tree")
        assert result.returncode == 1, result.stderr
        assert received() == mllint("--format", "json", "tree").stdout
    assert stat.S_ISFIFO(pipe.stat().st_mode)
