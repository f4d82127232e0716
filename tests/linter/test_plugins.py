"""The linter dispatches webhook subcommands by name, through packaging metadata."""

from __future__ import annotations

import subprocess
from importlib.metadata import entry_points
from pathlib import Path

from mllint.linter.cli import PLUGIN_COMMANDS


def test_plugin_names_match_the_declared_entry_points() -> None:
    declared = {ep.name for ep in entry_points(group="mllint.commands")}
    assert declared == set(PLUGIN_COMMANDS)


def test_a_folder_named_like_a_command_does_not_hide_it(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    done = subprocess.run(
        ["mllint", "certs", "--help"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--service" in done.stdout
    linted = subprocess.run(
        ["mllint", "--allow-empty", "./certs"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linted.returncode == 0, linted.stderr
    assert "in 0 files" in linted.stdout
