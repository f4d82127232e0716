"""The shared corpus (`../shared/corpus`) for tests: where it is, and its documents as the C
loader reads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ABSENT = f"the shared corpus is not at {CORPUS} (../shared/corpus)"


def documents() -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(path relative to the corpus, index in its file, document) of every mapping document of
    the corpus's YAML and JSON files; files that are malformed on purpose are left out (the
    linter reports them, the model never sees them)."""
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            continue
        for index, doc in enumerate(docs):
            if isinstance(doc, dict):
                yield str(path.relative_to(CORPUS)), index, doc
