"""Linting stays light: the installed `mllint` imports no web, cluster or crypto package to lint.

The imports are read from the command itself (PYTHONPROFILEIMPORTTIME makes Python list every
module it imports on stderr), so the console script, the CLI and the worker processes of a
parallel run are all covered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from installed import MLLINT

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "kubernetes",
    "pydantic_settings",
    "prometheus_client",
    "cryptography",
    "ruamel",
    "httpx",
    "pydantic",
    "pygls",
    "lsprotocol",
    "cel",
)
"""Not imported to lint without a config file. pydantic validates configuration, so it is
loaded when a config file sets something, and only then. The language server's protocol
packages are `mllint lsp`'s alone; CEL is loaded for team rules only."""

JOB = """\
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
            requests: {nvidia.com/gpu: 1}
"""


def imported(cwd: Path, *args: str, stdin: str = "") -> set[str]:
    """Top-level packages `mllint ARGS` imports."""
    result = subprocess.run(
        [MLLINT, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPROFILEIMPORTTIME": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip().partition(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "mllint" in names, "no import list on stderr: is PYTHONPROFILEIMPORTTIME honoured?"
    return names


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "job.yaml").write_text(JOB)
    many = tmp_path / "many"
    many.mkdir()
    for i in range(40):
        (many / f"job-{i:02}.yaml").write_text(JOB.replace("name: train", f"name: train-{i}"))
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ("job.yaml",),
        ("--format", "json", "job.yaml"),
        ("-j", "2", "many"),  # worker processes
        ("-",),
    ],
    ids=["text", "json", "workers", "stdin"],
)
def test_linting_imports_no_heavy_package(project: Path, args: tuple[str, ...]) -> None:
    names = imported(project, *args, stdin=JOB)
    assert "yaml" in names
    assert sorted(names & set(HEAVY)) == []


LAZY = (
    "dataclasses",
    "inspect",
    "pathlib",
    "urllib",
    "fractions",
    "decimal",
    "copy",
    "shlex",
    "multiprocessing",
    "concurrent",
)
"""Standard library modules a run on one file without a config file does without: configuration
models become dataclasses only to be validated, quantities use fractions only when they are not
whole, paths are strings, and worker processes start only for many files. Each costs start-up
time that `python -c "import yaml"` does not pay."""


def test_linting_one_file_imports_only_what_it_needs(project: Path) -> None:
    names = imported(project, "job.yaml")
    assert sorted(names & set(LAZY)) == []
    # The same command on a folder with a config file does need some of them, and sees them.
    (project / ".mllint.yaml").write_text("exclude: {paths: ['many/*']}\n")
    assert {"dataclasses", "pathlib"} <= imported(project, ".")


def test_a_config_file_brings_in_pydantic_to_validate_it(project: Path) -> None:
    (project / ".mllint.yaml").write_text("ignore: [image-tag-latest]\n")
    assert "pydantic" in imported(project, "job.yaml")


def test_the_import_list_sees_what_fixing_loads(project: Path) -> None:
    # Fixes edit a comment-preserving document, so --diff loads ruamel: the check above would
    # see a heavy import if linting made one.
    assert "ruamel" in imported(project, "--diff", "job.yaml")


def test_the_import_list_sees_what_the_language_server_loads(project: Path) -> None:
    # `mllint lsp` reads stdin to its end and stops: the check above would see pygls if linting
    # loaded it.
    assert {"pygls", "lsprotocol"} <= imported(project, "lsp")


def test_cel_is_loaded_only_for_team_rules(project: Path) -> None:
    (project / ".mllint.yaml").write_text("ignore: [image-tag-latest]\n")
    assert "cel" not in imported(project, "job.yaml")
    (project / ".mllint.yaml").write_text(
        "custom-rules:\n"
        "  - {name: job-unnamed, code: X001, summary: s, condition: 'false', message: \"''\"}\n"
    )
    assert "cel" in imported(project, "job.yaml")


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux")
def test_workers_are_forked_without_multiprocessing(project: Path) -> None:
    # multiprocessing and concurrent.futures cost 12-20 ms to import before any worker starts.
    names = imported(project, "-j", "2", "many")
    assert sorted(names & {"multiprocessing", "concurrent"}) == []
