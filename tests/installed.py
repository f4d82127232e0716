"""The installed `mllint` command, run as a user runs it, for tests in every folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _executable() -> str:
    beside = Path(sys.executable).with_name("mllint")
    found = str(beside) if beside.is_file() else shutil.which("mllint")
    if found is None:
        pytest.fail("the mllint command is not installed: pip install -e '.[test]'")
    return found


MLLINT = _executable()


@contextmanager
def named_pipe(folder: Path) -> Iterator[tuple[Path, Callable[[], str]]]:
    """A named pipe to give a command as its output file, and what a reader got from it. The
    reader is a process of its own (`cat`), so a command that never writes to the pipe fails
    the test instead of leaving it waiting."""
    pipe = folder / "output.pipe"
    received = folder / "received"
    import os

    os.mkfifo(pipe)
    with received.open("wb") as sink:
        reader = subprocess.Popen(["cat", str(pipe)], stdout=sink)

    def read() -> str:
        reader.wait(timeout=60)
        return received.read_text(encoding="utf-8")

    try:
        yield pipe, read
    finally:
        reader.kill()
        reader.wait()


def json_report(*args: str, exits: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """`mllint ARGS --format json`, run as a user runs it, and its report."""
    done = subprocess.run(
        [MLLINT, *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode in exits, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report
