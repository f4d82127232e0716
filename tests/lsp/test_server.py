"""`mllint lsp` end to end: a real LSP client drives the installed server over stdio, with files
on disk in its workspace folder, and what it shows is checked against `mllint` on the command
line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from installed import MLLINT
from lsp_helpers import Editor, codes
from lsprotocol import types
from pytest_lsp import LanguageClient

from mllint.linter.docgen import sections
from mllint.rules import REGISTRY

pytestmark = pytest.mark.asyncio

EXAMPLES = Path(__file__).parents[2] / "examples" / "bad"

JOB = """\
# A fine-tuning Job.
apiVersion: batch/v1
kind: Job
metadata:
  name: llama-finetune
spec:
  backoffLimit: 3
  activeDeadlineSeconds: 86400
  ttlSecondsAfterFinished: 86400
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: trainer
          image: ghcr.io/example/llm-trainer:latest  # the nightly build
          resources:
            requests:
              cpu: "8"
              memory: 64Gi
              nvidia.com/gpu: 4
            limits:
              memory: 64Gi
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ranker
spec:
  replicas: 3
  selector:
    matchLabels: {app: ranker}
  template:
    metadata:
      labels: {app: ranker}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          resources:
            requests: {cpu: "4", memory: 32Gi}
            limits: {memory: 32Gi, nvidia.com/gpu: 1}
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ranker
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ranker}
  minReplicas: 2
  maxReplicas: 8
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""


def cli_findings(folder: Path) -> dict[str, set[tuple[str, int, int, str]]]:
    """`mllint --format json FOLDER`: (code, line, column, severity) by file name."""
    result = subprocess.run(
        [MLLINT, "--format", "json", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    found: dict[str, set[tuple[str, int, int, str]]] = {}
    for f in json.loads(result.stdout)["findings"]:
        found.setdefault(Path(f["file"]).name, set()).add(
            (f["code"], f["line"], f["column"], f["severity"])
        )
    return found


SEVERITY = {
    types.DiagnosticSeverity.Error: "error",
    types.DiagnosticSeverity.Warning: "warning",
    types.DiagnosticSeverity.Information: "info",
}


def shown(diagnostics: list[types.Diagnostic]) -> set[tuple[str, int, int, str]]:
    """Diagnostics as the command line reports findings: 1-based line and column."""
    return {
        (
            str(d.code),
            d.range.start.line + 1,
            d.range.start.character + 1,
            SEVERITY[d.severity or types.DiagnosticSeverity.Error],
        )
        for d in diagnostics
    }


def at(diagnostics: list[types.Diagnostic], code: str) -> types.Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, [(d.code, d.range) for d in diagnostics]
    return found[0]


async def actions(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def test_open_publishes_the_findings_of_the_command_line(
    editor: Editor, workspace: Path
) -> None:
    for name in ("serving.yaml", "training-job.yaml", "pytorchjob.yaml"):
        shutil.copy(EXAMPLES / name, workspace / name)
    expected = cli_findings(workspace)
    for name in ("serving.yaml", "training-job.yaml", "pytorchjob.yaml"):
        uri = editor.open(workspace / name)
        diagnostics = await editor.diagnostics(uri, lambda d, n=name: shown(d) == expected[n])
        for d in diagnostics:
            rule = REGISTRY.get(str(d.code))
            assert rule is not None
            assert d.source == "mllint"
            assert d.code_description is not None and d.code_description.href == rule.url
            assert d.message.endswith(f"({rule.name})")
    # serving.yaml holds an HPA and the Deployment it scales: whole-set findings are there too.
    assert {"ML802", "ML804"} <= {c for c, *_ in expected["serving.yaml"]}


async def test_an_edit_is_linted_from_the_editor_text_not_the_disk(
    editor: Editor, workspace: Path
) -> None:
    path = workspace / "job.yaml"
    path.write_text(JOB)
    uri = editor.open(path)
    assert codes(await editor.diagnostics(uri, bool)) == {"ML101", "ML602"}
    editor.type(uri, JOB.replace(":latest", ":2024.10.1"))
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML101"})
    assert path.read_text() == JOB  # nothing was saved: the buffer was linted


async def test_ranges_cover_the_offending_node(editor: Editor, workspace: Path) -> None:
    path = workspace / "job.yaml"
    path.write_text(JOB)
    uri = editor.open(path)
    diagnostics = await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    lines = JOB.splitlines()

    image = at(list(diagnostics), "ML602")
    line = lines.index("          image: ghcr.io/example/llm-trainer:latest  # the nightly build")
    assert image.range == types.Range(
        start=types.Position(line=line, character=10),
        end=types.Position(line=line, character=lines[line].index("  #")),
    ), "the member from its key to the end of its value, without the comment"
    assert image.severity == types.DiagnosticSeverity.Warning

    gpu = at(list(diagnostics), "ML101")
    line = lines.index("              nvidia.com/gpu: 4")
    assert gpu.range == types.Range(
        start=types.Position(line=line, character=14),
        end=types.Position(line=line, character=len(lines[line])),
    )
    assert gpu.severity == types.DiagnosticSeverity.Error

    # A block mapping over several lines is marked by its key only.
    uri = editor.open(workspace / "serving.yaml", (EXAMPLES / "serving.yaml").read_text())
    serving = (EXAMPLES / "serving.yaml").read_text().splitlines()
    diagnostics = await editor.diagnostics(uri, lambda d: "ML601" in codes(d))
    resources = at(list(diagnostics), "ML601").range
    assert resources.start.line == resources.end.line
    key = serving[resources.start.line][resources.start.character : resources.end.character]
    assert key == "resources"


async def test_a_quick_fix_keeps_comments_and_the_result_lints_clean(
    client: LanguageClient, editor: Editor, workspace: Path
) -> None:
    uri = editor.open(workspace / "job.yaml", JOB)
    diagnostics = await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    gpu = at(list(diagnostics), "ML101")
    offered = await actions(client, uri, gpu)
    fix = next(a for a in offered if a.title.startswith("Fix ML101"))
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.is_preferred and "unsafe" not in fix.title
    assert fix.edit is not None
    text = editor.apply(uri, fix.edit)
    assert "  # the nightly build" in text
    assert (
        "            limits:\n              memory: 64Gi\n              nvidia.com/gpu: 4" in text
    )
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML602"})
    # The image has no fix: nothing but the suppression is offered for it.
    image = at(list(await editor.diagnostics(uri, lambda d: codes(d) == {"ML602"})), "ML602")
    titles = [a.title for a in await actions(client, uri, image)]
    assert titles == ["Suppress ML602 image-tag-latest on this line"]


async def test_an_unsafe_fix_is_labelled(
    client: LanguageClient, editor: Editor, workspace: Path
) -> None:
    text = JOB.replace("  activeDeadlineSeconds: 86400\n", "")
    uri = editor.open(workspace / "job.yaml", text)
    diagnostics = await editor.diagnostics(uri, lambda d: "ML203" in codes(d))
    deadline = at(list(diagnostics), "ML203")
    fix = next(a for a in await actions(client, uri, deadline) if a.title.startswith("Fix"))
    assert "unsafe" in fix.title and not fix.is_preferred
    assert fix.edit is not None
    editor.apply(uri, fix.edit)
    await editor.diagnostics(uri, lambda d: "ML203" not in codes(d))


async def test_fix_all_writes_what_mllint_fix_writes(
    client: LanguageClient, editor: Editor, workspace: Path, tmp_path: Path
) -> None:
    original = (EXAMPLES / "training-job.yaml").read_text()
    uri = editor.open(workspace / "training-job.yaml", original)
    await editor.diagnostics(uri, lambda d: "ML101" in codes(d))
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
            ),
            context=types.CodeActionContext(
                diagnostics=[], only=[types.CodeActionKind.SourceFixAll]
            ),
        )
    )
    assert result is not None and len(result) == 1
    fix_all = result[0]
    assert isinstance(fix_all, types.CodeAction) and fix_all.edit is not None
    assert fix_all.title == "mllint: fix all safe problems in this file"
    fixed = editor.apply(uri, fix_all.edit)

    copy = tmp_path / "cli" / "training-job.yaml"
    copy.parent.mkdir()
    copy.write_text(original)
    subprocess.run([MLLINT, "--fix", str(copy)], capture_output=True, check=False, timeout=120)
    assert fixed == copy.read_text()
    assert fixed != original

    remaining = cli_findings(copy.parent)[copy.name]
    await editor.diagnostics(uri, lambda d: shown(list(d)) == remaining)


async def test_a_suppression_comment_with_a_reason_to_fill_in(
    client: LanguageClient, editor: Editor, workspace: Path
) -> None:
    uri = editor.open(workspace / "job.yaml", JOB)
    diagnostics = await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    image = at(list(diagnostics), "ML602")
    action = next(a for a in await actions(client, uri, image) if a.title.startswith("Suppress"))
    assert action.edit is not None
    text = editor.apply(uri, action.edit)
    assert (
        "image: ghcr.io/example/llm-trainer:latest  # the nightly build"
        "  # mllint: ignore[image-tag-latest] -- <reason>"
    ) in text
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML101"})
    # The command line reads the comment the same way.
    path = workspace / "job.yaml"
    path.write_text(text)
    assert {c for c, *_ in cli_findings(workspace)["job.yaml"]} == {"ML101"}


async def test_hover_shows_the_rule_docs(
    client: LanguageClient, editor: Editor, workspace: Path
) -> None:
    uri = editor.open(workspace / "job.yaml", JOB)
    diagnostics = await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    gpu = at(list(diagnostics), "ML101")
    inside = types.Position(line=gpu.range.start.line, character=gpu.range.start.character + 3)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=inside)
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    text = hover.contents.value
    rule = REGISTRY.get("ML101")
    assert rule is not None
    docs = dict(sections(rule.docs))
    assert rule.summary in text
    assert docs["Why is this bad?"] in text
    assert docs["Example"] in text
    assert rule.url in text
    # Off the diagnostics, nothing.
    nothing = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=3, character=2),
        )
    )
    assert nothing is None


async def test_the_nearest_config_file_applies(editor: Editor, workspace: Path) -> None:
    strict = workspace / "team"
    strict.mkdir()
    config = strict / ".mllint.yaml"
    config.write_text("ignore: [image-tag-latest]\n")
    (strict / "job.yaml").write_text(JOB)
    (workspace / "job.yaml").write_text(JOB)
    outside = editor.open(workspace / "job.yaml")
    inside = editor.open(strict / "job.yaml")
    await editor.diagnostics(outside, lambda d: codes(d) == {"ML101", "ML602"})
    await editor.diagnostics(inside, lambda d: codes(d) == {"ML101"})
    # A change to the config file on disk applies at once.
    config.write_text("ignore: [gpu-not-in-limits]\n")
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await editor.diagnostics(inside, lambda d: codes(d) == {"ML602"})


async def test_a_broken_file_gets_yaml_invalid_at_its_line(editor: Editor, workspace: Path) -> None:
    uri = editor.open(workspace / "job.yaml", JOB)
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    broken = JOB.replace("  name: llama-finetune\n", "  name: llama-finetune\n   labels: [\n")
    editor.type(uri, broken)
    diagnostics = await editor.diagnostics(uri, lambda d: codes(d) == {"ML001"})
    (path := workspace / "job.yaml").write_text(broken)
    expected = cli_findings(workspace)[path.name]
    assert shown(list(diagnostics)) == expected
    invalid = diagnostics[0]
    assert invalid.severity == types.DiagnosticSeverity.Error
    assert invalid.range.end.line == invalid.range.start.line
    assert invalid.range.end.character > invalid.range.start.character


async def test_files_that_are_not_manifests_get_nothing(
    client: LanguageClient, editor: Editor, workspace: Path
) -> None:
    chart = workspace / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: ranker\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 3\nimage:\n  tag: latest\n")
    template = DEPLOYMENT.replace("replicas: 3", "replicas: {{ .Values.replicas }}").replace(
        "v0.6.3", "{{ .Values.image.tag }}"
    )
    (chart / "templates" / "deployment.yaml").write_text(template)
    workflow = workspace / "ci.yml"
    workflow.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n")
    for path in (
        chart / "templates" / "deployment.yaml",
        chart / "values.yaml",
        chart / "Chart.yaml",
        workflow,
    ):
        uri = editor.open(path)
        assert list(await editor.diagnostics(uri)) == []
    assert client.messages == []


async def test_whole_set_findings_across_the_workspace_folder(
    editor: Editor, workspace: Path
) -> None:
    app = workspace / "app"
    app.mkdir()
    (app / "deployment.yaml").write_text(DEPLOYMENT)
    (app / "hpa.yaml").write_text(HPA)
    deployment = editor.open(app / "deployment.yaml")
    # The HPA is in another file, not open: it scales this Deployment, whose replicas clash.
    diagnostics = await editor.diagnostics(deployment, lambda d: "ML802" in codes(d))
    replicas = at(list(diagnostics), "ML802")
    assert replicas.range.start.line == DEPLOYMENT.splitlines().index("  replicas: 3")
    # Another file's edit, in the editor: the HPA now scales something else.
    hpa = editor.open(app / "hpa.yaml")
    await editor.diagnostics(hpa)
    editor.type(hpa, HPA.replace("name: ranker}", "name: reranker}"))
    await editor.diagnostics(deployment, lambda d: "ML802" not in codes(d))
    # Closed, the HPA is read from the disk again, where it still scales the Deployment.
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=hpa))
    )
    await editor.diagnostics(deployment, lambda d: "ML802" in codes(d))
    # A change on disk, reported by the editor's file watcher.
    (app / "hpa.yaml").write_text(HPA.replace("name: ranker}", "name: other}"))
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=(app / "hpa.yaml").as_uri(), type=types.FileChangeType.Changed)
            ]
        )
    )
    await editor.diagnostics(deployment, lambda d: "ML802" not in codes(d))
