"""`--fix` and `--diff`: apply the engine's fixes to files, keeping comments and layout."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mllint.linter.lint import FileReport
from mllint.rules import Engine


def run(
    files: Sequence[str], engine: Engine, args: argparse.Namespace
) -> tuple[list[FileReport], int]:
    raise NotImplementedError
