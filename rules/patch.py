"""JSON Patch (RFC 6902): the one place where fix hygiene lives.

Rules state what they want (`set_value`, `remove`, `append`) as operations against the object
they read. `normalize` turns such operations into a valid patch against a given document:

- missing parents are created first, parents before children (an `add` below a missing parent
  is the classic JSON Patch failure in admission webhooks);
- a path that exists is `replace`d, one that does not is `add`ed; a `remove` of a missing path
  is dropped;
- operations that would change nothing are dropped, so a fixed object yields no operations.

`plan` combines the fixes of many violations into one patch by normalizing and applying them
one after another to a working copy: later fixes see the parents earlier ones created, and
overlapping fixes cannot produce conflicting operations.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Op


class PatchError(ValueError):
    pass


def add(path: str, value: Any) -> Op:
    return {"op": "add", "path": path, "value": value}


def set_value(path: str, value: Any) -> Op:
    """Set `path` to `value`, creating missing parents (normalized to `add`)."""
    return {"op": "add", "path": path, "value": value}


def replace(path: str, value: Any) -> Op:
    return {"op": "replace", "path": path, "value": value}


def remove(path: str) -> Op:
    return {"op": "remove", "path": path}


def append(list_path: str, value: Any) -> Op:
    """Append to the list at `list_path`, creating it when missing."""
    return {"op": "add", "path": list_path + "/-", "value": value}


def move(from_path: str, path: str) -> Op:
    return {"op": "move", "from": from_path, "path": path}


def normalize(ops: Iterable[Op], doc: Any) -> list[Op]:
    """Valid, minimal operations against `doc` (which is updated in place as they apply)."""
    out: list[Op] = []
    for op in ops:
        for clean in _normalize_one(op, doc):
            apply_op(doc, copy.deepcopy(clean))
            out.append(clean)
    return out


def _normalize_one(op: Op, doc: Any) -> list[Op]:
    kind, path = op["op"], op["path"]
    tokens = jp.split(path)
    if kind in ("add", "replace"):
        value = op["value"]
        if tokens and tokens[-1] == "-":
            if value in _resolve_or(doc, jp.parent(path), []):
                return []  # appending what is already there: idempotence
            return [*_parents(doc, tokens[:-1], list_leaf=True), add(path, copy.deepcopy(value))]
        if jp.exists(doc, path):
            if jp.resolve(doc, path) == value:
                return []
            return [replace(path, copy.deepcopy(value))]
        return [*_parents(doc, tokens[:-1]), add(path, copy.deepcopy(value))]
    if kind == "remove":
        return [op] if path and jp.exists(doc, path) else []
    if kind == "move":
        if not jp.exists(doc, op["from"]):
            return []
        return [*_parents(doc, tokens[:-1]), op]
    raise PatchError(f"unsupported patch operation {kind!r}")


def _resolve_or(doc: Any, path: str, default: Any) -> Any:
    try:
        return jp.resolve(doc, path)
    except KeyError:
        return default


def _parents(doc: Any, tokens: list[str], *, list_leaf: bool = False) -> list[Op]:
    """`add` operations creating each missing container along `tokens`, outermost first."""
    ops: list[Op] = []
    node = doc
    at = ""
    for depth, token in enumerate(tokens):
        at = jp.join(at, token)
        if node is not None:
            try:
                node = jp.step(node, token)
                continue
            except KeyError:
                node = None
        last = depth == len(tokens) - 1
        ops.append(add(at, [] if last and list_leaf else {}))
    return ops


def apply_op(doc: Any, op: Op) -> None:
    """Apply one normalized operation to plain dicts and lists, in place."""
    kind = op["op"]
    if kind == "move":
        value = jp.resolve(doc, op["from"])
        apply_op(doc, remove(op["from"]))
        apply_op(doc, add(op["path"], value))
        return
    tokens = jp.split(op["path"])
    if not tokens:
        raise PatchError("operations on the whole document are not supported")
    container = jp.resolve(doc, "".join("/" + jp.escape(t) for t in tokens[:-1]))
    key = tokens[-1]
    if isinstance(container, dict):
        if kind == "remove":
            del container[key]
        else:
            container[key] = op["value"]
    elif isinstance(container, list):
        if kind == "remove":
            del container[int(key)]
        elif key == "-":
            container.append(op["value"])
        elif kind == "replace":
            container[int(key)] = op["value"]
        else:
            container.insert(int(key), op["value"])
    else:
        raise PatchError(f"cannot apply {kind} at {op['path']}: parent is not a container")


def apply(doc: Any, ops: Iterable[Op]) -> Any:
    """A patched deep copy of `doc`."""
    out = copy.deepcopy(doc)
    for op in ops:
        apply_op(out, copy.deepcopy(op))  # the result must not share values with the patch
    return out


def plan(doc: Any, fixes: Iterable[Iterable[Op]]) -> list[Op]:
    """One patch for many fixes, each normalized against the result of those before it."""
    work = copy.deepcopy(doc)
    out: list[Op] = []
    for ops in fixes:
        out.extend(normalize(ops, work))
    return out
