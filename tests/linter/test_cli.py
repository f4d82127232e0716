"""End-to-end tests of the `mllint` command: exit codes, configuration, selection, exclusions,
suppressions and inputs. Each test runs the installed command on files it writes.

gpu-not-in-limits (ML101) is the rule under test throughout; runs select it explicitly so that
results do not change as the catalog grows.
"""

from __future__ import annotations

import gc
import io
import json
import os
import pty
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

Runner = Callable[..., subprocess.CompletedProcess[str]]

GPU = "nvidia.com/gpu: 1"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def codes(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [f["code"] for f in report(result)["findings"]]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- exit codes -------------------------------------------------------------------------------


def test_clean_file_exits_0(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / "ok.yaml", gpu_job(limits=True))
    result = mllint("--select", "ML101", "ok.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No findings in 1 file, 1 object.\n"


def test_finding_exits_1(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    text = gpu_job()
    write(tmp_path / "job.yaml", text)
    result = mllint("--select", "ML101", "job.yaml")
    assert result.returncode == 1
    assert result.stdout.startswith(f"job.yaml:{line_of(text, GPU)}:15: ML101 [*] ")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give at least one PATH"),
        (("--bogus", "x.yaml"), "unrecognized arguments: --bogus"),
        (("--format", "xml", "x.yaml"), "invalid choice: 'xml'"),
        (("--unsafe-fixes", "x.yaml"), "--unsafe-fixes goes with --fix or --diff"),
        (("missing.yaml",), "missing.yaml: no such file or directory"),
        (("--config", "nope.yaml", "x.yaml"), "nope.yaml: config file not found"),
        (("--select", "ML999", "x.yaml"), "'ML999' matches no rule code or name"),
        (("-o", "no-such-dir/report.txt", "x.yaml"), "cannot write"),
    ],
)
def test_usage_errors_exit_2(
    mllint: Runner, tmp_path: Path, gpu_job: Any, args: tuple[str, ...], message: str
) -> None:
    write(tmp_path / "x.yaml", gpu_job())
    result = mllint(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def _severity_config(tmp_path: Path, severity: str, extra: str = "") -> None:
    write(tmp_path / ".mllint.yaml", f"select: [ML101]\nseverity:\n  ML101: {severity}\n{extra}")


@pytest.mark.parametrize(
    ("severity", "fail_on", "code"),
    [
        ("error", None, 1),
        ("info", None, 0),
        ("warning", "error", 0),
        ("warning", "warning", 1),
        ("info", "info", 1),
    ],
)
def test_fail_on_sets_only_the_exit_code(
    mllint: Runner,
    tmp_path: Path,
    gpu_job: Any,
    *,
    severity: str,
    fail_on: str | None,
    code: int,
) -> None:
    _severity_config(tmp_path, severity)
    write(tmp_path / "job.yaml", gpu_job())
    args = ("--fail-on", fail_on) if fail_on else ()
    result = mllint("--format", "json", *args, "job.yaml")
    assert result.returncode == code
    found = report(result)
    # The finding is shown whatever the fail level.
    assert [(f["code"], f["severity"]) for f in found["findings"]] == [("ML101", severity)]
    assert found["summary"]["failed"] is bool(code)
    assert found["summary"]["fail_on"] == (fail_on or "warning")


def test_fail_on_from_config(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    _severity_config(tmp_path, "warning", "fail-on: error\n")
    write(tmp_path / "job.yaml", gpu_job())
    assert mllint("job.yaml").returncode == 0
    # The command line wins over the file.
    assert mllint("--fail-on", "warning", "job.yaml").returncode == 1


def test_unparseable_file_is_a_finding_and_exits_1(mllint: Runner, tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", "metadata:\n  name: x\n labels: {}\n")
    result = mllint("--format", "json", "broken.yaml")
    assert result.returncode == 1
    [finding] = report(result)["findings"]
    assert (finding["code"], finding["file"], finding["line"]) == ("ML001", "broken.yaml", 3)
    assert report(result)["summary"]["unreadable_files"] == 1


def test_unreadable_file_exits_1_even_with_its_rule_off(mllint: Runner, tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", "a: [1\n")
    result = mllint("--format", "json", "--ignore", "yaml-invalid", "broken.yaml")
    assert result.returncode == 1
    assert report(result)["findings"] == []
    assert report(result)["summary"]["unreadable_files"] == 1


def test_version(mllint: Runner) -> None:
    result = mllint("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mllint ")


# --- configuration discovery --------------------------------------------------------------------


def _job_in(tmp_path: Path, gpu_job: Any) -> Path:
    sub = tmp_path / "repo" / "manifests"
    write(sub / "job.yaml", gpu_job())
    return sub


def _severity(result: subprocess.CompletedProcess[str]) -> str:
    [finding] = report(result)["findings"]
    return str(finding["severity"])


def test_mllint_yaml_in_a_parent_folder(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    sub = _job_in(tmp_path, gpu_job)
    _severity_config(tmp_path / "repo", "info")
    result = mllint("--format", "json", "job.yaml", cwd=sub)
    assert result.returncode == 0
    assert _severity(result) == "info"


def test_tool_section_of_pyproject(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    sub = _job_in(tmp_path, gpu_job)
    write(
        tmp_path / "repo" / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.mllint]\nselect = ["ML101"]\n\n'
        '[tool.mllint.severity]\ngpu-not-in-limits = "warning"\n',
    )
    assert _severity(mllint("--format", "json", "job.yaml", cwd=sub)) == "warning"


def test_nearest_config_wins(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    sub = _job_in(tmp_path, gpu_job)
    _severity_config(tmp_path, "info")
    write(
        tmp_path / "repo" / "pyproject.toml",
        '[tool.mllint]\nselect = ["ML101"]\nseverity = { ML101 = "warning" }\n',
    )
    assert _severity(mllint("--format", "json", "job.yaml", cwd=sub)) == "warning"
    # In one folder, .mllint.yaml comes before pyproject.toml.
    _severity_config(tmp_path / "repo", "error")
    assert _severity(mllint("--format", "json", "job.yaml", cwd=sub)) == "error"


def test_pyproject_without_tool_section_is_passed_over(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    sub = _job_in(tmp_path, gpu_job)
    _severity_config(tmp_path, "info")
    write(tmp_path / "repo" / "pyproject.toml", '[project]\nname = "x"\n')
    assert _severity(mllint("--format", "json", "job.yaml", cwd=sub)) == "info"


def test_explicit_config_wins_over_discovery(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    sub = _job_in(tmp_path, gpu_job)
    _severity_config(tmp_path / "repo", "error")
    write(tmp_path / "elsewhere.yaml", "select: [ML101]\nseverity: {ML101: info}\n")
    result = mllint(
        "--format", "json", "--config", str(tmp_path / "elsewhere.yaml"), "job.yaml", cwd=sub
    )
    assert _severity(result) == "info"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("selct: [ML101]\n", "unknown key 'selct'; did you mean 'select'?"),
        ("exclude:\n  namespace: [x]\n", "did you mean 'namespaces'?"),
        ("fail-on: fatal\n", "fail-on"),
        ("select: [gpu-not-in-limit]\n", "did you mean 'gpu-not-in-limits'?"),
        ("ignore: [gpu-not-in-limit]\n", "did you mean 'gpu-not-in-limits'?"),
        ("severity:\n  gpu-not-in-limit: info\n", "did you mean 'gpu-not-in-limits'?"),
        ("severity:\n  ML101: fatal\n", "severity.ML101"),
        ("rules:\n  gpu-not-in-limit: {}\n", "did you mean 'gpu-not-in-limits'?"),
        ("rules:\n  gpu-not-in-limits:\n    bogus: 1\n", "rules.gpu-not-in-limits.bogus"),
        ("- select\n", "must be a mapping"),
        ("select: [ML101\n", ".mllint.yaml:2:1"),
    ],
)
def test_config_errors_exit_2(
    mllint: Runner, tmp_path: Path, gpu_job: Any, config: str, message: str
) -> None:
    write(tmp_path / ".mllint.yaml", config)
    write(tmp_path / "job.yaml", gpu_job())
    result = mllint("job.yaml")
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_rule_on_the_command_line_exits_2(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    result = mllint("--ignore", "gpu-not-in-limit", "job.yaml")
    assert result.returncode == 2
    assert "did you mean 'gpu-not-in-limits'?" in result.stderr


# --- selection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--select", "ML101"), {"ML101"}),
        (("--select", "gpu-not-in-limits"), {"ML101"}),
        (("--select", "ml101"), {"ML101"}),
        (("--select", "ML101", "--ignore", "ML101"), set()),
        (("--select", "ML101", "--ignore", "gpu-not-in-limits"), set()),
        (("--select", "ML101", "--ignore", "ML1"), set()),
        (("--select", "ML003", "--extend-select", "gpu-not-in-limits"), {"ML101", "ML003"}),
        (("--select", "ML003"), {"ML003"}),
    ],
)
def test_select_ignore_extend_select(
    mllint: Runner, tmp_path: Path, gpu_job: Any, args: tuple[str, ...], expected: set[str]
) -> None:
    # One ML101 finding and one ML003 finding (a suppression without a reason).
    write(tmp_path / "job.yaml", gpu_job(annotations={"ignore-check.mllint.io/ML101": ""}))
    result = mllint("--format", "json", *args, "job.yaml")
    assert set(codes(result)) == expected
    assert result.returncode == (1 if expected else 0)


def test_select_by_prefix(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    found = codes(mllint("--format", "json", "--select", "ML1", "job.yaml"))
    assert "ML101" in found
    assert all(code.startswith("ML1") for code in found)
    assert codes(mllint("--format", "json", "--select", "ML0", "job.yaml")) == []


def test_default_selection_runs_gpu_not_in_limits(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    assert "ML101" in codes(mllint("--format", "json", "job.yaml"))
    assert "ML101" not in codes(mllint("--format", "json", "--ignore", "ML101", "job.yaml"))


def test_select_in_config_and_on_the_command_line(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / ".mllint.yaml", "select: [ML003]\nextend-select: [ML101]\n")
    write(tmp_path / "job.yaml", gpu_job(annotations={"mllint.io/ignore-all": ""}))
    assert set(codes(mllint("--format", "json", "job.yaml"))) == {"ML101", "ML003"}
    # --select replaces the file's select; the file's extend-select still adds to it.
    assert set(codes(mllint("--format", "json", "--select", "ML003", "job.yaml"))) == {
        "ML101",
        "ML003",
    }
    assert codes(mllint("--format", "json", "--ignore", "ML003", "job.yaml")) == ["ML101"]


def test_severity_override_by_name(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / ".mllint.yaml", "severity:\n  gpu-not-in-limits: info\n")
    write(tmp_path / "job.yaml", gpu_job())
    result = mllint("--format", "json", "--select", "ML101", "job.yaml")
    assert _severity(result) == "info"
    assert result.returncode == 0


def _has_rule(mllint: Runner, code: str) -> bool:
    return any(line.split()[:1] == [code] for line in mllint("rules").stdout.splitlines())


def test_per_rule_options(mllint: Runner, tmp_path: Path) -> None:
    if not _has_rule(mllint, "ML202"):
        pytest.skip("job-backoff-limit-missing (ML202) is not in this catalog")
    write(
        tmp_path / "job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n"
        "  template:\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: c, image: trainer:1}]\n",
    )
    default = report(mllint("--format", "json", "--select", "ML202", "job.yaml"))
    # The option is the backoffLimit the message (and the fix) proposes: 3 unless configured.
    assert re.findall(r"\d+", default["findings"][0]["message"])[-1] == "3"
    write(tmp_path / ".mllint.yaml", "rules:\n  job-backoff-limit-missing:\n    default: 1\n")
    tuned = report(mllint("--format", "json", "--select", "ML202", "job.yaml"))
    assert re.findall(r"\d+", tuned["findings"][0]["message"])[-1] == "1"
    write(tmp_path / ".mllint.yaml", "rules:\n  ML202:\n    default: -1\n")
    result = mllint("--select", "ML202", "job.yaml")
    assert result.returncode == 2
    assert "rules.ML202.default" in result.stderr


# --- exclusions ---------------------------------------------------------------------------------


def test_exclude_paths(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    for rel in ("a.yaml", "vendor/b.yaml", "vendor/deep/c.yaml", "gen/d.yml", "gen/e.json"):
        write(tmp_path / rel, gpu_job())
    write(tmp_path / ".mllint.yaml", 'select: [ML101]\nexclude:\n  paths: [vendor, "gen/*.yml"]\n')
    found = report(mllint("--format", "json", "."))
    assert sorted(f["file"] for f in found["findings"]) == ["a.yaml", "gen/e.json"]
    # Patterns are relative to the config file's folder, wherever mllint runs.
    found = report(mllint("--format", "json", ".", cwd=tmp_path / "vendor"))
    assert found["findings"] == []
    write(tmp_path / ".mllint.yaml", 'select: [ML101]\nexclude:\n  paths: ["**/*.yaml"]\n')
    found = report(mllint("--format", "json", "."))
    assert sorted(f["file"] for f in found["findings"]) == ["gen/d.yml", "gen/e.json"]


@pytest.mark.parametrize(
    ("exclude", "kept"),
    [
        ("namespaces: [team-*]", {"a", "c"}),
        ("kinds: [Job]", set()),
        ("kinds: [batch/v1/Job]", set()),
        ("kinds: [batch/Job]", set()),
        ("kinds: [apps/Job]", {"a", "b", "c"}),
        ("kinds: [CronJob]", {"a", "b", "c"}),
        ("names: [b, c]", {"a"}),
        ("names: ['?']", set()),
    ],
)
def test_exclude_objects(
    mllint: Runner, tmp_path: Path, gpu_job: Any, exclude: str, kept: set[str]
) -> None:
    docs = [gpu_job("a", "ml"), gpu_job("b", "team-x"), gpu_job("c", "default")]
    write(tmp_path / "jobs.yaml", "---\n".join(docs))
    write(tmp_path / ".mllint.yaml", f"select: [ML101]\nexclude:\n  {exclude}\n")
    found = report(mllint("--format", "json", "jobs.yaml"))
    assert {f["name"] for f in found["findings"]} == kept
    assert found["summary"]["objects"] == 3


# --- suppression annotations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "ignore-check.mllint.io/ML101",
        "ignore-check.mllint.io/gpu-not-in-limits",
        "mllint.io/ignore-all",
    ],
)
@pytest.mark.parametrize("where", ["annotations", "template_annotations"])
def test_suppression_with_a_reason(
    mllint: Runner, tmp_path: Path, gpu_job: Any, key: str, where: str
) -> None:
    write(tmp_path / "job.yaml", gpu_job(**{where: {key: "a test rig with one GPU"}}))
    result = mllint("--format", "json", "--select", "ML101,ML003", "job.yaml")
    assert report(result)["findings"] == []
    assert result.returncode == 0


def test_suppression_on_the_template_covers_only_the_template(
    mllint: Runner, tmp_path: Path
) -> None:
    # A CronJob's pod template sits under jobTemplate; an annotation on it must not silence
    # findings elsewhere in the object, and one on the object silences all of them.
    if not _has_rule(mllint, "ML205"):
        pytest.skip("cronjob-concurrency-not-forbid (ML205) is not in this catalog")
    cron = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nMETAspec:\n"
        '  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      template:\n'
        "        metadata:\n          annotations:\n"
        '            mllint.io/ignore-all: "nightly retrain rig"\n'
        "        spec:\n          restartPolicy: Never\n          containers:\n"
        "            - name: t\n              image: x:1\n"
        "              resources: {requests: {nvidia.com/gpu: 1}}\n"
    )
    write(tmp_path / "cron.yaml", cron.replace("META", ""))
    assert codes(mllint("--format", "json", "--select", "ML101,ML205", "cron.yaml")) == ["ML205"]
    annotated = '  annotations:\n    ignore-check.mllint.io/ML205: "overlap is fine"\n'
    write(tmp_path / "cron.yaml", cron.replace("META", annotated))
    assert codes(mllint("--format", "json", "--select", "ML101,ML205", "cron.yaml")) == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_suppression_without_a_reason_is_reported(
    mllint: Runner, tmp_path: Path, gpu_job: Any, reason: str
) -> None:
    text = gpu_job(annotations={"ignore-check.mllint.io/ML101": reason})
    write(tmp_path / "job.yaml", text)
    result = mllint("--format", "json", "--select", "ML101,ML003", "job.yaml")
    found = {f["code"]: f for f in report(result)["findings"]}
    assert set(found) == {"ML101", "ML003"}
    assert "gives no reason" in found["ML003"]["message"]
    assert found["ML003"]["line"] == line_of(text, "ignore-check.mllint.io/ML101")
    assert found["ML003"]["pointer"] == "/metadata/annotations/ignore-check.mllint.io~1ML101"


def test_suppression_naming_no_rule_is_reported(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    key = "ignore-check.mllint.io/gpu-not-in-limit"
    write(tmp_path / "job.yaml", gpu_job(annotations={key: "typo"}))
    found = report(mllint("--format", "json", "--select", "ML101,ML003", "job.yaml"))["findings"]
    assert sorted(f["code"] for f in found) == ["ML003", "ML101"]
    [invalid] = [f for f in found if f["code"] == "ML003"]
    assert "did you mean 'gpu-not-in-limits'?" in invalid["message"]


def test_suppression_can_be_disallowed(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / ".mllint.yaml", "select: [ML101, ML003]\nallow-suppression: false\n")
    write(
        tmp_path / "job.yaml",
        gpu_job(
            annotations={"ignore-check.mllint.io/ML101": "reason", "mllint.io/ignore-all": ""},
            template_annotations={"mllint.io/ignore-all": "reason"},
        ),
    )
    result = mllint("--format", "json", "job.yaml")
    # Annotations are not honoured, so neither do they need a reason.
    assert codes(result) == ["ML101"]
    assert result.returncode == 1


# --- inputs -------------------------------------------------------------------------------------


def test_stdin(mllint: Runner, gpu_job: Any) -> None:
    text = gpu_job()
    result = mllint("--select", "ML101", "-", stdin=text)
    assert result.returncode == 1
    assert result.stdout.startswith(f"<stdin>:{line_of(text, GPU)}:15: ML101 ")
    named = mllint(
        "--format", "json", "--select", "ML101", "--stdin-filename", "k8s/job.yaml", "-", stdin=text
    )
    assert [f["file"] for f in report(named)["findings"]] == ["k8s/job.yaml"]


def test_stdin_empty_and_not_kubernetes(mllint: Runner) -> None:
    assert mllint("-", stdin="").stdout == "No findings in 1 file, 0 objects.\n"
    result = mllint("-", stdin="replicas: 3\n")
    assert result.returncode == 0
    assert "1 document skipped (not Kubernetes objects)" in result.stdout


def test_kind_list(mllint: Runner, tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: fine}\n"
        "    spec: {containers: [{name: c, image: x:1}]}\n"
        "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p, namespace: ns}\n    spec:\n"
        "      containers:\n        - name: c\n          image: x:1\n"
        "          resources:\n            requests:\n              amd.com/gpu: 2\n"
    )
    write(tmp_path / "list.yaml", text)
    found = report(mllint("--format", "json", "--select", "ML101", "list.yaml"))
    [finding] = found["findings"]
    assert (finding["kind"], finding["name"], finding["namespace"]) == ("Pod", "p", "ns")
    assert (finding["line"], finding["column"]) == (line_of(text, "amd.com/gpu"), 15)
    assert finding["pointer"] == "/spec/containers/0/resources/requests/amd.com~1gpu"
    assert found["summary"]["objects"] == 2


def test_json_input(mllint: Runner, tmp_path: Path) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "c", "image": "x:1", "resources": {"requests": {GPU[:-3]: 1}}}
                    ],
                }
            }
        },
    }
    text = json.dumps(job, indent=2)
    write(tmp_path / "job.json", text)
    [finding] = report(mllint("--format", "json", "--select", "ML101", "job.json"))["findings"]
    line = line_of(text, '"nvidia.com/gpu"')
    column = text.splitlines()[line - 1].index('"nvidia.com/gpu"') + 1
    assert (finding["file"], finding["line"], finding["column"]) == ("job.json", line, column)


def test_documents_without_api_version_or_kind_are_skipped(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    text = "\n---\n".join(
        ["image: {tag: latest}", gpu_job(), "kind: Job\nmetadata: {name: x}", "apiVersion: v1"]
    )
    write(tmp_path / "mixed.yaml", text)
    result = mllint("--format", "json", "--select", "ML101", "mixed.yaml")
    summary = report(result)["summary"]
    assert (summary["documents"], summary["objects"], summary["skipped_documents"]) == (4, 1, 3)
    assert codes(result) == ["ML101"]
    text_out = mllint("--select", "ML101", "mixed.yaml").stdout
    assert "3 documents skipped (not Kubernetes objects)" in text_out.splitlines()[-1]


def test_directories_are_walked_in_a_stable_order(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    tree = tmp_path / "tree"
    for rel in (
        "z.yaml",
        "b/2.yml",
        "b/1.json",
        "a/deep/er/x.yaml",
        "a/y.YAML.bak",
        "notes.txt",
        "chart/values.yaml.tpl",
        ".git/hooks.yaml",
        "node_modules/pkg/k8s.yaml",
    ):
        text = gpu_job()
        write(tree / rel, json.dumps(yaml.safe_load(text)) if rel.endswith(".json") else text)
    result = mllint("--format", "json", "--select", "ML101", "tree")
    files = [f["file"] for f in report(result)["findings"]]
    assert files == sorted(files)
    assert set(files) == {
        os.path.join("tree", p) for p in ("z.yaml", "b/2.yml", "b/1.json", "a/deep/er/x.yaml")
    }
    assert report(result)["summary"]["files"] == 4
    # The same run from another folder, and again, gives the same report.
    again = mllint("--format", "json", "--select", "ML101", "tree")
    assert again.stdout == result.stdout
    # A file named on the command line is read whatever its extension.
    assert codes(mllint("--format", "json", "--select", "ML101", "tree/notes.txt")) == ["ML101"]


def test_many_files_in_parallel_match_one_process(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    for i in range(60):
        write(tmp_path / "many" / f"{i:03}.yaml", gpu_job(f"job-{i}", limits=i % 3 == 0))
    serial = mllint("--format", "json", "--select", "ML101", "-j", "1", "many")
    parallel = mllint("--format", "json", "--select", "ML101", "-j", "2", "many")
    assert serial.returncode == parallel.returncode == 1
    assert parallel.stdout == serial.stdout
    assert len(report(serial)["findings"]) == 40


def test_output_file(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    result = mllint("--format", "json", "--select", "ML101", "-o", "out/report.json", "job.yaml")
    assert result.returncode == 2  # the folder does not exist
    (tmp_path / "out").mkdir()
    result = mllint("--format", "json", "--select", "ML101", "-o", "out/report.json", "job.yaml")
    assert result.returncode == 1
    assert result.stdout == ""
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["code"] for f in data["findings"]] == ["ML101"]


# --- colour -------------------------------------------------------------------------------------


def _on_a_terminal(exe: str, args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run mllint with its stdout on a pseudo-terminal and return what it printed."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    with subprocess.Popen(
        [exe, *args], cwd=cwd, stdout=follower, stderr=subprocess.PIPE, env=environ | env
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    ("args", "env", "colour"),
    [
        ([], {}, True),
        ([], {"NO_COLOR": "1"}, False),
        ([], {"NO_COLOR": ""}, True),
        (["--no-color"], {}, False),
        (["--color"], {"NO_COLOR": "1"}, True),
        (["--format", "json"], {}, False),
    ],
)
def test_colour_on_a_terminal(
    mllint_exe: str,
    tmp_path: Path,
    gpu_job: Any,
    *,
    args: list[str],
    env: dict[str, str],
    colour: bool,
) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    shown = _on_a_terminal(mllint_exe, [*args, "--select", "ML101", "job.yaml"], tmp_path, env)
    assert "ML101" in shown
    assert ("\x1b[" in shown) is colour


def test_colour_when_piped(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    assert "\x1b[" not in mllint("--select", "ML101", "job.yaml").stdout
    forced = mllint("--color", "--select", "ML101", "job.yaml").stdout
    assert "\x1b[1;31mML101\x1b[0m" in forced
    # Stripping the colour gives the plain report back.
    plain = mllint("--no-color", "--select", "ML101", "job.yaml").stdout
    assert re.sub(r"\x1b\[[0-9;]*m", "", forced) == plain


def test_a_run_in_process_leaves_the_collector_as_it_found_it(
    tmp_path: Path, gpu_job: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run freezes what start-up built, for its own collections and its workers', and
    # collects its young generation less often; a caller that runs it in process (a
    # benchmark, an editor) gets its collector back as it was.
    from mllint.linter.cli import main

    path = write(tmp_path / "job.yaml", gpu_job())
    before = gc.get_freeze_count(), gc.get_threshold()
    assert main(["--select", "ML101", str(path)]) == 1
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
    assert "ML101" in capsys.readouterr().out


class _CountedWrites(io.RawIOBase):
    """The bytes a stream wrote, and how many writes it took."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.writes += 1
        self.data += data
        return len(data)


def test_a_report_reaches_a_write_through_stream_in_few_writes(
    mllint: Runner, tmp_path: Path, gpu_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PYTHONUNBUFFERED (which container images often set) makes stdout write through: each
    # write the report makes is a system call. 300 findings go out in a few large pieces, and
    # the report is the one a buffered stdout gets.
    from mllint.linter import cli

    for i in range(300):
        write(tmp_path / f"job{i:03}.yaml", gpu_job())
    raw = _CountedWrites()
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["-j1", "--select", "ML101", "."]) == 1
    text = raw.data.decode("utf-8")
    assert text.count(" ML101 ") == 300
    assert raw.writes <= len(text) // cli.REPORT_PIECE + 2
    assert text == mllint("-j1", "--select", "ML101", ".").stdout
