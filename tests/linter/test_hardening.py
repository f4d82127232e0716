"""One bad file never sinks a run, `--fix` never half-writes or loses what the file system
knows about a file, and YAML merge keys read as YAML 1.1 defines them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllint.linter.lint import lint_file
from mllint.linter.loader import load
from mllint.rules import REGISTRY, Engine
from mllint.rules.engine import Registry

Runner = Callable[..., subprocess.CompletedProcess[str]]

GOOD = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: train
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: trainer
          image: pytorch/pytorch:2.3.0
          resources:
            requests:
              nvidia.com/gpu: 1
"""
"""A Job with one ML101 finding (the GPU request on line 14), which --fix fixes."""

HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def findings_of(data: dict[str, Any], file: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["file"] == file]


BAD_FILES = {
    # A control character the reader refuses, and more brackets than the depth guard's cheap
    # bound allows (so its exact count meets the character first).
    "control-and-brackets": (
        HEADER.replace("name: a", "name: a\x01") + "data: " + "[" * 300 + "]" * 300 + "\n",
        (4, 10),
        "control character U+0001",
    ),
    "int-empty": (HEADER + 'data:\n  x: !!int ""\n', (6, 6), "is not a valid int"),
    "float-empty": (HEADER + 'data:\n  x: !!float ""\n', (6, 6), "is not a valid float"),
    "int-underscore": (HEADER + 'data:\n  x: !!int "_"\n', (6, 6), "is not a valid int"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_an_unreadable_file_is_a_finding_at_its_place(
    mllint: Runner, tmp_path: Path, case: str
) -> None:
    text, (line, column), message = BAD_FILES[case]
    (tmp_path / "bad.yaml").write_text(text)
    (tmp_path / "good.yaml").write_text(GOOD)
    result = mllint("--select", "ML001,ML101", "--format", "json", "bad.yaml", "good.yaml")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    data = report(result)
    [bad] = findings_of(data, "bad.yaml")
    assert (bad["code"], bad["line"], bad["column"]) == ("ML001", line, column)
    assert message in bad["message"]
    assert "\n" not in bad["message"]
    assert [f["code"] for f in findings_of(data, "good.yaml")] == ["ML101"]


ODD_FIELDS = {
    "inf-and-nan": GOOD.replace(
        "  template:\n", "  backoffLimit: .inf\n  activeDeadlineSeconds: .nan\n  template:\n"
    ).replace("nvidia.com/gpu: 1", "nvidia.com/gpu: .inf\n              cpu: .nan"),
    "mount-name-list": GOOD.replace(
        "      containers:\n",
        "      volumes:\n        - name: data\n          emptyDir: {}\n      containers:\n",
    ).replace(
        "          resources:\n",
        "          volumeMounts:\n            - name: [data]\n              mountPath: /data\n"
        "          resources:\n",
    ),
    "concurrency-list": (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n"
        '  schedule: "0 0 * * *"\n  concurrencyPolicy: [Allow]\n  jobTemplate:\n    spec:\n'
        + "\n".join("    " + line for line in GOOD.split("spec:\n", 1)[1].splitlines()[1:])
        + "\n"
    ),
}


@pytest.mark.parametrize("case", ODD_FIELDS, ids=list(ODD_FIELDS))
def test_fields_of_an_unexpected_type_are_linted(mllint: Runner, tmp_path: Path, case: str) -> None:
    (tmp_path / "odd.yaml").write_text(ODD_FIELDS[case])
    for args in (("--format", "json"), ("--fix", "--format", "json")):
        result = mllint(*args, "odd.yaml")
        assert "Traceback" not in result.stderr, result.stderr
        assert report(result)["summary"]["unreadable_files"] == 0


def broken_rule_engine() -> Engine:
    """The catalog plus one rule that raises on Jobs: what a bug in a rule looks like."""

    def check(scope: Any, options: Any) -> Iterator[Any]:
        raise ZeroDivisionError("a bug")
        yield

    broken = REGISTRY.get("ML101").replace(code="ML999", name="broken", check=check)
    return Engine(registry=Registry([*REGISTRY.rules, broken]))


def test_an_error_in_a_rule_is_a_finding_on_its_object(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(HEADER + "---\n" + GOOD)
    report = lint_file(str(path), broken_rule_engine())
    assert report.failed
    assert report.objects == 2
    [error] = [f for f in report.findings if f.finding.code == "ML001"]
    assert error.line == 6  # the Job's first line: the ConfigMap before it was linted
    assert "ZeroDivisionError: a bug" in error.finding.message


def test_fix_leaves_a_file_it_cannot_rewrite_and_fixes_the_others(
    mllint: Runner, tmp_path: Path
) -> None:
    deep = GOOD + "  extra:\n" + "".join(f"{'  ' * (i + 2)}k{i}:\n" for i in range(248))
    deep = deep.rstrip("\n") + " v\n"
    odd = {
        "set.yaml": GOOD.replace("  name: train\n", "  name: train\n  labels: !!set a\n"),
        "deep.yaml": deep,
    }
    for name, text in odd.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "good.yaml").write_text(GOOD)
    result = mllint("--select", "ML101", "--fix", "--format", "json", *odd, "good.yaml")
    assert "Traceback" not in result.stderr
    for name, text in odd.items():
        assert (tmp_path / name).read_text() == text  # untouched, not half-written
        assert f"{name}: document 1: fixes not applied" in result.stderr
    assert "limits:\n              nvidia.com/gpu: 1" in (tmp_path / "good.yaml").read_text()
    assert result.returncode == 1


# --- writing --------------------------------------------------------------------------------


def test_fix_keeps_hard_links(mllint: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(GOOD)
    other = tmp_path / "linked.yaml"
    os.link(path, other)
    assert mllint("--select", "ML101", "--fix", "job.yaml").returncode == 0
    assert path.stat().st_ino == other.stat().st_ino
    assert "limits:" in other.read_text()
    assert sorted(os.listdir(tmp_path)) == ["job.yaml", "linked.yaml"]


def test_fix_keeps_setuid_setgid_and_sticky_bits(mllint: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(GOOD)
    path.chmod(0o6755 | stat.S_ISVTX)
    assert mllint("--select", "ML101", "--fix", "job.yaml").returncode == 0
    assert "limits:" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o7755


def test_fix_keeps_cr_line_endings(mllint: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(GOOD.replace("\n", "\r").encode())
    assert mllint("--select", "ML101", "--fix", "job.yaml").returncode == 0
    fixed = path.read_bytes()
    assert b"\n" not in fixed
    assert b"limits:\r" in fixed


def test_a_read_only_file_is_reported_as_not_written(mllint: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(GOOD)
    path.chmod(0o444)
    result = mllint("--select", "ML101", "--fix", "job.yaml")
    assert result.returncode == 1
    assert "1 file could not be written" in result.stdout
    assert "could not be read or parsed" not in result.stdout
    path.chmod(0o644)


def test_fix_creates_a_null_parent(mllint: Runner, tmp_path: Path) -> None:
    """`limits:` left empty is null: the fix makes it a mapping holding the GPU limit."""
    path = tmp_path / "job.yaml"
    path.write_text(GOOD + "            limits:\n")
    result = mllint("--select", "ML101", "--fix", "job.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text().endswith("            limits:\n              nvidia.com/gpu: 1\n")


# --- merge keys -----------------------------------------------------------------------------

MERGES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels: &labels
    app: x
    tier: a
  annotations: &more
    tier: c
    extra: e
data:
  after:
    <<: *labels
    tier: b
  before:
    tier: b
    <<: *labels
  many:
    <<: [*more, *labels]
"""


def test_merge_keys_are_overridden_as_yaml_defines(mllint: Runner, tmp_path: Path) -> None:
    [doc] = load(MERGES)
    data = doc.obj["data"]
    assert data["after"] == {"app": "x", "tier": "b"}
    assert data["before"] == {"app": "x", "tier": "b"}
    assert data["many"] == {"app": "x", "tier": "c", "extra": "e"}  # the earlier one wins
    (tmp_path / "m.yaml").write_text(MERGES + "  twice:\n    k: 1\n    k: 2\n")
    result = mllint("--select", "ML002", "--format", "json", "m.yaml")
    assert [(f["code"], f["line"]) for f in report(result)["findings"]] == [("ML002", 22)]
