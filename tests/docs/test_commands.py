"""The commands the docs give a new user, run as written: README.md's "Set up" and "pre-commit"
sections, the webhook quickstart of docs/webhook.md, README's `webhook-config` example, and the
install steps of the Dockerfile.

They run in one fresh virtual environment (made once for this module, on PATH in place of the
one running the tests) inside a snapshot of the repository, the way a user's clone is. pip needs
PyPI, so the module is marked `network`. README's second set-up command (install the test extra
and run the tests) is this test suite: `.ci/run` runs it as written, which a test checks.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dockerfile import ignore_patterns, ignored, stages
from repo import ROOT, git, snapshot

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="the source tree is not a git clone"),
]

README = (ROOT / "README.md").read_text(encoding="utf-8")
UPSTREAM = "https://github.com/mllint/mllint"
"""The repository URL the docs give; tests put the snapshot's path in its place."""


def section(text: str, heading: str) -> str:
    """The body of a `## heading` (or `### heading`) section, up to the next heading of its
    level or above."""
    level = re.match(r"#+", heading)
    assert level is not None
    marks = level[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(marks)}}} ", text[start:], re.M)]
    return text[start : start + ends[0]] if ends else text[start:]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


def commands(block: str) -> list[str]:
    """The commands of a shell block, continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


@dataclass
class Fresh:
    """A snapshot of the repository and a fresh virtual environment to run the docs in."""

    repo: Path
    venv: Path
    env: dict[str, str]

    def sh(
        self, script: str, cwd: Path | None = None, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=cwd or self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def python3() -> str:
    """The machine's own `python3` when it is recent enough and can make virtual environments
    (what a fresh machine runs), else the first on PATH."""
    system = Path("/usr/bin/python3")
    if system.is_file():
        version = subprocess.run(
            [str(system), "-c", "import sys, ensurepip; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if version.stdout.strip() == "True":
            return str(system)
    return shutil.which("python3") or sys.executable


def reachable_by_others(path: Path) -> bool:
    """Whether any user may run `path` (every folder above it searchable by others)."""
    real = path.resolve()
    return bool(real.stat().st_mode & 0o001) and all(p.stat().st_mode & 0o001 for p in real.parents)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    root = tmp_path_factory.mktemp("fresh")
    repo = snapshot(root / "mllint")
    venv = root / "venv"
    subprocess.run([python3(), "-m", "venv", str(venv)], check=True, timeout=300)
    outer = Path(sys.prefix) / "bin"
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != outer]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    env |= {"PATH": os.pathsep.join([str(venv / "bin"), *path]), "VIRTUAL_ENV": str(venv)}
    return Fresh(repo, venv, env)


# --- README: Set up ----------------------------------------------------------------------------


def setup_commands() -> list[str]:
    found = [commands(b) for b in blocks(section(README, "## Set up"), "sh")]
    assert all(len(c) == 1 for c in found), "each set-up block is one command"
    return [c[0] for c in found]


def test_readme_has_two_set_up_commands_and_ci_runs_the_second() -> None:
    install_and_lint, install_and_test = setup_commands()
    assert "mllint examples/" in install_and_lint
    assert "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install_and_test in ci, ".ci/run runs the README's test command as written"


@pytest.mark.network
def test_readme_install_and_lint_the_examples(fresh: Fresh) -> None:
    install_and_lint = setup_commands()[0]
    result = fresh.sh(install_and_lint)
    # README: "the `bad/` ones have findings, so the exit code is 1".
    assert result.returncode == 1, result.stdout + result.stderr
    located = [line for line in result.stdout.splitlines() if re.match(r"\S+:\d+:\d+: ML", line)]
    assert located and all(line.startswith("examples/bad/") for line in located)
    assert "Traceback" not in result.stderr
    # Linting installs none of the webhook's dependencies.
    webhook_deps = fresh.sh("python3 -c 'import fastapi'")
    assert webhook_deps.returncode != 0


# --- README: pre-commit ------------------------------------------------------------------------

BAD_JOB = """\
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


@pytest.mark.network
@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed")
def test_readme_pre_commit_section(fresh: Fresh, tmp_path: Path) -> None:
    """The README's snippet and commands, with the repository URL replaced by the snapshot's
    path (pre-commit clones either the same way)."""
    text = section(README, "## pre-commit")
    [config] = blocks(text, "yaml")
    [shell] = blocks(text, "sh")
    assert UPSTREAM in config
    project = tmp_path / "project"
    (project / "k8s").mkdir(parents=True)
    (project / ".pre-commit-config.yaml").write_text(config.replace(UPSTREAM, str(fresh.repo)))
    (project / "k8s" / "train.yaml").write_text(BAD_JOB)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "manifests")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))}
    env |= {"PRE_COMMIT_HOME": str(tmp_path / "cache"), "PRE_COMMIT_COLOR": "never"}
    results = []
    for command in commands(shell):
        results.append(
            subprocess.run(
                ["bash", "-c", command.replace(UPSTREAM, str(fresh.repo))],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        )
        if "autoupdate" in command:
            # The rev is now the commit `main` points at.
            head = subprocess.run(
                ["git", "rev-parse", "main"],
                cwd=fresh.repo,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            pinned = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
            assert pinned["repos"][0]["rev"] == head
    autoupdate, install, run = results
    assert autoupdate.returncode == 0, autoupdate.stdout + autoupdate.stderr
    assert install.returncode == 0, install.stderr
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "k8s/train.yaml:14:15: ML101" in output
    assert "mutable reference" not in output, "the pinned rev is a commit"


# --- README: webhook-config --------------------------------------------------------------------


def test_readme_webhook_config_command_prints_both_configurations(tmp_path: Path) -> None:
    [command] = re.findall(r"`(mllint webhook-config [^`]*)`", README)
    mllint = str(Path(sys.executable).with_name("mllint"))
    certs = subprocess.run(
        [mllint, "certs", "--out", "mllint-tls"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert certs.returncode == 0
    result = subprocess.run(
        [mllint, *command.split()[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert kinds == ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]


# --- docs/webhook.md: Quickstart ---------------------------------------------------------------


@pytest.mark.network
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_webhook_quickstart(fresh: Fresh) -> None:
    guide = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    [script] = blocks(section(guide, "## Quickstart"), "sh")
    assert "--resolve mllint-webhook.mllint-system.svc:8443:127.0.0.1" in script
    result = fresh.sh(script, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '{"status":"ready"}' in result.stdout
    assert '"allowed":false' in result.stdout
    assert "ML101 gpu-not-in-limits at spec.template.spec.containers[0]" in result.stdout
    assert "Finished server process" in result.stderr, "`kill %1` stops the server"


# --- Dockerfile ------------------------------------------------------------------------------


def build_context(repo: Path, dest: Path) -> Path:
    """The files `docker build` would send, by .dockerignore."""
    patterns = ignore_patterns(repo / ".dockerignore")
    for path in sorted(repo.rglob("*")):
        name = path.relative_to(repo).as_posix()
        if path.is_file() and not name.startswith(".git/") and not ignored(name, patterns):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / name)
    return dest


def https_ready(port: int, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="mllint-webhook.mllint-system.svc") as tls,
        ):
            tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return tls.recv(64).split()[1] == b"200"
    except OSError:
        return False


def open_to_others(path: Path, top: Path) -> None:
    """Let other users traverse and read `path` and its folders up to `top` (pytest makes its
    temporary folders private to their owner)."""
    for folder in (path, *path.parents):
        folder.chmod(folder.stat().st_mode | 0o005)
        if folder == top:
            return


@pytest.mark.network
def test_dockerfile_install_steps_and_entrypoint(
    fresh: Fresh, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The build stage's steps in the build context .dockerignore leaves, with the fresh
    environment standing for /opt/mllint; then the final stage's entrypoint, with its
    environment, as its user when the tests run as root (the environment and the sources are
    then not writable to it, as on a read-only root filesystem)."""
    build, final = stages(fresh.repo / "Dockerfile")
    context = build_context(fresh.repo, tmp_path / "src")
    for source, _, _ in build.copies:
        for item in source:
            assert (context / item.rstrip("/")).exists(), f"COPY {item}: not in the context"
    env = fresh.env | build.env
    for run in build.runs:
        done = fresh.sh(run.replace("/opt/mllint", str(fresh.venv)), cwd=context)
        assert done.returncode == 0, f"RUN {run}\n{done.stdout}\n{done.stderr}"
    tools = fresh.sh("python3 -c 'import pytest'")
    assert tools.returncode != 0, "the image gets no test tools"

    tls = tmp_path / "tls"
    mllint = fresh.venv / "bin" / "mllint"
    assert (
        subprocess.run([str(mllint), "certs", "--out", str(tls)], env=env, check=False).returncode
        == 0
    )
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    run_env = {
        k: v.replace("/opt/mllint", str(fresh.venv)).replace("$PATH", env["PATH"])
        for k, v in final.env.items()
    }
    run_env |= {
        "MLLINT_CERT_FILE": str(tls / "tls.crt"),
        "MLLINT_KEY_FILE": str(tls / "tls.key"),
        "MLLINT_HOST": "127.0.0.1",
        "MLLINT_PORT": str(port),
        "HOME": "/nonexistent",
    }
    assert final.user is not None and final.entrypoint is not None
    uid, _, gid = final.user.partition(":")
    # As root, run as the image's user, unless the interpreter the environment was made from is
    # out of that user's reach (a Python installed under /root).
    as_user = os.geteuid() == 0 and reachable_by_others(fresh.venv / "bin" / "python")
    if as_user:
        os.chown(tls / "tls.key", int(uid), int(gid))
        top = tmp_path_factory.getbasetemp().parent
        open_to_others(tls, top)
        open_to_others(fresh.venv, top)
    server = subprocess.Popen(
        final.entrypoint,
        env=run_env,
        cwd="/",
        user=int(uid) if as_user else None,
        group=int(gid) if as_user else None,
        extra_groups=[] if as_user else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not https_ready(port, tls / "ca.crt"):
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=60)
