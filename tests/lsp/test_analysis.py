"""The server lints a file of many documents piece by piece, keeping the pieces an edit did not
touch: on every file of the corpus and the examples, that gives exactly the findings of linting
the whole file, at the same places, and after an edit the findings of a fresh look."""

from __future__ import annotations

import datetime
from collections import Counter
from pathlib import Path

import pytest

from mllint.linter import discover, lint
from mllint.lsp.analysis import Analyzer, FileState
from mllint.rules import Engine

ROOT = Path(__file__).parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def placed(state: FileState) -> Counter[tuple[str, int, int, str]]:
    return Counter(
        (p.finding.code, p.start.line, p.start.column, p.finding.message) for p in state.problems
    )


def whole(path: str, text: str) -> Counter[tuple[str, int, int, str]]:
    engine = Engine(today=datetime.date.today)
    report = lint.lint_file(path, engine, text.encode("utf-8"))
    return Counter((f.finding.code, f.line, f.column, f.finding.message) for f in report.findings)


def manifests(folder: Path) -> list[str]:
    return list(discover.discover([str(folder)], lambda _: False))


@pytest.mark.parametrize("folder", ["examples", "corpus"])
def test_pieces_give_the_findings_of_the_whole_file(folder: str, tmp_path: Path) -> None:
    if folder == "corpus" and not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (the shared corpus beside the repository)")
    top = CORPUS if folder == "corpus" else ROOT / "examples"
    analyzer = Analyzer([])
    checked = 0
    for path in manifests(top):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        state = analyzer.analyze(path, text)
        assert placed(state) == whole(path, text), path
        checked += 1
    assert checked > (100 if folder == "corpus" else 5)


def test_an_edit_relints_to_what_a_fresh_look_finds(tmp_path: Path) -> None:
    texts = [
        (ROOT / "examples" / "bad" / n).read_text() for n in ("serving.yaml", "pytorchjob.yaml")
    ]
    text = "---\n".join(texts * 3)
    path = str(tmp_path / "many.yaml")
    analyzer = Analyzer([])
    analyzer.analyze(path, text)
    edits = [
        # A line more in the first document: every later finding moves down.
        text.replace("metadata:\n", "metadata:\n  labels: {team: ranking}\n", 1),
        # One document changed in the middle.
        text.replace(":latest", ":1.2.0", 2),
        # A document removed, another broken, then repaired.
        text.split("---\n", 1)[1],
        text.replace("kind: PyTorchJob", "kind: [PyTorchJob", 1),
        text,
    ]
    for edited in edits:
        again = analyzer.analyze(path, edited)
        fresh = Analyzer([]).analyze(path, edited)
        assert placed(again) == placed(fresh) == whole(path, edited)
        assert [(p.start, p.end, p.document, p.prefix) for p in again.problems] == [
            (p.start, p.end, p.document, p.prefix) for p in fresh.problems
        ]
