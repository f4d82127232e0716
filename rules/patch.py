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


def under(prefix: str, ops: Iterable[Op]) -> tuple[Op, ...]:
    """Operations written against an object embedded at `prefix`, made against its parent."""
    moved = []
    for op in ops:
        copy_ = dict(op)
        for key in ("path", "from"):
            if key in copy_:
                copy_[key] = prefix + copy_[key]
        moved.append(copy_)
    return tuple(moved)


def normalize(ops: Iterable[Op], doc: Any) -> list[Op]:
    """Valid, minimal operations against `doc` (which is updated in place as they apply)."""
    import copy  # only fixing needs it: kept off the start-up of a lint run

    out: list[Op] = []
    for op in ops:
        for clean in _normalize_one(op, doc):
            apply_op(doc, copy.deepcopy(clean))
            out.append(clean)
    return out


def _normalize_one(op: Op, doc: Any) -> list[Op]:
    import copy

    kind, path = op["op"], op["path"]
    tokens = jp.split(path)
    if kind in ("add", "replace"):
        value = op["value"]
        if tokens and tokens[-1] == "-":
            parents = _parents(doc, tokens[:-1], list_leaf=True)
            if not parents and value in jp.resolve(doc, jp.parent(path)):
                return []  # appending what is already there: idempotence
            return [*parents, add(path, copy.deepcopy(value))]
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


def _parents(doc: Any, tokens: list[str], *, list_leaf: bool = False) -> list[Op]:
    """Operations making each container along `tokens` exist, outermost first: a missing one is
    added, a null one (`limits:` left empty in YAML) replaced. Raises PatchError when a value
    of another type is in the way, or a list is asked for a key."""
    ops: list[Op] = []
    node = doc
    at = ""
    created = False
    for depth, token in enumerate(tokens):
        empty: Any = [] if list_leaf and depth == len(tokens) - 1 else {}
        at = jp.join(at, token)
        if created:  # below a container the patch creates, everything is created
            ops.append(add(at, empty))
            continue
        if isinstance(node, dict) and token not in node:
            ops.append(add(at, empty))
            created = True
            continue
        try:
            child = jp.step(node, token)
        except KeyError:
            raise PatchError(f"cannot add {at}: its parent is a list") from None
        if child is None:
            ops.append(replace(at, empty))
            created = True
        elif not isinstance(child, list if isinstance(empty, list) else dict | list):
            raise PatchError(f"cannot add below {at}: it holds a {type(child).__name__}")
        node = child
    return ops


def apply_op(doc: Any, op: Op) -> None:
    """Apply one normalized operation to plain dicts and lists, in place; PatchError, with
    nothing changed, when it does not apply."""
    kind = op["op"]
    if kind == "move":
        value = _resolve(doc, op["from"])
        apply_op(doc, remove(op["from"]))
        apply_op(doc, add(op["path"], value))
        return
    tokens = jp.split(op["path"])
    if not tokens:
        raise PatchError("operations on the whole document are not supported")
    container = _resolve(doc, "".join("/" + jp.escape(t) for t in tokens[:-1]))
    key = tokens[-1]
    if isinstance(container, dict):
        if kind == "remove":
            if key not in container:
                raise PatchError(f"cannot remove {op['path']}: no such member")
            del container[key]
        else:
            container[key] = op["value"]
        return
    if not isinstance(container, list):
        raise PatchError(f"cannot apply {kind} at {op['path']}: parent is not a container")
    if key == "-" and kind == "add":
        container.append(op["value"])
        return
    size = len(container) + (1 if kind == "add" else 0)
    if not key.isdigit() or int(key) >= size:
        raise PatchError(f"cannot apply {kind} at {op['path']}: no such list item")
    index = int(key)
    if kind == "remove":
        del container[index]
    elif kind == "replace":
        container[index] = op["value"]
    else:
        container.insert(index, op["value"])


def _resolve(doc: Any, pointer: str) -> Any:
    try:
        return jp.resolve(doc, pointer)
    except KeyError:
        raise PatchError(f"{pointer or '/'} does not exist") from None


def apply(doc: Any, ops: Iterable[Op]) -> Any:
    """A patched deep copy of `doc`."""
    import copy

    out = copy.deepcopy(doc)
    for op in ops:
        apply_op(out, copy.deepcopy(op))  # the result must not share values with the patch
    return out


def plan(doc: Any, fixes: Iterable[Iterable[Op]], problems: list[str] | None = None) -> list[Op]:
    """One patch for many fixes, each normalized against the result of those before it.

    A fix that cannot apply to this object (a field of an unexpected type in its way) is left
    out whole, with the reason added to `problems`; the others still apply."""
    import copy

    work = copy.deepcopy(doc)
    out: list[Op] = []
    for ops in fixes:
        done = len(out)
        try:
            out.extend(normalize(ops, work))
        except PatchError as exc:
            del out[done:]
            work = apply(doc, out)  # undo the part of the fix that applied
            if problems is not None:
                problems.append(str(exc))
    return out
