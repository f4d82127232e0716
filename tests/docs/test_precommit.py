"""The pre-commit hook (.pre-commit-hooks.yaml), run by the real `pre-commit try-repo`.

pre-commit builds a virtualenv and pip-installs mllint into it from a git repository, so this
test needs PyPI and takes a while (marked `network`; deselect with `-m "not network"`). The
repository it installs from is a snapshot of the working tree committed in tmp_path, so what is
tested is the tree as it is, committed or not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from repo import ROOT, git, snapshot

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="the source tree is not a git clone"),
]

BAD = """\
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


def try_repo(project: Path, repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))}
    env |= {"PRE_COMMIT_HOME": str(home), "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        ["pre-commit", "try-repo", str(repo), "mllint", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_hook_fails_on_a_bad_manifest_and_passes_on_a_good_one(tmp_path: Path) -> None:
    repo = snapshot(tmp_path / "mllint")
    project = tmp_path / "project"
    (project / "k8s").mkdir(parents=True)
    (project / "k8s" / "bad.yaml").write_text(BAD)
    good = (ROOT / "examples" / "good" / "training-job.yaml").read_text()
    (project / "k8s" / "good.yaml").write_text(good)
    (project / "README.md").write_text("not a manifest: the hook's types leave it out\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "manifests")
    home = tmp_path / "pre-commit-home"

    failed = try_repo(project, repo, home, "--all-files")
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "Traceback" not in output
    assert "mllint" in output and "Failed" in output
    reported = [line for line in output.splitlines() if " ML" in line and ".yaml:" in line]
    assert reported, output
    assert all(line.startswith("k8s/bad.yaml:") for line in reported), reported
    assert any("ML101" in line and "(gpu-not-in-limits)" in line for line in reported)

    passed = try_repo(project, repo, home, "--files", "k8s/good.yaml")
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert "Passed" in output
