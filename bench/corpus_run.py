"""Run the installed `mllint` over a corpus of manifests, for the benches that score its findings.

Shared by `sample_findings.py` (draws the findings to label) and `precision.py` (scores them
against the answer key), so that both see the same run: every rule, JSON report, inside the corpus.
The other benches that run the command find it here too (`mllint_command`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def mllint_command() -> str:
    """The `mllint` installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("mllint")
    found = str(beside) if beside.is_file() else shutil.which("mllint")
    if found is None:
        sys.exit("the mllint command is not installed: python -m pip install .")
    return found


def findings(corpus: Path) -> list[dict[str, Any]]:
    """Every finding of every rule (`--select ALL`) on `corpus`, run from inside it, so that each
    `file` is relative to the corpus root."""
    run = subprocess.run(
        [mllint_command(), "--select", "ALL", "--format", "json", "."],
        cwd=corpus,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):
        sys.exit(f"mllint failed ({run.returncode}): {run.stderr}")
    found: list[dict[str, Any]] = json.loads(run.stdout)["findings"]
    for f in found:
        f["file"] = f["file"].removeprefix("./")
    return found


def catalog() -> list[dict[str, Any]]:
    """Every rule mllint has, as `mllint rules --format json` lists them."""
    run = subprocess.run(
        [mllint_command(), "rules", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        sys.exit(f"mllint rules failed ({run.returncode}): {run.stderr}")
    rules: list[dict[str, Any]] = json.loads(run.stdout)
    return rules
