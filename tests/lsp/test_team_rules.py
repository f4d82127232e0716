"""`mllint lsp` with team rules: the rules of the file's nearest configuration give diagnostics,
hover docs, fixes and suppression comments like built-in rules, and the same findings as the
command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import Editor, codes
from lsprotocol import types
from pytest_lsp import LanguageClient
from test_server import JOB, actions, at, cli_findings, shown

pytestmark = pytest.mark.asyncio

CONFIG = """\
custom-rules:
  - name: training-host-network
    code: X105
    severity: error
    summary: Training pod on the host network
    scope: pod
    condition: "workload.role == 'batch' && has(pod.spec.hostNetwork) && pod.spec.hostNetwork"
    message: "'a ' + workload.kind + ' pod runs on the host network; use the pod network'"
    fix:
      safety: safe
      ops: [{op: remove, path: /hostNetwork}]
    docs: |
      ## What it does
      Flags training pods on the host network.

      ## Why is this bad?
      A training pod on the host network shares the node's ports with every other job on it.
"""

HOST_JOB = JOB.replace(
    "      restartPolicy: Never\n", "      restartPolicy: Never\n      hostNetwork: true\n"
)


@pytest.fixture
def team(workspace: Path) -> Path:
    folder = workspace / "team"
    folder.mkdir()
    (folder / ".mllint.yaml").write_text(CONFIG)
    (folder / "job.yaml").write_text(HOST_JOB)
    return folder


async def test_team_rules_of_the_nearest_config(editor: Editor, team: Path) -> None:
    expected = cli_findings(team)["job.yaml"]
    assert "X105" in {c for c, *_ in expected}
    uri = editor.open(team / "job.yaml")
    diagnostics = await editor.diagnostics(uri, lambda d: shown(list(d)) == expected)
    host = at(list(diagnostics), "X105")
    assert host.message == (
        "a Job pod runs on the host network; use the pod network (training-host-network)"
    )
    assert host.severity == types.DiagnosticSeverity.Error
    assert host.code_description is None  # the rule has no `url`
    # The rule is the configuration's: a file outside it does not get it.
    (team.parent / "job.yaml").write_text(HOST_JOB)
    outside = editor.open(team.parent / "job.yaml")
    await editor.diagnostics(outside, lambda d: codes(d) == {"ML101", "ML602"})


async def test_hover_shows_the_team_rule_docs(
    client: LanguageClient, editor: Editor, team: Path
) -> None:
    uri = editor.open(team / "job.yaml")
    diagnostics = await editor.diagnostics(uri, lambda d: "X105" in codes(d))
    host = at(list(diagnostics), "X105")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=host.range.start
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert "**X105 training-host-network** (error): Training pod on the host network" in text
    assert "Flags training pods on the host network." in text
    assert "shares the node's ports" in text
    assert "pod.spec.hostNetwork" in text  # the definition: its condition


async def test_a_team_rule_fix_and_suppression(
    client: LanguageClient, editor: Editor, team: Path
) -> None:
    uri = editor.open(team / "job.yaml")
    diagnostics = await editor.diagnostics(uri, lambda d: "X105" in codes(d))
    offered = await actions(client, uri, at(list(diagnostics), "X105"))
    titles = [a.title for a in offered]
    assert titles == [
        "Fix X105 training-host-network",
        "Suppress X105 training-host-network on this line",
        "mllint: fix all safe problems in this file",
    ]
    suppress = offered[1]
    assert suppress.edit is not None
    fix = offered[0]
    assert fix.is_preferred and fix.edit is not None
    fixed = editor.apply(uri, fix.edit)
    assert "hostNetwork" not in fixed
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})

    # The suppression comment, as the command line reads it.
    editor.type(uri, HOST_JOB)
    await editor.diagnostics(uri, lambda d: "X105" in codes(d))
    text = editor.apply(uri, suppress.edit)
    assert "# mllint: ignore[training-host-network] -- <reason>" in text
    await editor.diagnostics(uri, lambda d: codes(d) == {"ML101", "ML602"})
    (team / "job.yaml").write_text(text)
    assert {c for c, *_ in cli_findings(team)["job.yaml"]} == {"ML101", "ML602"}
