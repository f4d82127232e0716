"""RFC 6901 JSON Pointers: building, splitting, resolving, and wildcard patterns.

Pointers are plain strings (`/spec/template/spec/containers/0`), so violations, patches and
reports can carry them without conversion. Patterns are pointers in which a `*` token matches any
object key or array index; the workload model and user-declared CRDs are written with them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

WILDCARD = "*"


def escape(token: str | int) -> str:
    """Escape one reference token: `~` becomes `~0`, `/` becomes `~1`."""
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def unescape(token: str) -> str:
    if "~" in token:
        return token.replace("~1", "/").replace("~0", "~")
    return token


def join(base: str, *tokens: str | int) -> str:
    """Append reference tokens to a pointer, escaping each."""
    if not tokens:
        return base
    return base + "/" + "/".join(map(escape, tokens))


def split(pointer: str) -> list[str]:
    """The unescaped reference tokens of a pointer (`""` is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON Pointer must start with '/': {pointer!r}")
    return [unescape(t) for t in pointer[1:].split("/")]


def parent(pointer: str) -> str:
    return pointer[: pointer.rfind("/")] if pointer else ""


def resolve(doc: Any, pointer: str) -> Any:
    """The value a pointer names; raises KeyError when any step is missing."""
    node = doc
    for token in split(pointer):
        node = step(node, token)
    return node


def step(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node[token]
    if isinstance(node, list) and token.isdigit():
        index = int(token)
        if index < len(node):
            return node[index]
    raise KeyError(token)


def exists(doc: Any, pointer: str) -> bool:
    try:
        resolve(doc, pointer)
    except KeyError:
        return False
    return True


def expand(doc: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """Every (pointer, value) in `doc` that `pattern` matches; `*` matches any key or index."""
    if pattern == "":
        return iter((("", doc),))
    tokens, at = _shape(pattern)
    if at is not None:
        # No wildcard (a pod template's path): at most one match, stepped to in a loop.
        node = doc
        for head, _ in tokens:
            if isinstance(node, dict):
                if head not in node:
                    return iter(())
                node = node[head]
            elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
                node = node[int(head)]
            else:
                return iter(())
        return iter(((at, node),))
    if len(tokens) == 2 and tokens[1][0] == WILDCARD and isinstance(doc, dict):
        # `/key/*` (a pod's containers, its volumes): one step into the document, then all
        # its items, as `_expand` finds them.
        head, escaped = tokens[0]
        if head == WILDCARD:
            return _expanded(doc, tokens)
        node = doc.get(head)
        if isinstance(node, dict):
            return iter([(f"/{escaped}/{escape(key)}", value) for key, value in node.items()])
        if isinstance(node, list):
            return iter([(f"/{escaped}/{i}", value) for i, value in enumerate(node)])
        return iter(())
    return _expanded(doc, tokens)


@functools.lru_cache(maxsize=1024)
def _shape(pattern: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """A pattern's tokens (`_tokens`), and for a pattern without wildcards the pointer it
    matches, as `_expand` writes it (None for a pattern with one)."""
    tokens = _tokens(pattern)
    if any(token == WILDCARD for token, _ in tokens):
        return tokens, None
    return tokens, "".join(f"/{escaped}" for _, escaped in tokens)


def _expanded(doc: Any, tokens: tuple[tuple[str, str], ...]) -> Iterator[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    _expand(doc, tokens, 0, "", found)
    return iter(found)


@functools.lru_cache(maxsize=1024)
def _tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    """A pattern's tokens, each unescaped and escaped (patterns are few and used often)."""
    return tuple((token, escape(token)) for token in split(pattern))


def _expand(
    node: Any,
    tokens: tuple[tuple[str, str], ...],
    index: int,
    at: str,
    found: list[tuple[str, Any]],
) -> None:
    # Plain tokens are stepped through in a loop; only a wildcard branches, and a final one
    # (`/containers/*`) adds its matches at once. Matches go into one list: the workload
    # model expands a few patterns per pod on every admission, and generators cost more.
    last = len(tokens) - 1
    for position in range(index, last + 1):
        head, escaped = tokens[position]
        if head == WILDCARD:
            if isinstance(node, dict):
                if position == last:
                    found += [(f"{at}/{escape(key)}", value) for key, value in node.items()]
                else:
                    for key, value in node.items():
                        _expand(value, tokens, position + 1, f"{at}/{escape(key)}", found)
            elif isinstance(node, list):
                if position == last:
                    found += [(f"{at}/{i}", value) for i, value in enumerate(node)]
                else:
                    for i, value in enumerate(node):
                        _expand(value, tokens, position + 1, f"{at}/{i}", found)
            return
        # `step`, without raising for a missing key (most patterns miss on most pods).
        if isinstance(node, dict):
            if head not in node:
                return
            node = node[head]
        elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
            node = node[int(head)]
        else:
            return
        at = f"{at}/{escaped}"
    found.append((at, node))


def to_field_path(pointer: str) -> str:
    """A pointer as kubectl users read it: `/spec/containers/0` -> `spec.containers[0]`."""
    out = []
    for token in split(pointer):
        if token.isdigit():
            out.append(f"[{token}]")
        elif "." in token or "/" in token:
            out.append(f"[{token!r}]")
        else:
            out.append(("." if out else "") + token)
    return "".join(out)
