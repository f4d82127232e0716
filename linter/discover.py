"""Which files a run reads: the paths given, directories walked, exclusions applied."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator, Sequence

from mllint.linter.configfile import CONFIG_NAMES
from mllint.linter.lint import STDIN
from mllint.rules.model import Frozen, Record, set_field
from mllint.rules.setrules import above

EXTENSIONS = (".yaml", ".yml", ".json")
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)


class PathError(Exception):
    """A path given on the command line that does not exist."""


class Excluder(Frozen):
    """Path globs, matched against paths relative to `root` (the config file's folder)."""

    _fields = ("patterns", "root")

    patterns: tuple[str, ...]
    root: str

    def __init__(self, patterns: tuple[str, ...], root: str) -> None:
        set_field(self, "patterns", patterns)
        set_field(self, "root", root)

    def __call__(self, path: str) -> bool:
        if not self.patterns or path == STDIN:
            return False
        from pathlib import PurePosixPath  # only path exclusions need it: kept off start-up

        rel = os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")
        parts = PurePosixPath(rel)
        return any(
            fnmatch.fnmatchcase(rel, p) or parts.match(p) or fnmatch.fnmatchcase(rel, p + "/*")
            for pattern in self.patterns
            # `**/x` also matches `x` at the top, as in .gitignore.
            for p in {pattern, pattern.removeprefix("**/")}
        )


class Found(Record):
    """What a walk left out, so that a run finding nothing can say why."""

    _fields = ("excluded",)

    excluded: int

    def __init__(self, excluded: int = 0) -> None:
        self.excluded = excluded


def discover(
    paths: Sequence[str],
    excluded: Callable[[str], bool],
    found: Found | None = None,
    listed: Callable[[str, list[str]], None] | None = None,
) -> Iterator[str]:
    """Files to lint, in a stable order. Given files are read whatever their extension;
    directories are walked for YAML and JSON files, following links but never in a loop.
    `listed(folder, names)` is told the entries other than folders of each folder walked,
    before `excluded` is asked about anything in it.

    A walk finds a folder's files before those of its subfolders, and all the files below a
    folder one after the other (see `folder_by_folder`)."""
    seen = found or Found()

    def left_out(path: str) -> bool:
        if excluded(path):
            seen.excluded += 1
            return True
        return False

    for path in paths:
        if path == STDIN:
            yield path
        elif os.path.isdir(path):
            yield from _walk(path, left_out, listed)
        elif os.path.exists(path) or os.path.islink(path):
            if not left_out(path):
                yield path
        else:
            raise PathError(f"{path}: no such file or directory")


def folder_by_folder(paths: Sequence[str]) -> bool:
    """Whether `discover(paths)` finds the files of the folders above a folder before the
    folder's own, and all the files in and below a folder one after the other: so it does
    when no path is in, or is, the folder of another (as two files of one folder are), and a
    run may then settle what it knows of a folder (its whole-set findings) once it has left
    it."""
    folders = sorted(
        (
            path
            if path == STDIN
            else os.path.abspath(path)
            if os.path.isdir(path)
            else os.path.dirname(os.path.abspath(path))
            for path in paths
        ),
        key=len,
    )
    seen: set[str] = set()
    for folder in folders:
        if folder in seen or any(a in seen for a in above(folder)):
            return False
        seen.add(folder)
    return True


def _walk(
    top: str, excluded: Callable[[str], bool], listed: Callable[[str, list[str]], None] | None
) -> Iterator[str]:
    # The folders walked, each as one number of device and inode: a pair of numbers would take
    # three times the memory, held to the end of the walk.
    seen: set[int] = set()
    for root, dirs, files in _tree(top):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        folder = st.st_dev << 64 | st.st_ino
        if folder in seen:
            dirs[:] = []  # a link back to a folder already walked: a loop
            continue
        seen.add(folder)
        if listed is not None:
            listed(root, list(files))
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRS and not excluded(os.path.join(root, d))
        )
        for name in sorted(files):
            # mllint's own config file is YAML but never a manifest.
            if name.endswith(EXTENSIONS) and name not in CONFIG_NAMES:
                path = os.path.join(root, name)
                if _regular_or_broken(path, files[name]) and not excluded(path):
                    yield path


def _tree(top: str) -> Iterator[tuple[str, list[str], dict[str, os.DirEntry[str]]]]:
    """`os.walk(top, followlinks=True)`, top down (the caller may prune `dirs`), with the other
    entries of each folder by name as `os.DirEntry`s, which say what they are from the listing
    itself. A folder that cannot be listed is left out, as `os.walk` leaves it."""
    pending = [top]
    while pending:
        root = pending.pop()
        dirs: list[str] = []
        files: dict[str, os.DirEntry[str]] = {}
        try:
            with os.scandir(root) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if is_dir:
                        dirs.append(entry.name)
                    else:
                        files[entry.name] = entry
        except OSError:
            continue
        yield root, dirs, files
        pending += [os.path.join(root, d) for d in reversed(dirs)]


def _regular_or_broken(path: str, entry: os.DirEntry[str]) -> bool:
    """Files found by walking are read only when regular: opening a FIFO would wait forever for a
    writer, and a device may never end. A link that cannot be followed is kept, to be reported.
    What an entry that is no link is, its folder's listing says."""
    try:
        if entry.is_symlink():
            return stat.S_ISREG(os.stat(path).st_mode)
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return True
