"""Whole-set rules through the CLI: objects in different files, worker processes, stdin, --fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-server
  namespace: serving
spec:
  replicas: 3  # the autoscaler owns this
  selector:
    matchLabels: {app: llm-server}
  template:
    metadata:
      labels: {app: llm-server}
    spec:
      containers:
        - name: server
          image: ghcr.io/example/llm-server:1.0.0
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  namespace: serving
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {target}
  minReplicas: 2
  maxReplicas: 6
"""

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mllint", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


def _findings(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str, int]]:
    found = json.loads(done.stdout)["findings"]
    return sorted((f["code"], f["file"], f["line"]) for f in found)


def test_objects_in_different_files_are_one_set(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    (tmp_path / "hpa.yaml").write_text(
        HPA.format(name="llm-server", target="llm-server")
        + "---\n"
        + HPA.format(name="old", target="llm-server-v1")
    )
    done = _run("--select", "ML801,ML802", "--format", "json", ".", cwd=tmp_path)
    assert _findings(done) == [("ML801", "hpa.yaml", 23), ("ML802", "deploy.yaml", 7)]
    alone = _run("--select", "ML801,ML802", "--format", "json", "deploy.yaml", cwd=tmp_path)
    assert _findings(alone) == []


def test_fix_removes_replicas_an_autoscaler_owns_in_another_file(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    (tmp_path / "hpa.yaml").write_text(HPA.format(name="llm-server", target="llm-server"))
    done = _run("--select", "ML802", "--fix", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    fixed = (tmp_path / "deploy.yaml").read_text()
    assert fixed == DEPLOYMENT.replace("  replicas: 3  # the autoscaler owns this\n", "")
    again = _run("--select", "ML802", "--fix", ".", cwd=tmp_path)
    assert "fixed" not in again.stdout
    assert (tmp_path / "deploy.yaml").read_text() == fixed


def test_stdin_is_a_set_of_its_own(tmp_path: Path) -> None:
    text = DEPLOYMENT + "---\n" + HPA.format(name="llm-server", target="llm-server")
    done = _run("--select", "ML802", "--format", "json", "-", cwd=tmp_path, stdin=text)
    assert _findings(done) == [("ML802", "<stdin>", 7)]


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/corpus beside the repository")
def test_worker_processes_see_the_same_set_as_one_process(tmp_path: Path) -> None:
    args = ("--select", "ML8", "--format", "json", str(SHARED))
    one = _run("--jobs", "1", *args, cwd=tmp_path)
    two = _run("--jobs", "2", *args, cwd=tmp_path)
    assert _findings(one), "the corpus has whole-set findings"
    assert _findings(one) == _findings(two)
