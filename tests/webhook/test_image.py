"""The container image: the Dockerfile against deploy/ and the docs (the user it runs as, its
entrypoint, the image name and tag), and its .dockerignore against what it copies. Its install
steps are run in tests/test_docs_commands.py."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from typing import Any

import yaml
from dockerfile import ROOT, ignore_patterns, ignored, stages

DEPLOYMENT = ROOT / "deploy" / "base" / "deployment.yaml"


def deployment() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(DEPLOYMENT.read_text())
    return found


def test_two_stages_and_only_the_environment_is_carried_over() -> None:
    build, final = stages()
    assert build.name == "build"
    assert final.base == build.base, "the environment's python must be the final image's"
    assert final.runs == [], "the final stage installs nothing"
    assert final.copies == [(["/opt/mllint"], "/opt/mllint", "build")]
    installs = [run for run in build.runs if "pip install" in run]
    assert installs == ["/opt/mllint/bin/python -m pip install '.[webhook]'"], (
        "only the webhook extra is installed"
    )


def test_runs_as_the_numeric_user_the_deployment_declares() -> None:
    final = stages()[-1]
    assert final.user is not None
    user, _, group = final.user.partition(":")
    assert user.isdigit() and group.isdigit() and int(user) > 0
    pod = deployment()["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(user), int(group))
    assert pod["runAsNonRoot"] is True
    assert final.env["PYTHONDONTWRITEBYTECODE"] == "1", "nothing written to a read-only root"
    assert any("compileall" in run for run in stages()[0].runs), "byte code compiled at build"


def test_entrypoint_is_mllint_serve_and_the_deployment_adds_nothing() -> None:
    final = stages()[-1]
    assert final.entrypoint == ["mllint", "serve"]
    [container] = deployment()["spec"]["template"]["spec"]["containers"]
    assert "command" not in container and "args" not in container
    assert final.env["PATH"].startswith("/opt/mllint/bin:")


def test_the_deployment_and_the_docs_name_the_image_the_dockerfile_builds() -> None:
    [container] = deployment()["spec"]["template"]["spec"]["containers"]
    image = container["image"]
    assert image == f"ghcr.io/mllint/mllint:{importlib.metadata.version('mllint')}"
    build_command = f"docker build -t {image} ."
    assert build_command in (ROOT / "Dockerfile").read_text()
    install = (ROOT / "docs" / "install.md").read_text()
    assert build_command in install
    assert f"kind load docker-image {image}" in install
    assert container["imagePullPolicy"] == "IfNotPresent", "an image loaded into kind is used"


def _tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_dockerignore_keeps_what_the_build_copies_and_little_else() -> None:
    patterns = ignore_patterns()
    context = [name for name in _tracked() if not ignored(name, patterns)]
    build = stages()[0]
    for sources, _, _ in build.copies:
        for source in sources:
            wanted = source.rstrip("/")
            assert any(name == wanted or name.startswith(wanted + "/") for name in context), source
    copied = {s.rstrip("/") for sources, _, _ in build.copies for s in sources}
    extra = [name for name in context if name.split("/")[0] not in copied]
    assert extra == [], "the build context holds files the build does not use"
    assert not any(name.startswith(("tests/", ".git/", "examples/")) for name in context)
    assert all(re.search(r"\.(py|typed|toml|md)$", name) for name in context)
