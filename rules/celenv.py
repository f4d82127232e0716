"""The project's one CEL environment: what evaluates CEL here (team rules in the engine, and the
tests that evaluate exported admission policies as the API server would) compiles through it.

The implementation is `common-expression-language` (the Rust `cel` crate's Python binding). It
follows the current CEL specification where the API server's cel-go does and cel-python does not
(heterogeneous numeric equality `1 == 1.0`, `string(1.0) == "1"`, equality across types false
rather than an error), and a compiled program runs in microseconds (cel-python: about 77 times
slower on one `exists`/`matches` expression over a five-container pod). It is imported when an
expression is first compiled, so a run without team rules never loads it.

What Kubernetes adds to CEL and expressions here may use is defined in `FUNCTIONS`, as the
Kubernetes CEL documentation defines it (https://kubernetes.io/docs/reference/using-api/cel/):
the strings extension (`join`, `replace`, `trim`, `lowerAscii`, `upperAscii`, `split`,
`indexOf`, `lastIndexOf`, `substring`) and the lists library's `sum`, `min`, `max`. The
`cel` crate's own standard library (`size`, `has`, `matches`, `startsWith`, `contains`,
conversions, macros) is there as in every CEL implementation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


def _join(items: list[str], separator: str = "") -> str:
    return separator.join(items)


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    return text.replace(old, new, count)


def _trim(text: str) -> str:
    return text.strip()


def _lower_ascii(text: str) -> str:
    """Only ASCII letters are lowered (the Kubernetes strings library's `lowerAscii`)."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _upper_ascii(text: str) -> str:
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    return text.split(separator, limit - 1 if limit > 0 else -1)


def _index_of(text: str, sub: str, start: int = 0) -> int:
    return text.find(sub, start)


def _last_index_of(text: str, sub: str) -> int:
    return text.rfind(sub)


def _substring(text: str, start: int, end: int | None = None) -> str:
    if start < 0 or start > len(text) or (end is not None and not start <= end <= len(text)):
        raise ValueError(f"substring: index out of range [{start}, {end}) of {len(text)}")
    return text[start:end]


def _sum(items: list[Any]) -> Any:
    """The Kubernetes lists library's `sum` (0 for an empty list)."""
    return sum(items)


def _min(items: list[Any]) -> Any:
    if not items:
        raise ValueError("min: empty list")
    return min(items)


def _max(items: list[Any]) -> Any:
    if not items:
        raise ValueError("max: empty list")
    return max(items)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "join": _join,
    "replace": _replace,
    "trim": _trim,
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
    "split": _split,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "sum": _sum,
    "min": _min,
    "max": _max,
}
"""The functions Kubernetes adds to CEL that expressions here may call."""

BUILTINS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double",
        "string", "bytes", "bool", "timestamp", "duration", "type", "dyn", "getDate",
        "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getHours",
        "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
    }
)  # fmt: skip
"""Functions of the CEL standard library that the implementation provides."""

TYPE_NAMES = frozenset(
    {"bool", "bytes", "double", "int", "list", "map", "null_type", "string", "type", "uint"}
)
"""Type identifiers an expression may name (`type(x) == map`)."""

_MACRO = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
)
_STRING = re.compile(
    r"""(?s)[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
)
_POSITION = re.compile(r"<input>:(\d+):(\d+): ")


class CelError(ValueError):
    """An expression that does not compile, or names what its environment does not have; the
    message gives the position (`line:column` within the expression)."""


@dataclass(frozen=True)
class Compiled:
    source: str
    program: Any
    """The implementation's compiled program (`cel.Program`)."""
    variables: frozenset[str]
    """The variables of the environment it reads."""


def blank_strings(source: str) -> str:
    """`source` with the contents of its string literals blanked, positions kept, so that words
    inside strings are not read as names."""
    return _STRING.sub(
        lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], source
    )


def position(source: str, word: str) -> str:
    """`line:column` of the first use of a name in `source` (outside string literals)."""
    bare = blank_strings(source)
    found = re.search(rf"(?<![A-Za-z0-9_.]){re.escape(word)}(?![A-Za-z0-9_])", bare)
    if found is None:
        found = re.search(rf"\b{re.escape(word)}\b", bare)
    if found is None:
        return "1:1"
    line = bare.count("\n", 0, found.start()) + 1
    column = found.start() - (bare.rfind("\n", 0, found.start()) + 1) + 1
    return f"{line}:{column}"


@functools.lru_cache(maxsize=4096)
def _parse(source: str) -> Any:
    import cel  # here only: runs without CEL expressions never load it

    try:
        return cel.compile(source)
    except ValueError as exc:
        text = str(exc)
        found = _POSITION.search(text)
        where = f"{found.group(1)}:{found.group(2)}: " if found else ""
        detail = text[found.end() :] if found else text
        raise CelError(f"{where}{detail.splitlines()[0]}") from None


def compile_expression(source: str, variables: Iterable[str]) -> Compiled:
    """Compile once (programs are cached by their text); names outside `variables`, the
    standard library and `FUNCTIONS` are errors, as a type-checking CEL environment finds them."""
    program = _parse(source)
    known = frozenset(variables)
    refs = program.references()
    bound = set(_MACRO.findall(blank_strings(source)))
    for name in refs["variables"]:
        if name not in known and name not in bound and name not in TYPE_NAMES:
            hint = f"; the variables here are {', '.join(sorted(known))}"
            raise CelError(f"{position(source, name)}: undeclared reference to {name!r}{hint}")
    for name in refs["functions"]:
        if name[:1] in "_@!-" or name in BUILTINS or name in FUNCTIONS:
            continue
        raise CelError(f"{position(source, name)}: unknown function {name!r}")
    return Compiled(source, program, frozenset(v for v in refs["variables"] if v in known))


def context(variables: dict[str, Any] | None = None) -> Any:
    """An evaluation context with `FUNCTIONS`; variables are added to it as they are known."""
    import cel

    made = cel.Context(variables or {})
    for name, function in FUNCTIONS.items():
        made.add_function(name, function)
    return made


def describe_error(exc: Exception) -> str:
    """An evaluation error in words: a missing key says which key."""
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else exc}"
    text = str(exc).strip() or type(exc).__name__
    return text.split(". ")[0] if len(text) > 200 else text
