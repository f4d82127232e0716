"""Helm charts and kustomize: templates are not linted before they are rendered (one note per
file says how to lint them), and rendered output read from stdin names, for each finding, the
chart template it came from.

`rendered/mlchart/` is a small chart and `rendered/kustomize/` a base with an overlay.
`rendered/kustomize-build.yaml` is `kustomize build rendered/kustomize/overlays/prod` (kustomize
v5.5 as `kubectl kustomize`; a test checks it when kubectl is installed).
`rendered/helm-template.yaml` is `helm template demo rendered/mlchart`, in helm 3's output form
(`---`, `# Source: CHART/templates/FILE`, then the rendered template trimmed; objects in helm's
install order).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]
RENDERED = Path(__file__).resolve().parent / "rendered"
CHART = RENDERED / "mlchart"


def test_chart_templates_get_one_note_each_and_no_finding(mllint: Runner, tmp_path: Path) -> None:
    shutil.copytree(CHART, tmp_path / "charts" / "mlchart")
    result = mllint("--format", "json", "charts")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["summary"]["templates_not_linted"] == 3
    notes = result.stderr.splitlines()
    templates = sorted(p.name for p in (CHART / "templates").glob("*.yaml"))
    assert notes == [
        f"charts/mlchart/templates/{name}: note: a Helm chart template, not linted before it "
        "is rendered; lint the chart's output: helm template charts/mlchart | mllint -"
        for name in templates
    ]


def test_text_summary_counts_the_templates(mllint: Runner, tmp_path: Path) -> None:
    shutil.copytree(CHART, tmp_path / "mlchart")
    result = mllint("mlchart")
    assert "3 templates not linted until rendered" in result.stdout


def test_fix_leaves_chart_templates_alone(mllint: Runner, tmp_path: Path) -> None:
    shutil.copytree(CHART, tmp_path / "mlchart")
    before = {p: p.read_bytes() for p in (tmp_path / "mlchart").rglob("*.yaml")}
    result = mllint("--fix", "--unsafe-fixes", "mlchart")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "mlchart").rglob("*.yaml")} == before


def test_a_stray_template_that_does_not_parse_gets_a_note(mllint: Runner, tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text((CHART / "templates" / "train-job.yaml").read_text())
    result = mllint("job.yaml")
    assert result.returncode == 0, result.stdout
    assert "ML001" not in result.stdout
    [note] = result.stderr.splitlines()
    assert note.startswith("job.yaml: note: holds {{ ... }} template placeholders")
    assert "helm template CHART | mllint -" in note


def test_invalid_yaml_without_placeholders_is_still_an_error(
    mllint: Runner, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: [Pod\n")
    result = mllint("bad.yaml")
    assert result.returncode == 1
    assert "ML001" in result.stdout


def _findings(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.stdout, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return found


def test_helm_template_output_names_the_template_of_each_finding(mllint: Runner) -> None:
    rendered = (RENDERED / "helm-template.yaml").read_text()
    found = _findings(mllint("--format", "json", "-", stdin=rendered))
    assert found
    by_kind = {(f["kind"], f["source"]) for f in found}
    assert by_kind == {
        ("Deployment", "mlchart/templates/deployment.yaml"),
        ("Job", "mlchart/templates/train-job.yaml"),
    }
    assert any(f["code"] == "ML101" for f in found if f["kind"] == "Deployment")
    # Every source named is a template of the chart.
    for f in found:
        assert (CHART.parent / str(f["source"])).is_file()


@pytest.mark.parametrize("fmt", ["text", "github", "sarif", "junit"])
def test_every_format_shows_the_template(mllint: Runner, fmt: str) -> None:
    rendered = (RENDERED / "helm-template.yaml").read_text()
    result = mllint("--format", fmt, "-", stdin=rendered)
    assert result.returncode == 1
    assert "mlchart/templates/train-job.yaml" in result.stdout
    if fmt == "text":
        lines = [line for line in result.stdout.splitlines() if " ML101 " in line]
        assert lines and all(
            line.endswith("(gpu-not-in-limits) from mlchart/templates/deployment.yaml")
            for line in lines
        )


def test_a_document_without_a_source_comment_names_none(mllint: Runner) -> None:
    rendered = (RENDERED / "helm-template.yaml").read_text()
    # A document appended by hand after the chart's output: it has no `# Source:` of its own.
    extra = (RENDERED / "kustomize-build.yaml").read_text().split("---\n")[0]
    found = _findings(mllint("--format", "json", "-", stdin=rendered + "---\n" + extra))
    assert {f["source"] for f in found if f["name"] == "prod-triton"} == {None}
    assert {f["source"] for f in found if f["name"] == "demo-mlchart"} == {
        "mlchart/templates/deployment.yaml"
    }


def test_kustomize_build_output_through_stdin(mllint: Runner) -> None:
    rendered = (RENDERED / "kustomize-build.yaml").read_text()
    found = _findings(
        mllint("--format", "json", "--stdin-filename", "prod.yaml", "-", stdin=rendered)
    )
    assert {(f["file"], f["namespace"], f["name"]) for f in found} == {
        ("prod.yaml", "ml-serving", "prod-triton")
    }
    codes = {f["code"] for f in found}
    # The autoscaler and its Deployment are judged together (both renamed by the overlay).
    assert "ML802" in codes
    assert "ML801" not in codes
    assert all(f["source"] is None for f in found)


def test_fixture_sources_are_the_charts_templates() -> None:
    """The committed `helm template` output names each template of the chart that renders an
    object, in helm's `---` / `# Source: CHART/templates/FILE` form."""
    text = (RENDERED / "helm-template.yaml").read_text()
    sources = re.findall(r"^---\n# Source: (\S+)\n", text, re.M)
    templates = {f"mlchart/templates/{p.name}" for p in (CHART / "templates").glob("*.yaml")}
    assert sorted(sources) == sorted(templates)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is absent")
def test_kustomize_fixture_is_what_kustomize_builds() -> None:
    """The committed output is kustomize's own (`kubectl kustomize` is `kustomize build`)."""
    built = subprocess.run(
        ["kubectl", "kustomize", str(RENDERED / "kustomize" / "overlays" / "prod")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert built == (RENDERED / "kustomize-build.yaml").read_text()
