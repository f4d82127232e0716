"""Which configuration each linted file gets (the nearest above it, as ruff finds its own),
config files that cannot be used, runs that find nothing to lint, and flag checks."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def findings(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert result.stdout, result.stderr
    return sorted(
        (f["file"], f["code"], f["severity"]) for f in json.loads(result.stdout)["findings"]
    )


def test_the_config_beside_the_files_applies_wherever_mllint_runs(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "repo" / "manifests" / "job.yaml", gpu_job())
    write(tmp_path / "repo" / "manifests" / ".mllint.yaml", "select: [ML101]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = mllint("--format", "json", str(tmp_path / "repo" / "manifests"), cwd=elsewhere)
    assert [code for _, code, _ in findings(result)] == ["ML101"]


def test_each_file_gets_its_nearest_config_whole(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / ".mllint.yaml", "select: [ML101]\nseverity: {ML101: info}\nfail-on: info\n")
    write(tmp_path / "a" / "job.yaml", gpu_job())
    write(tmp_path / "b" / "job.yaml", gpu_job())
    write(tmp_path / "b" / "vendor" / "job.yaml", gpu_job())
    # No merging: b's config does not inherit the root's severity or fail-on, and its exclude
    # paths are relative to b/.
    write(
        tmp_path / "b" / "pyproject.toml",
        '[tool.mllint]\nselect = ["ML101"]\nfail-on = "error"\n'
        '[tool.mllint.exclude]\npaths = ["vendor"]\n',
    )
    result = mllint("--format", "json", ".")
    assert findings(result) == [
        ("a/job.yaml", "ML101", "info"),
        ("b/job.yaml", "ML101", "error"),
    ]
    assert result.returncode == 1
    # Each file's findings are judged by its own config's fail-on.
    write(tmp_path / "b" / "pyproject.toml", '[tool.mllint]\nselect = ["ML003"]\n')
    write(tmp_path / ".mllint.yaml", "select: [ML101]\nseverity: {ML101: info}\n")
    assert mllint(".").returncode == 0


def test_a_walk_finds_config_files_by_every_name_and_link(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "shared" / "mllint.yml", "select: [ML101]\nseverity: {ML101: info}\n")
    write(tmp_path / "a" / "job.yaml", gpu_job())
    (tmp_path / "a" / ".mllint.yaml").mkdir()  # a folder of that name is no config file
    (tmp_path / "a" / ".mllint.yml").symlink_to(tmp_path / "shared" / "mllint.yml")
    write(tmp_path / "b" / "job.yaml", gpu_job())
    (tmp_path / "b" / ".mllint.yaml").symlink_to(tmp_path / "gone.yaml")  # a broken link
    write(tmp_path / "b" / "c" / "job.yaml", gpu_job())
    write(tmp_path / "b" / "c" / "pyproject.toml", '[tool.mllint]\nselect = ["ML101"]\n')
    assert findings(mllint("--format", "json", "a", "b")) == [
        ("a/job.yaml", "ML101", "info"),
        ("b/c/job.yaml", "ML101", "error"),
        *((("b/job.yaml", code, severity) for code, severity in _defaults(mllint, gpu_job))),
    ]


def _defaults(mllint: Runner, gpu_job: Any) -> list[tuple[str, str]]:
    """The codes and severities of the default rules' findings on `gpu_job()`."""
    result = mllint("--format", "json", "--stdin-filename", "job.yaml", "-", stdin=gpu_job())
    return [(code, severity) for _, code, severity in findings(result)]


def test_stdin_is_configured_from_the_stdin_filename(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "team" / ".mllint.yaml", "select: [ML101]\nseverity: {ML101: info}\n")
    result = mllint("--format", "json", "--stdin-filename", "team/job.yaml", "-", stdin=gpu_job())
    assert findings(result) == [("team/job.yaml", "ML101", "info")]


def test_explicit_config_applies_to_every_file(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "a" / "job.yaml", gpu_job())
    write(tmp_path / "a" / ".mllint.yaml", "select: [ML003]\n")
    write(tmp_path / "mine.yaml", "select: [ML101]\n")
    result = mllint("--format", "json", "--config", "mine.yaml", "a")
    assert findings(result) == [("a/job.yaml", "ML101", "error")]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (("pyproject.toml", "[tool.mllint\nselect = 1\n"), "b/pyproject.toml: invalid TOML:"),
        (("pyproject.toml", "[project]\nname = \n"), "b/pyproject.toml: invalid TOML:"),
        ((".mllint.yaml", "select: [ML101\n"), "b/.mllint.yaml:2:1: invalid YAML"),
        ((".mllint.yaml", b"select: [\xff]\n"), "b/.mllint.yaml:1:10: invalid UTF-8"),
        (
            (".mllint.yaml", "select: ML1\n"),
            "b/.mllint.yaml: select: expected a list of rule codes, names or prefixes, "
            "such as `select: [ML1]`, not the string 'ML1'",
        ),
        (
            (".mllint.yaml", "ignore: [gpu-not-in-limit]\n"),
            "b/.mllint.yaml: ignore: 'gpu-not-in-limit' matches no rule code or name; "
            "did you mean 'gpu-not-in-limits'?",
        ),
        (
            (".mllint.yaml", "rules: {ML502: {minimun: 2}}\n"),
            "b/.mllint.yaml: unknown key 'rules.ML502.minimun'; did you mean 'minimum'?",
        ),
        (
            (".mllint.yaml", "severity: {ML10: info}\n"),
            "b/.mllint.yaml: severity: unknown rule 'ML10'",
        ),
        (("pyproject.toml", "[tool.mllint]\nselect = []\n"), "select names no rule"),
    ],
)
def test_a_config_that_cannot_be_used_is_an_error_naming_it(
    mllint: Runner, tmp_path: Path, gpu_job: Any, config: tuple[str, str | bytes], message: str
) -> None:
    name, text = config
    write(tmp_path / "a" / "job.yaml", gpu_job())
    write(tmp_path / "b" / "job.yaml", gpu_job())
    path = tmp_path / "b" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = mllint("a", "b")
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert result.stderr.startswith("mllint: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_folder_without_manifests_is_an_error_unless_allowed(
    mllint: Runner, tmp_path: Path
) -> None:
    write(tmp_path / "manifests" / "README.md", "no YAML here\n")
    result = mllint("manifests")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "mllint: no manifests found in manifests (looked for .yaml, .yml, .json)" in (
        result.stderr
    )
    assert "--allow-empty" in result.stderr
    allowed = mllint("--allow-empty", "manifests")
    assert allowed.returncode == 0
    assert "no manifests found in manifests" in allowed.stderr
    assert "No findings in 0 files" in allowed.stdout


def test_a_run_whose_files_are_all_excluded_says_so_and_passes(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "vendor" / "job.yaml", gpu_job())
    write(tmp_path / ".mllint.yaml", "exclude: {paths: [vendor]}\n")
    result = mllint("vendor/job.yaml")
    assert result.returncode == 0
    assert "the configuration excludes every file found in vendor/job.yaml" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--select", ""), "--select names no rule"),
        (("--select", " , "), "--select names no rule"),
        (("--jobs", "0"), "argument --jobs/-j: '0' is not a number of processes (1 or more)"),
        (("-j", "-3"), "argument --jobs/-j: '-3' is not a number of processes (1 or more)"),
        (("--jobs", "two"), "'two' is not a number of processes"),
        (("--extend-select", "ML10x"), "--extend-select: 'ML10x' matches no rule"),
    ],
)
def test_flag_errors_exit_2(
    mllint: Runner, tmp_path: Path, gpu_job: Any, args: tuple[str, ...], message: str
) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    result = mllint(*args, "job.yaml")
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_every_lint_option_has_help(mllint: Runner) -> None:
    from mllint.linter.cli import lint_parser

    parser = lint_parser()
    silent = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
    assert silent == [], "options without help text"
    shown = mllint("--help").stdout
    assert "rules to run besides those selected" in shown
    assert "rules not to run" in shown


def test_each_folder_gets_its_nearest_config_when_few_folders_are_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run remembers the answers of the folders it was in last (FOLDERS_KEPT): a folder
    asked about again after it was forgotten gets the same configuration, read once."""
    from mllint.linter import configfile

    monkeypatch.setattr(configfile, "FOLDERS_KEPT", 2)
    write(tmp_path / "a" / ".mllint.yaml", "select: [ML101]\n")
    write(tmp_path / "b" / ".mllint.yaml", "select: [ML102]\n")
    folders = [tmp_path / rel for rel in ("a", "a/x/y", "b/z", "c", "a/x", "b", "c/d", "a")]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    read: list[Path] = []
    reader = configfile.read
    monkeypatch.setattr(configfile, "read", lambda path: read.append(path) or reader(path))
    configs = configfile.Configs(None, lambda config: config)
    expected = {"a": ("ML101",), "b": ("ML102",), "c": None}
    for _ in range(2):
        for folder in folders:
            loaded = configs.of_folder(str(folder))
            top = folder.relative_to(tmp_path).parts[0]
            assert loaded.config.select == expected[top], folder
            assert loaded is configs.of_folder(str(tmp_path / top))
            assert len(configs._by_folder._held) <= 2 and len(configs._nearest._held) <= 2
    assert sorted(p.parent.name for p in read) == ["a", "b"]
