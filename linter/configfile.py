"""Finding and reading the configuration, the way ruff finds its own.

Each linted file gets the nearest `.mllint.yaml` (or `.mllint.yml`, or `pyproject.toml` with a
`[tool.mllint]` table) in its folder or a folder above it; without one, the defaults. Files in
different folders may so get different configurations: the closest one applies whole, nothing
is merged, and its `exclude.paths` are relative to its own folder. `--config FILE` names one
file for every linted file. Stdin is configured from the folder of `--stdin-filename`, else from
the current directory.

A config file that cannot be read or is not valid (broken TOML in a `pyproject.toml` included)
is an error naming the file, wherever it was found.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mllint.linter.loader import LoadError, load
from mllint.rules import Config, ConfigError, Engine, parse_config
from mllint.rules.config import default_config
from mllint.rules.model import Frozen, set_field

if TYPE_CHECKING:
    from pathlib import Path  # imported where a config file is found: kept off start-up

CONFIG_NAMES = (".mllint.yaml", ".mllint.yml")
T = TypeVar("T")


class LoadedConfig(Frozen):
    _fields = ("config", "source", "root")
    config: Config
    source: str | None
    """The file it came from; None for the defaults."""
    root: str
    """The folder path exclusions are relative to."""

    def __init__(self, config: Config, source: str | None, root: str) -> None:
        set_field(self, "config", config)
        set_field(self, "source", source)
        set_field(self, "root", root)


def find(start: Path) -> Path | None:
    from pathlib import Path

    for folder in (start, *start.parents):
        found = _in_folder(str(folder))
        if found is not None:
            return Path(found)
    return None


def _in_folder(folder: str, present: frozenset[str] | None = None) -> str | None:
    """The config file in `folder` itself, if any. `present`, when a walk has listed the
    folder: which of the names looked for it holds (`looked_for`); the others are not asked
    about."""
    for name in CONFIG_NAMES:
        if present is not None and name not in present:
            continue
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    if present is not None and PYPROJECT not in present:
        return None
    pyproject = os.path.join(folder, PYPROJECT)
    if os.path.isfile(pyproject) and "mllint" in _read_toml(pyproject).get("tool", {}):
        return pyproject
    return None


PYPROJECT = "pyproject.toml"
_LOOKED_FOR = frozenset({*CONFIG_NAMES, PYPROJECT})


def looked_for(names: Iterable[str]) -> frozenset[str]:
    """Which of `names` (a folder's entries) are names a config file is looked for by. Compared
    without case, so that on a file system that ignores case a name is never left out; each is
    still asked about."""
    return frozenset(known for name in names if (known := name.lower()) in _LOOKED_FOR)


def _read_toml(path: str | Path) -> dict[str, Any]:
    import tomllib  # only when a pyproject.toml is found: kept off the start-up of a lint run

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _shown(path: Path) -> Path:
    """A config file's path as messages give it: relative when under the current directory."""
    from pathlib import Path

    try:
        return path.resolve().relative_to(Path.cwd().resolve()) if path.is_absolute() else path
    except ValueError:
        return path


def read(path: Path) -> Config:
    """The configuration in `path`, checked through: keys, values, and the rules it names."""
    path = _shown(path)
    if path.name == "pyproject.toml":
        source = f"{path} [tool.mllint]"
        config = parse_config(_read_toml(path).get("tool", {}).get("mllint", {}), source)
    else:
        source = str(path)
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
        config = parse_config(docs[0] if docs else {}, source)
    if config.select == ():
        raise ConfigError(
            f"{source}: select names no rule; list rule codes, names or prefixes, or use "
            "ignore to turn rules off"
        )
    try:
        Engine(config)  # rule names in select, ignore, severity and rules, and rule options
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


def resolve(explicit: str | None, cwd: Path | None = None) -> LoadedConfig:
    from pathlib import Path

    here = (cwd or Path.cwd()).resolve()
    path = Path(explicit) if explicit else find(here)
    if path is None:
        return LoadedConfig(default_config(), None, str(here))
    if explicit and not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return LoadedConfig(read(path), str(path), str(path.resolve().parent))


FOLDERS_KEPT = 4096
"""Folders whose answers `Configs` remembers, the most recently asked for: a walk asks about
the folders it is in, not those it has left, so a run remembers as many whatever its size."""


class _Recent(Generic[T]):
    """Answers by folder, for the FOLDERS_KEPT folders most recently asked about."""

    def __init__(self) -> None:
        self._held: OrderedDict[str, T] = OrderedDict()

    def __contains__(self, folder: str) -> bool:
        return folder in self._held

    def __getitem__(self, folder: str) -> T:
        self._held.move_to_end(folder)
        return self._held[folder]

    def get(self, folder: str) -> T | None:
        return self._held.get(folder)

    def __setitem__(self, folder: str, answer: T) -> None:
        self._held[folder] = answer
        if len(self._held) > FOLDERS_KEPT:
            self._held.popitem(last=False)


class Configs:
    """The configuration of each linted path: `--config` for all, else the nearest above it.

    Folders are looked up once while a run is in them (FOLDERS_KEPT) and config files read once
    per run; `adjust` applies the command line's flags on top of every configuration.
    """

    def __init__(self, explicit: str | None, adjust: Callable[[Config], Config]) -> None:
        self._adjust = adjust
        self._by_folder: _Recent[LoadedConfig] = _Recent()
        self._by_source: dict[str | None, LoadedConfig] = {}
        self._nearest: _Recent[str | None] = _Recent()
        self._listed: _Recent[frozenset[str]] = _Recent()
        """What a walk found in the folders it listed (`listed`)."""
        self._last_folder: str | None = None
        """The folder of the file asked about last, as the path was written."""
        self._last: LoadedConfig
        self.explicit = resolve(explicit) if explicit else None

    def of_folder(self, folder: str) -> LoadedConfig:
        if self.explicit is not None:
            return self._adjusted(self.explicit)
        key = os.path.abspath(folder)
        if key in self._by_folder:
            return self._by_folder[key]
        path = self._find(key)
        source = None if path is None else str(path)
        # A configuration is made (and checked) once per source, not once per folder.
        found = self._by_source.get(source)
        if found is None:
            if path is None:
                loaded = LoadedConfig(default_config(), None, os.path.realpath(os.getcwd()))
            else:
                loaded = LoadedConfig(read(path), source, str(path.resolve().parent))
            found = self._adjusted(loaded)
        self._by_folder[key] = found
        return found

    def _find(self, folder: str) -> Path | None:
        """`find`, remembering the answer of every folder on the way up: the files of a run
        share their ancestors, which are then looked at once."""
        passed: list[str] = []
        current = folder
        while current not in self._nearest:
            passed.append(current)
            found = _in_folder(current, self._listed.get(current))
            parent = os.path.dirname(current)
            if found is not None or parent == current:
                self._nearest[current] = found
                break
            current = parent
        nearest = self._nearest[current]
        for below in passed:
            self._nearest[below] = nearest
        if nearest is None:
            return None
        from pathlib import Path

        return Path(nearest)

    def listed(self, folder: str, names: Iterable[str]) -> None:
        """Tell what a walk found in `folder` (its entries other than folders), so that finding
        the folder's config file asks the file system only about the names it holds."""
        if self.explicit is None:
            self._listed[os.path.abspath(folder)] = looked_for(names)

    def of_file(self, path: str) -> LoadedConfig:
        # A run asks about the files of a folder one after the other, each more than once.
        folder = os.path.dirname(path)
        if folder != self._last_folder:
            self._last = self.of_folder(os.path.dirname(os.path.abspath(path)))
            self._last_folder = folder
        return self._last

    def _adjusted(self, loaded: LoadedConfig) -> LoadedConfig:
        done = self._by_source.get(loaded.source)
        if done is None:
            done = LoadedConfig(self._adjust(loaded.config), loaded.source, loaded.root)
            self._by_source[loaded.source] = done
        return done


def describe(loaded: LoadedConfig) -> str:
    return os.path.relpath(loaded.source) if loaded.source else "defaults"
