"""Shared fixtures for the linter tests: the installed `mllint`, run as a user runs it, and a
GPU training Job to lint."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from installed import MLLINT

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mllint_exe() -> str:
    """The installed command's path, for tests that start it themselves."""
    return MLLINT


@pytest.fixture
def mllint(tmp_path: Path) -> Runner:
    """Run `mllint ARGS...` in `cwd` (default: the test's tmp_path), output captured as text.
    Colour variables from the caller's environment are dropped so that results do not depend
    on it; `env` adds variables."""

    def run(
        *args: str,
        cwd: Path = tmp_path,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        return subprocess.run(
            [MLLINT, *args],
            cwd=cwd,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=environ | (env or {}),
            timeout=120,
            check=False,
        )

    return run


def _gpu_job(
    name: str = "train",
    namespace: str = "ml",
    *,
    annotations: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    limits: bool = False,
    kind: str = "Job",
) -> str:
    """A Job (or another batch/v1 kind name, for exclusion tests) whose container requests one
    GPU; without `limits` it breaks gpu-not-in-limits (ML101) on the line of the request."""

    def block(values: dict[str, str] | None, indent: str) -> str:
        if not values:
            return ""
        items = "".join(f'{indent}  {k}: "{v}"\n' for k, v in values.items())
        return f"{indent}annotations:\n{items}"

    section = "limits" if limits else "requests"
    template_meta = (
        f"    metadata:\n{block(template_annotations, '      ')}" if template_annotations else ""
    )
    return (
        "apiVersion: batch/v1\n"
        f"kind: {kind}\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        f"{block(annotations, '  ')}"
        "spec:\n"
        "  template:\n"
        f"{template_meta}"
        "    spec:\n"
        "      restartPolicy: Never\n"
        "      containers:\n"
        "        - name: trainer\n"
        "          image: pytorch/pytorch:2.3.0\n"
        "          resources:\n"
        f"            {section}:\n"
        "              nvidia.com/gpu: 1\n"
    )


@pytest.fixture
def gpu_job() -> Callable[..., str]:
    return _gpu_job
