"""The installed `mllint` over the whole shared corpus of real-world ML manifests (../shared/corpus
beside the repository): it ends, without a traceback, and places every finding in its file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from installed import MLLINT

from mllint.linter.discover import EXTENSIONS, SKIPPED_DIRS

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared corpus is absent ({CORPUS})"
)

UNREADABLE = "cannot read file"
"""Findings for files that cannot be read at all have no position in them."""


def test_corpus_is_linted_and_every_finding_placed(tmp_path: Path) -> None:
    # No config file is found from tmp_path, so the run uses the defaults.
    result = subprocess.run(
        [MLLINT, "--format", "json", str(CORPUS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    summary = report["summary"]
    on_disk = [
        p
        for p in CORPUS.rglob("*")
        if p.name.endswith(EXTENSIONS) and not SKIPPED_DIRS.intersection(p.parts)
    ]
    assert summary["files"] == len(on_disk)
    assert summary["objects"] > summary["files"] // 2
    unplaced = [
        f
        for f in report["findings"]
        if (f["line"] < 1 or f["column"] < 1) and UNREADABLE not in f["message"]
    ]
    assert unplaced == []
    for finding in report["findings"]:
        assert (tmp_path / finding["file"]).is_file(), finding
        assert finding["message"]
    assert result.returncode == (1 if summary["failed"] or summary["unreadable_files"] else 0)
