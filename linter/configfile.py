"""Finding and reading the configuration: `.mllint.yaml` or `[tool.mllint]` in `pyproject.toml`,
the nearest from the current directory upward, or the file named by `--config`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllint.linter.loader import LoadError, load
from mllint.rules import Config, ConfigError, parse_config
from mllint.rules.config import default_config

CONFIG_NAMES = (".mllint.yaml", ".mllint.yml")


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    source: str | None
    """The file it came from; None for the defaults."""
    root: str
    """The folder path exclusions are relative to."""


def find(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tool_section(pyproject):
            return pyproject
    return None


def _has_tool_section(path: Path) -> bool:
    try:
        return "mllint" in _read_toml(path).get("tool", {})
    except ConfigError:
        return False


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when a pyproject.toml is found: kept off the start-up of a lint run

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def read(path: Path) -> Config:
    if path.name == "pyproject.toml":
        return parse_config(
            _read_toml(path).get("tool", {}).get("mllint", {}), f"{path} [tool.mllint]"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        docs = [d.obj for d in load(data)]
    except LoadError as exc:
        raise ConfigError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    if len(docs) > 1:
        raise ConfigError(f"{path}: holds {len(docs)} YAML documents; a config file holds one")
    return parse_config(docs[0] if docs else {}, str(path))


def resolve(explicit: str | None, cwd: Path | None = None) -> LoadedConfig:
    here = (cwd or Path.cwd()).resolve()
    path = Path(explicit) if explicit else find(here)
    if path is None:
        return LoadedConfig(default_config(), None, str(here))
    if explicit and not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return LoadedConfig(read(path), str(path), str(path.resolve().parent))


def describe(loaded: LoadedConfig) -> str:
    return os.path.relpath(loaded.source) if loaded.source else "defaults"
