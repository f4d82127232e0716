"""Kustomize patch files: fragments of objects, which rules about missing fields do not judge.

A `kustomization.yaml` lists patches under `patches` (`- path: x.yaml`), `patchesStrategicMerge`
(`- x.yaml`) and `patchesJson6902` (`- path: x.yaml`); each such file holds only the fields it
changes in an object defined elsewhere
([kustomize: patches](https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/)).
The linter finds the kustomizations near a file (in its directory, the two above it, and their
immediate subdirectories, which covers `overlays/<env>/` beside `base/` and `patches/`) and
tells the engine that a file they list is a fragment. A tree copied without its kustomization
keeps the file names: an object in a file named for a patch (`patch.yaml`,
`manager_auth_proxy_patch.yaml`, `job-patch.yaml`) with a container that has no image, which
the API server would refuse, is a fragment too.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_LEVELS = 3
_MAX_BYTES = 1 << 20


_PATCH_NAME = re.compile(r"(?:^|[_.-])patch(?:es)?(?:$|[_.-])", re.IGNORECASE)


def is_fragment(path: str) -> bool:
    """Whether a kustomization near `path` lists it as a patch."""
    if not path or path == "-":
        return False
    target = _realpath(path)
    return any(target in _patches(k) for k in _nearby(os.path.dirname(target)))


def _realpath(path: str) -> str:
    """`os.path.realpath(path)`, with the folder's part resolved once per folder: a run asks
    for every file, and resolving each component costs a system call."""
    folder, name = os.path.split(path)
    if name in ("", os.curdir, os.pardir):
        return os.path.realpath(path)
    real = os.path.join(_real_folder(os.getcwd(), folder), name)
    return os.path.realpath(path) if os.path.islink(real) else real


@functools.lru_cache(maxsize=4096)
def _real_folder(cwd: str, folder: str) -> str:
    """`os.path.realpath(folder)`, from its parent's: one `lstat` per folder rather than one per
    component of it, since the files of a run share their parents."""
    # `cwd` is part of the key: a relative folder means another folder after a chdir.
    parent, name = os.path.split(folder)
    if not parent or parent == folder or name in ("", os.curdir, os.pardir):
        return os.path.realpath(folder)
    real = os.path.join(_real_folder(cwd, parent), name)
    return os.path.realpath(folder) if os.path.islink(real) else real


def fragment_of(path: str) -> bool | None:
    """True when a kustomization lists the file as a patch; None when its name says it is one
    (each object is then a fragment if `incomplete`); False otherwise."""
    if is_fragment(path):
        return True
    return None if named_as_patch(path) else False


def item_is_fragment(fragment: bool | None, obj: Any) -> bool:
    """Whether one object of a file is a fragment, given the file's `fragment_of`."""
    return incomplete(obj) if fragment is None else fragment


def named_as_patch(path: str) -> bool:
    """Whether a file's name says it is a patch (`patch.yaml`, `manager_webhook_patch.yaml`)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return bool(_PATCH_NAME.search(stem))


def incomplete(obj: Any) -> bool:
    """Whether an object has a container without an image: not an object the API server
    accepts, but the part of one a patch changes."""
    return any("image" not in c for c in _containers(obj))


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _containers(value)


@functools.lru_cache(maxsize=4096)
def _nearby(directory: str, levels: int = _LEVELS) -> tuple[str, ...]:
    """The kustomizations in `directory`, the `levels - 1` folders above it, and their immediate
    subdirectories, nearest first."""
    found = _around(directory)
    parent = os.path.dirname(directory)
    if levels == 1 or parent == directory:
        return found
    return found + _nearby(parent, levels - 1)


@functools.lru_cache(maxsize=4096)
def _around(directory: str) -> tuple[str, ...]:
    """The kustomizations in `directory` and in its immediate subdirectories: found once for
    all the folders below it that look up to it."""
    listing = _listing(directory)
    return listing.kustomizations + tuple(
        k for sub in listing.subdirectories for k in _listing(sub).kustomizations
    )


class _Listing(NamedTuple):
    """What the lookup needs of a folder, from one listing of it."""

    kustomizations: tuple[str, ...]
    """Its files (or links to files) named as a kustomization, in the order of KUSTOMIZATIONS."""
    subdirectories: tuple[str, ...]
    """Its folders that are not links, in the listing's order."""


@functools.lru_cache(maxsize=4096)
def _listing(directory: str) -> _Listing:
    """A folder's `_Listing`. One that cannot be listed has no subdirectories, and its
    kustomizations are looked for by name (a folder may be searchable but not readable)."""
    kustomizations: list[str] = []
    subdirectories: list[str] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirectories.append(entry.path)
                    if entry.name in KUSTOMIZATIONS and entry.is_file():
                        kustomizations.append(entry.path)
                except OSError:  # gone since it was listed, or a link that cannot be followed
                    continue
    except OSError:
        found = (os.path.join(directory, n) for n in KUSTOMIZATIONS)
        return _Listing(tuple(p for p in found if os.path.isfile(p)), ())
    if len(kustomizations) > 1:
        kustomizations.sort(key=lambda p: KUSTOMIZATIONS.index(os.path.basename(p)))
    return _Listing(tuple(kustomizations), tuple(subdirectories))


@functools.lru_cache(maxsize=1024)
def _patches(kustomization: str) -> frozenset[str]:
    """The real paths of the patch files a kustomization lists (empty when it cannot be read:
    the file's own lint reports that)."""
    try:
        with open(kustomization, "rb") as fh:
            data: Any = yaml.load(fh.read(_MAX_BYTES), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError, ValueError):
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    base = os.path.dirname(kustomization)
    named: list[str] = []
    for key in ("patches", "patchesStrategicMerge", "patchesJson6902"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            where = entry.get("path") if isinstance(entry, dict) else entry
            # A string entry of patchesStrategicMerge may be an inline patch, not a path.
            if isinstance(where, str) and "\n" not in where:
                named.append(os.path.realpath(os.path.join(base, where)))
    return frozenset(named)
