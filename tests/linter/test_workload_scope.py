"""What the rules judge, through the CLI on real files: ML workloads by default and every workload
with `scope: all`; kustomize patches as fragments; unrendered templates; the sets of the
whole-set rules."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]

POSTGRES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: postgres
spec:
  replicas: 2
  selector:
    matchLabels: {app: postgres}
  template:
    metadata:
      labels: {app: postgres}
    spec:
      containers:
        - name: postgres
          image: postgres:latest
          ports:
            - containerPort: 5432
"""

VLLM = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.6.3
          resources:
            limits:
              nvidia.com/gpu: 1
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {target}}}
  minReplicas: 2
  maxReplicas: 6
"""

PROBES = {"ML301", "ML302", "ML303"}


def _codes(done: subprocess.CompletedProcess[str], file: str | None = None) -> list[str]:
    report = json.loads(done.stdout)
    return sorted(f["code"] for f in report["findings"] if file is None or f["file"].endswith(file))


def test_a_database_is_left_alone_by_default_and_judged_with_scope_all(
    mllint: Runner, tmp_path: Path
) -> None:
    (tmp_path / "db.yaml").write_text(POSTGRES)
    assert _codes(mllint("--format", "json", "db.yaml")) == []
    (tmp_path / ".mllint.yaml").write_text("scope: all\n")
    judged = set(_codes(mllint("--format", "json", "db.yaml")))
    assert PROBES | {"ML601", "ML602"} <= judged
    (tmp_path / ".mllint.yaml").write_text("rule-scope:\n  image-tag-latest: all\n")
    assert _codes(mllint("--format", "json", "db.yaml")) == ["ML602"]


def test_a_model_server_is_judged_and_its_message_speaks_of_the_model(
    mllint: Runner, tmp_path: Path
) -> None:
    (tmp_path / "vllm.yaml").write_text(VLLM.format(name="llm"))
    done = mllint("--format", "json", "--select", "ML301", "vllm.yaml")
    [finding] = json.loads(done.stdout)["findings"]
    assert "to load the model" in finding["message"]


def test_rule_scope_refuses_a_rule_that_has_no_scope(mllint: Runner, tmp_path: Path) -> None:
    (tmp_path / ".mllint.yaml").write_text("rule-scope:\n  job-ttl-missing: all\n")
    (tmp_path / "vllm.yaml").write_text(VLLM.format(name="llm"))
    done = mllint("vllm.yaml")
    assert done.returncode == 2
    assert "'job-ttl-missing' judges ML workloads only" in done.stderr


def test_a_kustomize_patch_is_judged_only_on_what_it_writes(mllint: Runner, tmp_path: Path) -> None:
    base = tmp_path / "base"
    overlay = tmp_path / "overlays" / "prod"
    base.mkdir()
    overlay.mkdir(parents=True)
    (base / "deployment.yaml").write_text(VLLM.format(name="llm"))
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\npatches:\n  - path: gpu.yaml\n"
    )
    # The patch changes the image to a floating tag and says nothing of probes or resources.
    (overlay / "gpu.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: vllm\n"
        "          image: vllm/vllm-openai:latest\n"
    )
    done = mllint("--format", "json", ".")
    assert _codes(done, "overlays/prod/gpu.yaml") == ["ML602"]
    assert set(_codes(done, "base/deployment.yaml")) >= PROBES


def test_a_kustomize_patch_is_known_through_symlinked_folders(
    mllint: Runner, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    overlay = real / "overlays" / "prod"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("patches:\n  - path: gpu.yaml\n")
    (overlay / "gpu.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: vllm\n"
        "          image: vllm/vllm-openai:latest\n"
    )
    (tmp_path / "tree").symlink_to(real)  # a folder two levels above the patch
    (tmp_path / "prod").symlink_to(overlay)  # the patch's own folder
    (tmp_path / "gpu.yaml").symlink_to(overlay / "gpu.yaml")  # the patch itself
    paths = ["real/overlays/prod/gpu.yaml", "tree/overlays/prod/gpu.yaml", "prod/gpu.yaml"]
    for path in [*paths, "gpu.yaml"]:
        assert _codes(mllint("--format", "json", path)) == ["ML602"], path
    # Several at once, as a run reads them: each folder's real path is found once.
    assert _codes(mllint("--format", "json", *paths)) == ["ML602"] * 3
    # Named from inside a linked folder, through `..`.
    assert _codes(mllint("--format", "json", "../prod/gpu.yaml", cwd=tmp_path / "tree")) == [
        "ML602"
    ]


def test_kustomizations_are_found_by_each_name_through_links_and_not_in_folders_of_theirs(
    mllint: Runner, tmp_path: Path
) -> None:
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: vllm\n"
        "          image: vllm/vllm-openai:latest\n"
    )
    lists_gpu = "patches:\n  - path: gpu.yaml\n"
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "prod-kustomization.yaml").write_text(lists_gpu)
    overlays = tmp_path / "overlays"
    for name in ("yaml", "yml", "Kustomization", "linked", "below", "folder", "broken"):
        (overlays / name).mkdir(parents=True)
        (overlays / name / "gpu.yaml").write_text(patch)
    (overlays / "yaml" / "kustomization.yaml").write_text(lists_gpu)
    (overlays / "yml" / "kustomization.yml").write_text(lists_gpu)
    (overlays / "Kustomization" / "Kustomization").write_text(lists_gpu)
    (overlays / "linked" / "kustomization.yaml").symlink_to(shared / "prod-kustomization.yaml")
    # A kustomization in a subfolder lists a file of the folder above it.
    (overlays / "below" / "sub").mkdir()
    (overlays / "below" / "sub" / "kustomization.yaml").write_text(
        "patches:\n  - path: ../gpu.yaml\n"
    )
    # Neither a folder nor a link to nothing is a kustomization.
    (overlays / "folder" / "kustomization.yaml").mkdir()
    (overlays / "broken" / "kustomization.yaml").symlink_to(tmp_path / "missing.yaml")
    done = mllint("--format", "json", "overlays")
    for name in ("yaml", "yml", "Kustomization", "linked", "below"):
        assert _codes(done, f"overlays/{name}/gpu.yaml") == ["ML602"], name
    for name in ("folder", "broken"):
        assert set(_codes(done, f"overlays/{name}/gpu.yaml")) >= PROBES, name


def test_a_kustomization_in_a_folder_that_cannot_be_listed_is_found_by_name(
    mllint: Runner, tmp_path: Path
) -> None:
    if os.geteuid() == 0:
        pytest.skip("permission bits do not stop this user's listings (root)")
    folder = tmp_path / "prod"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text("patches:\n  - path: gpu.yaml\n")
    (folder / "gpu.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: vllm\n"
        "          image: vllm/vllm-openai:latest\n"
    )
    folder.chmod(0o311)  # its files can be opened by name, but it cannot be listed
    try:
        assert _codes(mllint("--format", "json", "prod/gpu.yaml")) == ["ML602"]
    finally:
        folder.chmod(0o755)


def test_a_file_named_as_a_patch_without_images_is_a_fragment(
    mllint: Runner, tmp_path: Path
) -> None:
    (tmp_path / "manager_patch.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llm}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: vllm\n          args: [--port=8000]\n"
        "          resources: {limits: {nvidia.com/gpu: 1}}\n"
    )
    assert _codes(mllint("--format", "json", "manager_patch.yaml")) == []


def test_an_unrendered_template_is_skipped_not_invalid(mllint: Runner, tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
        "    - name: c\n      image: {username}/torchserve:latest\n"
    )
    done = mllint("--format", "json", "template.yaml")
    report = json.loads(done.stdout)
    assert report["findings"] == []
    assert report["summary"]["templates_not_linted"] == 1
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: [\n")
    assert _codes(mllint("--format", "json", "broken.yaml")) == ["ML001"]


def test_whole_set_rules_pair_a_directory_with_its_subdirectories_not_its_siblings(
    mllint: Runner, tmp_path: Path
) -> None:
    serving = tmp_path / "serving"
    (serving / "hpa").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (serving / "deployment.yaml").write_text(VLLM.format(name="llm"))
    (serving / "hpa" / "hpa.yaml").write_text(HPA.format(name="llm", target="llm"))
    # A docs example of the same name in a sibling directory is not the same deployment.
    (tmp_path / "docs" / "deployment.yaml").write_text(VLLM.format(name="llm"))
    done = mllint("--format", "json", "--select", "ML802", ".")
    files = [f["file"] for f in json.loads(done.stdout)["findings"]]
    assert files == ["serving/deployment.yaml"]


def test_a_file_gives_the_same_set_findings_whichever_directory_a_run_starts_from(
    mllint: Runner, tmp_path: Path
) -> None:
    bad, good = tmp_path / "examples" / "bad", tmp_path / "examples" / "good"
    bad.mkdir(parents=True)
    good.mkdir()
    (bad / "serving.yaml").write_text(VLLM.format(name="llm"))
    (good / "serving.yaml").write_text(
        VLLM.format(name="llm") + "---\n" + HPA.format(name="llm", target="llm")
    )
    whole = json.loads(mllint("--format", "json", "--select", "ML8", "examples").stdout)
    alone = json.loads(mllint("--format", "json", "--select", "ML8", "examples/bad").stdout)

    def of_bad(report: dict[str, list[dict[str, str]]]) -> list[tuple[str, str]]:
        return sorted(
            (f["code"], f["message"])
            for f in report["findings"]
            if f["file"].endswith("bad/serving.yaml")
        )

    assert of_bad(whole) == of_bad(alone)
    assert ("ML804" in {c for c, _ in of_bad(alone)}) and not any(
        c == "ML802" for c, _ in of_bad(whole)
    )
