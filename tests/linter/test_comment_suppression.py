"""`# mllint: ignore[...]` comments: the linter's in-file suppression, honoured by --fix too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train}
spec:
  template:
    spec:
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:latest  # mllint: ignore[image-tag-latest, ML999]
          resources:
            requests:
              nvidia.com/gpu: 1  # mllint: ignore[ML101]
---
apiVersion: batch/v1
kind: Job
metadata: {name: other}
spec:
  template:
    spec:
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:latest
          resources:
            requests:
              nvidia.com/gpu: 1
"""


def _lint(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mllint", "--select", "ML101,ML602,ML003", "--format", "json", *extra, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_comment_suppresses_the_named_rules_on_its_line_only(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    found = json.loads(_lint(path).stdout)["findings"]
    placed = sorted((f["code"], f["line"]) for f in found)
    assert placed == [("ML003", 9), ("ML101", 25), ("ML602", 22)]
    unknown = next(f for f in found if f["code"] == "ML003")
    assert "ML999" in unknown["message"]


def test_fix_leaves_suppressed_findings_alone(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    _lint(path, "--fix")
    fixed = path.read_text()
    first, second = fixed.split("---\n")
    assert first == JOB.split("---\n", maxsplit=1)[0]
    assert "limits" in second


def test_config_can_disallow_comment_suppression(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    (tmp_path / ".mllint.yaml").write_text("allow-suppression: false\n")
    done = subprocess.run(
        ["mllint", "--select", "ML101", "--format", "json", "job.yaml"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    lines = sorted(f["line"] for f in json.loads(done.stdout)["findings"])
    assert lines == [12, 25]


BARE = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train}
spec:
  template:
    spec:
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:latest  # mllint: ignore
          resources:
            requests:
              nvidia.com/gpu: 1  # mllint: ignore[]
        - name: helper
          image: ghcr.io/example/helper:latest  # mllint: ignore[ ]
          resources:
            requests:
              nvidia.com/gpu: 1  # mllint: ignored
"""


def test_a_bare_comment_suppresses_every_rule_on_its_line_and_empty_brackets_are_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(BARE)
    found = json.loads(_lint(path).stdout)["findings"]
    placed = sorted((f["code"], f["line"]) for f in found)
    # Line 9: suppressed whole. Lines 12 and 14: `[]` and `[ ]` suppress nothing and are
    # reported. Line 17: `ignored` is not a suppression comment.
    assert placed == [("ML003", 12), ("ML003", 14), ("ML101", 12), ("ML101", 17), ("ML602", 14)]
    empty = next(f for f in found if f["code"] == "ML003")
    assert "names no rule inside the brackets" in empty["message"]
