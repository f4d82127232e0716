"""Reading manifests: bytes -> plain objects, with a way back from JSON Pointers to positions.

PyYAML's C composer builds the node tree (it keeps Kubernetes' YAML 1.1 semantics: `on`, `yes`,
octal ints); a small constructor of our own turns nodes into dicts and lists, noting duplicate keys
on the way. The node tree is kept beside each document so that a finding's pointer can be placed
at a line and column only when a finding exists.

Input that would make the parser misbehave is refused with a position first: binary files,
invalid UTF-8, nesting deeper than MAX_DEPTH (libyaml's composer recurses in C and crashes on
about 100 000 levels), and aliases that expand past MAX_EXPANSION nodes (the "billion laughs").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from mllint.rules.model import Frozen, Record, Regex, set_field

MAX_DEPTH = 256
MAX_EXPANSION = 1_000_000

_MERGE = "tag:yaml.org,2002:merge"


class LoadError(Exception):
    """A file or document that cannot be read; `line`/`column` are 1-based (0: unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class Position(Frozen):
    __slots__ = _fields = ("line", "column")
    line: int
    column: int

    def __init__(self, line: int, column: int) -> None:
        set_field(self, "line", line)
        set_field(self, "column", column)


class Document(Record):
    """One YAML document: its decoded object and the node tree it came from."""

    __slots__ = _fields = ("obj", "node", "index", "duplicates")

    obj: Any
    node: Node
    index: int
    duplicates: list[tuple[str, Position]]

    def __init__(
        self, obj: Any, node: Node, index: int, duplicates: list[tuple[str, Position]] | None = None
    ) -> None:
        self.obj = obj
        self.node = node
        self.index = index
        self.duplicates = [] if duplicates is None else duplicates

    @property
    def start(self) -> Position:
        return _position(self.node)

    def locate(self, pointer: str) -> Position:
        """The position of the node a pointer names, or of its nearest existing ancestor.

        For an object member that is the position of its key; for a list item, of the item.
        """
        node, key, _ = self._follow(pointer)
        return _position(key if key is not None else node)

    def span(self, pointer: str) -> tuple[Position, Position]:
        """Where the node a pointer names starts (as `locate` gives it) and ends (the position
        after its last character), for an editor to mark.

        A member spans its key and value, a list item itself; but a block mapping or list is
        marked by its head only (a member's key; an item's first line), and so is the nearest
        existing ancestor of a pointer that names nothing: the key or item that is missing
        something."""
        node, key, resolved = self._follow(pointer)
        start = _position(key if key is not None else node)
        if resolved and not _is_block(node):
            return start, _end(node)
        return start, _end(key) if key is not None else _head_end(node)

    def _follow(self, pointer: str) -> tuple[Node, Node | None, bool]:
        """The node a pointer names, or its nearest existing ancestor; the key it was reached by
        (None for a list item or the document itself); whether the pointer named it."""
        node: Node = self.node
        key: Node | None = None
        for raw in pointer[1:].split("/") if pointer else ():
            token = raw.replace("~1", "/").replace("~0", "~") if "~" in raw else raw
            if isinstance(node, MappingNode):
                for k, value in node.value:
                    if isinstance(k, ScalarNode) and k.value == token:
                        key, node = k, value
                        break
                else:
                    return node, key, False
            elif (
                isinstance(node, SequenceNode) and token.isdigit() and int(token) < len(node.value)
            ):
                key, node = None, node.value[int(token)]
            else:
                return node, key, False
        return node, key, True


def _is_block(node: Node) -> bool:
    """Whether a node is a block mapping or list (which has at least one entry)."""
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style and bool(node.value)


def _block_lines(node: Node) -> bool:
    """Whether a node is a block mapping or list over several lines."""
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False) or not node.value:
        return False
    return _end(node).line > node.start_mark.line + 1


def _end(node: Node) -> Position:
    """The position after a node's last character. A block collection's own end mark is where
    the next token starts (often lines below, past comments), so its last leaf decides."""
    while isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    mark = node.end_mark
    return Position(mark.line + 1, mark.column + 1)


def _head_end(node: Node) -> Position:
    """The end of a block collection's first line: its first member, or its first item's."""
    while _block_lines(node):
        first = node.value[0]
        if isinstance(first, tuple):
            key, value = first
            if _block_lines(value) or value.start_mark.line != key.start_mark.line:
                return _end(key)
            return _end(value)
        node = first
    return _end(node)


def _error_at(message: str, mark: Any) -> LoadError:
    if mark is None:
        return LoadError(message)
    return LoadError(message, mark.line + 1, mark.column + 1)


def _position(node: Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _place(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column of a byte offset."""
    return data.count(b"\n", 0, offset) + 1, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def decode(data: bytes) -> str:
    """Bytes as text; binary content and invalid UTF-8 are refused with their position."""
    nul = data.find(b"\x00")
    if nul >= 0:
        if data.startswith(_UTF16_BOMS):
            raise LoadError(
                "UTF-16 text (Windows PowerShell writes it with `>`); save as UTF-8", 1, 1
            )
        raise LoadError(
            "binary file (contains a NUL byte); expected YAML or JSON text", *_place(data, nul)
        )
    try:
        return data.decode("utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            *_place(data, exc.start),
        ) from None


# Block collections nest through indentation and through the compact indicators `- `, `? `
# and `: ` that may open a nested collection on the same line (`- - - x`, `? ? ? x`).
_INDENT = Regex(r"^[ \t?:-]*", re.MULTILINE)
_HALF = MAX_DEPTH // 2
_DEEP_LINE = re.compile(rf"\n[ \t?:-]{{{_HALF}}}")
_DEEP_START = re.compile(rf"[ \t?:-]{{{_HALF}}}")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before libyaml recurses into it.

    Depth is bounded by the number of flow brackets plus the deepest block indentation; only
    when that cheap bound is too high are the parser's events counted exactly. Most files have
    fewer than half as many brackets and no line indented half as far, which is told without
    measuring every line's indentation (the search skips from newline to newline).
    """
    flow = text.count("[") + text.count("{")
    if flow <= _HALF and not _DEEP_START.match(text) and not _DEEP_LINE.search(text):
        return
    block = max(map(len, _INDENT.compiled.findall(text)), default=0)
    if flow + block <= MAX_DEPTH:
        return
    try:
        _count_depth(text, yaml.CSafeLoader)
    except yaml.YAMLError:
        # libyaml scans ahead and stops at limits of its own (or at a syntax error) before the
        # count above reaches ours. PyYAML's Python parser keeps no stack in C and has no limit,
        # so it decides; a syntax error is left to the composer, which reports its position.
        try:
            _count_depth(text, yaml.SafeLoader)
        except yaml.YAMLError:
            return


def _count_depth(text: str, loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> None:
    """Raise LoadError at the first collection that opens deeper than MAX_DEPTH."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _error_at(
                    f"nesting deeper than {MAX_DEPTH} levels; Kubernetes objects are "
                    "nowhere near that deep",
                    event.start_mark,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load(data: bytes | str) -> Iterator[Document]:
    """The documents of a YAML or JSON stream, in order.

    Raises LoadError for the first problem that stops reading; documents before it have been
    yielded already.
    """
    text = decode(data) if isinstance(data, bytes) else data
    _check_depth(text)
    careful = "&" in text  # anchors are the only way to aliases
    nodes = yaml.compose_all(text, Loader=_Composer)
    index = 0
    while True:
        try:
            node = next(nodes)
        except StopIteration:
            return
        except yaml.MarkedYAMLError as exc:
            raise _error_at(_describe(exc), exc.problem_mark or exc.context_mark) from None
        except yaml.reader.ReaderError as exc:
            raise _reader_error(exc, text) from None
        except yaml.YAMLError as exc:
            raise LoadError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
        builder = _Builder(careful)
        obj = builder.build(node, 0)
        yield Document(obj, node, index, builder.duplicates)
        index += 1


def _reader_error(exc: yaml.reader.ReaderError, text: str) -> LoadError:
    """A character YAML does not allow, at its line and column (the reader counts characters)."""
    at = min(max(int(exc.position), 0), len(text))
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    what = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    return LoadError(
        f"invalid YAML: {what} U+{code:04X} is not allowed; remove it or write it as an "
        "escape in a double-quoted string",
        line,
        column,
    )


def _describe(exc: yaml.MarkedYAMLError) -> str:
    """libyaml's problem, with what it was reading and where that began when it says so
    (`did not find expected key (while parsing a block mapping at line 3)`)."""
    problem = exc.problem or exc.context or "syntax error"
    if exc.problem and exc.context and exc.context_mark is not None:
        return f"invalid YAML: {problem} ({exc.context} at line {exc.context_mark.line + 1})"
    return f"invalid YAML: {problem}"


_STR, _SEQ, _MAP = (
    Resolver.DEFAULT_SCALAR_TAG,
    Resolver.DEFAULT_SEQUENCE_TAG,
    Resolver.DEFAULT_MAPPING_TAG,
)
_Patterns = tuple[tuple[str, re.Pattern[str]], ...]
_ANY_FIRST: _Patterns = tuple(Resolver.yaml_implicit_resolvers.get(None, ()))
_BY_FIRST: dict[str, _Patterns] = {
    first: (*resolvers, *_ANY_FIRST)
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


_TAGS: dict[str, str] = {}
"""The tag of plain scalars seen before: the same keys and values (`name`, `apiVersion`, `v1`,
`true`) recur in every manifest. Short ones only, and a bounded number."""
_TAG_KEY_CHARS = 64
_TAG_KEYS = 1 << 15


def _implicit_tag(value: str) -> str:
    for tag, pattern in _BY_FIRST.get(value[:1], _ANY_FIRST):
        if pattern.match(value):
            return tag
    return _STR


class _Composer(yaml.CSafeLoader):
    """PyYAML's C composer with the same tags, resolved faster.

    The composer calls back into Python for every node; PyYAML's resolver then rebuilds a list
    of candidate patterns for each scalar and checks for path resolvers (which the safe loader
    never has). Resolving from a table made once gives the same tags in a fraction of the time.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                tag = _TAGS.get(value)
                if tag is None:
                    tag = _implicit_tag(value)
                    if len(value) <= _TAG_KEY_CHARS and len(_TAGS) < _TAG_KEYS:
                        _TAGS[value] = tag
                return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    # The composer calls these two around every node for path resolvers, which the safe loader
    # never has. A builtin that does nothing costs a fraction of a Python method that does
    # nothing: `operator.is_(parent, index)` and `tuple()` read nothing and change nothing.
    descend_resolver = staticmethod(operator.is_)  # type: ignore[assignment]
    ascend_resolver = staticmethod(tuple)  # type: ignore[assignment]


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_TYPED = {
    f"tag:yaml.org,2002:{name}": getattr(_CONSTRUCTOR, f"construct_yaml_{name}")
    for name in ("null", "bool", "int", "float")
}


def _bad_key(node: Node) -> LoadError:
    return _error_at(
        "a mapping key must be a string, not a mapping or list (an unrendered template "
        "placeholder such as {{VALUE}}?)",
        node.start_mark,
    )


class _Builder:
    """Nodes -> plain Python objects, the way Kubernetes reads YAML into JSON.

    Keys become strings; timestamps and binary scalars stay the text they were written as
    (Kubernetes objects hold them as strings); other scalars take PyYAML's YAML 1.1 types.
    """

    def __init__(self, careful: bool) -> None:
        self.duplicates: list[tuple[str, Position]] = []
        self.careful = careful
        self._memo: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        self._expanded = 0

    # build and _collection are the only frames per level of nesting (no helper calls, no
    # comprehensions), so MAX_DEPTH levels stay well inside Python's recursion limit.
    def build(self, node: Node, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if depth > MAX_DEPTH:
            raise _error_at(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
        if not self.careful:
            return self._collection(node, depth)
        key = id(node)
        if key in self._memo:
            self._expanded += self._sizes[key]
            if self._expanded > MAX_EXPANSION:
                raise _error_at(
                    f"aliases expand to more than {MAX_EXPANSION:,} nodes; refusing to expand",
                    node.start_mark,
                )
            return self._memo[key]
        before = self._expanded
        obj = self._collection(node, depth)
        self._memo[key] = obj
        self._sizes[key] = self._expanded - before + len(node.value) + 1
        self._expanded += len(node.value) + 1
        return obj

    def _collection(self, node: Node, depth: int) -> Any:
        if isinstance(node, SequenceNode):
            seq: list[Any] = []
            for item in node.value:
                seq.append(self.build(item, depth + 1))
            return seq
        assert isinstance(node, MappingNode)
        out: dict[str, Any] = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.append(self.build(value_node, depth + 1))
                continue
            if key_node.__class__ is not ScalarNode:
                raise _bad_key(key_node)
            key = key_node.value
            if key in out:
                self.duplicates.append((key, _position(key_node)))
            # Most values are plain strings: take them without a call.
            if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                out[key] = value_node.value
            else:
                out[key] = self.build(value_node, depth + 1)
        if merged:
            self._merge(out, merged)
        return out

    @staticmethod
    def _merge(out: dict[str, Any], merged: list[Any]) -> None:
        """YAML 1.1 merge keys (yaml.org/type/merge.html): the mapping's own keys win over
        merged ones wherever they are written, and of a list of merged mappings the earlier
        wins. A key a merge brings in is no duplicate of one written beside it."""
        for value in merged:
            for source in value if isinstance(value, list) else [value]:
                if isinstance(source, dict):
                    for key, item in source.items():
                        out.setdefault(key, item)

    def _scalar(self, node: ScalarNode) -> Any:
        construct = _TYPED.get(node.tag)
        if construct is None:  # strings, timestamps, binary and unknown tags keep their text
            return node.value
        try:
            return construct(node)
        # KeyError: `!!bool x`; IndexError: `!!int ""`, `!!float ""`, `!!int "_"`.
        except (ValueError, KeyError, IndexError, yaml.constructor.ConstructorError):
            raise _error_at(
                f"invalid YAML: {node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                node.start_mark,
            ) from None
