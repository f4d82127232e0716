"""Applying fixes to manifest text, keeping everything the fixes do not touch.

`fix_text` is the whole job without I/O: lint each object, collect its fix operations (one
normalized JSON Patch per object, from the engine) and apply them. `apply_edits` is the second
half alone, for operations that come from elsewhere.

YAML is spliced per document: only the documents that have operations are rewritten, and the
rest of the stream (other documents, `---` separators, directives, comments between documents)
is kept verbatim. A changed document goes through ruamel.yaml in round-trip mode, with the
document's own mapping and sequence indentation and no line wrapping. ruamel still normalizes a
few things on the way (spacing after colons, `~` nulls, some comment placement), so its output
is not used as is: the lines it changed between dumping the document before and after the
operations are carried over onto the original text, and every other line stays the original
one. Every rewritten document is read back with the linter's own loader and must equal the
patched object exactly; a document that does not is left as it was, with a reason.

JSON files are rewritten with `json.dumps` in the file's indentation, merged onto the original
text the same way.
"""

from __future__ import annotations

import io
import json as jsonlib
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from mllint.linter.kustomize import item_is_fragment
from mllint.linter.lint import LineIgnores, comment_ignores, evaluate, items
from mllint.linter.loader import Document, LoadError, load
from mllint.rules import Engine, fix_ops
from mllint.rules import pointer as jp
from mllint.rules.model import Op
from mllint.rules.patch import PatchError, apply, plan

MAX_ROUNDS = 8
"""A fix can expose another finding with a fix; rounds stop when nothing changes."""

WIDTH = 1 << 30
"""ruamel's line width: wide enough that no line is ever re-wrapped."""


@dataclass(frozen=True, slots=True)
class Edit:
    """A JSON Patch for one object of a file.

    `document` is the document's index in the stream; `prefix` the object's pointer within the
    document (`""`, or `/items/N` for an item of a `kind: List`); `ops` are relative to the
    object.
    """

    document: int
    prefix: str
    ops: tuple[Op, ...]


@dataclass(frozen=True, slots=True)
class Fixed:
    """The new text, and why any document that had fixes was left as it was."""

    text: str
    skipped: tuple[str, ...] = ()


class FixError(Exception):
    """A document whose fixes cannot be written back faithfully."""


def plan_edits(
    documents: Iterable[Document],
    engine: Engine,
    *,
    unsafe: bool,
    ignores: LineIgnores,
    fragment: bool | None = False,
) -> tuple[list[Edit], list[str]]:
    """The edits the engine's fixes make to each object, and objects whose fixes are invalid."""
    edits: list[Edit] = []
    problems: list[str] = []
    for doc in documents:
        for item in items(doc.obj):
            partial = item_is_fragment(fragment, item.obj)
            findings = [f for f, _ in evaluate(engine, doc, item, ignores, fragment=partial)]
            failed: list[str] = []
            ops = fix_ops(item.obj, findings, unsafe=unsafe, problems=failed)
            problems += [f"document {doc.index + 1}: fix not applied: {p}" for p in failed]
            if ops:
                edits.append(Edit(doc.index, item.prefix, tuple(ops)))
    return edits, problems


def fix_text(
    text: str,
    engine: Engine,
    *,
    unsafe: bool,
    json: bool,
    extra: Sequence[Edit] = (),
    fragment: bool | None = False,
) -> Fixed:
    """`text` with the fixes of its findings applied (safe ones unless `unsafe`), and the
    `extra` edits made against this same text (the whole-set rules' fixes). A `fragment` (a
    kustomize patch) gets only the fixes of rules that judge fragments.

    Raises LoadError when the text cannot be read; it is then left to the caller untouched.
    """
    skipped: dict[str, None] = {}
    for _ in range(MAX_ROUNDS):
        documents = list(load(text))
        edits, problems = plan_edits(
            documents, engine, unsafe=unsafe, ignores=comment_ignores(text), fragment=fragment
        )
        edits, extra = [*extra, *edits], ()
        skipped.update(dict.fromkeys(problems))
        if not edits:
            break
        result = apply_edits(text, edits, json=json, documents=documents)
        skipped.update(dict.fromkeys(result.skipped))
        if result.text == text:
            break
        text = result.text
    return Fixed(text, tuple(skipped))


def apply_edits(
    text: str,
    edits: Sequence[Edit],
    *,
    json: bool,
    documents: Sequence[Document] | None = None,
) -> Fixed:
    """`text` with `edits` applied; `documents` are `load(text)` when the caller has them."""
    newline = _newline(text)
    if newline != "\n":
        text = text.replace(newline, "\n")
        documents = None  # positions were counted with the other line breaks
    docs = list(load(text)) if documents is None else list(documents)
    by_doc: dict[int, list[list[Op]]] = {}
    for edit in edits:
        by_doc.setdefault(edit.document, []).append([_prefixed(op, edit.prefix) for op in edit.ops])
    skipped: list[str] = []
    patches: dict[int, list[Op]] = {}
    for index, fixes in sorted(by_doc.items()):
        if not 0 <= index < len(docs):
            skipped.append(f"document {index + 1}: no such document")
            continue
        failed: list[str] = []
        ops = plan(docs[index].obj, fixes, failed)
        skipped += [f"document {index + 1}: fixes not applied: {p}" for p in failed]
        if ops:
            patches[index] = ops
    if not patches:
        new = text
    elif json:
        new = _fix_json(text, docs, patches, skipped)
    else:
        new = _fix_yaml(text, docs, patches, skipped)
    if newline != "\n":
        new = new.replace("\n", newline)
    return Fixed(new, tuple(skipped))


def _newline(text: str) -> str:
    """The line break of a file written with one kind only: CRLF (Windows), CR (classic Mac
    OS) or LF; the fixed text keeps it. Mixed files are left mixed, with new lines in LF."""
    if "\r" not in text:
        return "\n"
    if "\n" not in text:
        return "\r"
    return "\r\n" if text.count("\r\n") == text.count("\n") else "\n"


def _prefixed(op: Op, prefix: str) -> Op:
    out = dict(op, path=prefix + op["path"])
    if "from" in out:
        out["from"] = prefix + out["from"]
    return out


# YAML


def _fix_yaml(
    text: str, docs: Sequence[Document], patches: dict[int, list[Op]], skipped: list[str]
) -> str:
    spans = _spans(text)
    expected = [doc.obj for doc in docs]
    new = text
    for index in sorted(patches, reverse=True):  # later spans first: earlier offsets stay valid
        start, end = spans[index]
        target = _patched(docs[index].obj, patches[index])
        try:
            body = _rewrite(
                text[start:end], docs[index].node, patches[index], target, [d.node for d in docs]
            )
        except FixError as exc:
            skipped.append(f"document {index + 1}: fixes not applied: {exc}")
            continue
        new = new[:start] + body + new[end:]
        expected[index] = target
    if new != text and not _reads_as(new, expected):
        skipped.append("fixes not applied: the fixed file would not read back as intended")
        return text
    return new


def _patched(obj: Any, ops: Sequence[Op]) -> Any:
    return apply(obj, ops)


def _spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each document's content: from its first node to the end of the line of
    its last one. Directives, `---`, `...` and comments around the content are outside."""
    spans: list[tuple[int, int]] = []
    start = end = -1
    flow: list[bool] = []
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            start = -1
        elif isinstance(event, yaml.DocumentEndEvent):
            spans.append((_line_start(text, start), _line_end(text, end)))
        elif isinstance(event, yaml.NodeEvent):
            if start < 0:
                start = _offset(event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                flow.append(bool(event.flow_style))
            else:
                end = _offset(event.end_mark)
        elif isinstance(event, yaml.CollectionEndEvent) and flow.pop():
            end = _offset(event.end_mark)
    return spans


def _offset(mark: Any) -> int:
    """A parser mark's character offset (libyaml counts characters, as Python strings do)."""
    return int(mark.index) if mark is not None else 0


def _line_start(text: str, index: int) -> int:
    """The start of `index`'s line when only blanks precede it there (`--- &anchor` does not)."""
    begin = text.rfind("\n", 0, index) + 1
    return begin if not text[begin:index].strip() else index


def _line_end(text: str, index: int) -> int:
    """Past the line break of the line `index` is on (a block scalar ends at a line start)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _rewrite(
    body: str, node: Node, ops: Sequence[Op], target: Any, file: Sequence[Node] = ()
) -> str:
    """The document `body` with `ops` applied, read back and checked against `target`;
    `file` holds every document's node, for the layout of a document that does not show it."""
    layout = _layout(node, file)
    source = body if body.endswith("\n") else body + "\n"
    # Without a final line break a last block scalar reads as `|-` and is written so: right
    # when fixes add lines after it, needless otherwise; so it is read with one first.
    for text in dict.fromkeys((source, body)):
        before, after = _emit(text, layout, ops)
        for candidate in _candidates(source, before, after):
            fixed = candidate if source == body else candidate.removesuffix("\n")
            if _reads_as(fixed, [target]):
                return fixed
    raise FixError("the rewritten document would not read back as intended")


def _emit(text: str, layout: tuple[int, int, int], ops: Sequence[Op]) -> tuple[str, str]:
    """ruamel's round trip of `text`, before and after the operations."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = WIDTH
    mapping, sequence, offset = layout
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        data = rt.load(text)
        before = _dump(rt, data)
        for op in ops:
            _apply(data, op)
        return before, _dump(rt, data)
    except DuplicateKeyError:
        raise FixError(
            "a mapping holds the same key twice (duplicate-key); fix that first"
        ) from None
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).strip() or type(exc).__name__
        raise FixError(f"cannot rewrite the document: {problem.splitlines()[0][:200]}") from None
    except (KeyError, IndexError, TypeError) as exc:
        raise FixError(f"cannot apply the fixes to the document as written ({exc!r})") from None
    except RecursionError:
        raise FixError("the document nests too deep to be rewritten") from None
    except Exception as exc:  # ruamel meets YAML it cannot represent again (`!!set`, ...)
        raise FixError(f"cannot rewrite the document ({type(exc).__name__}: {exc})") from None


def _dump(rt: Any, data: Any) -> str:
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


FLIPS = 16
"""How many stretches of re-emitted lines are tried in place of the original ones when the
plain merge does not read back as intended."""


def _candidates(original: str, before: str, after: str) -> Iterator[str]:
    """Texts to try, best first: `after`'s changes carried onto the original lines (with and
    without moving insertions above trailing comments), then with more and more of ruamel's
    lines near the changes, then `after` itself."""
    orig, base, new = (t.splitlines(keepends=True) for t in (original, before, after))
    seen: set[str] = set()

    def fresh(text: str) -> bool:
        if text in seen:
            return False
        seen.add(text)
        return True

    sliding = _Merge(orig, base, new, slide=True)
    for text in (sliding.render(set()), _Merge(orig, base, new, slide=False).render(set())):
        if fresh(text):
            yield text
    flipped: set[int] = set()
    for gap in sliding.gaps_by_distance()[:FLIPS]:
        flipped.add(gap)
        text = sliding.render(flipped)
        if fresh(text):
            yield text
    if fresh(after):
        yield after


class _Merge:
    """Three-way merge: the changes from `base` to `new`, carried onto `orig`, where `base` is
    `orig` as ruamel re-emits it.

    A line of `base` equal to its counterpart in `orig` is an anchor. The stretches between
    anchors (gaps) are ruamel's rewording of `orig` lines; a gap keeps the `orig` lines unless
    a change falls inside it, or it is asked for by `render`'s `flip`.
    """

    def __init__(self, orig: list[str], base: list[str], new: list[str], *, slide: bool) -> None:
        self.orig, self.base = orig, base
        if orig == base:
            self.b2o = {i: i for i in range(len(base))}
        else:
            matcher = SequenceMatcher(None, orig, base, autojunk=False)
            self.b2o = {
                b + k: o + k for o, b, size in matcher.get_matching_blocks() for k in range(size)
            }
        n = len(base)
        self.keep = [False] * n
        self.ins: list[list[str]] = [[] for _ in range(n + 1)]  # new lines before base[i]
        matcher = SequenceMatcher(None, base, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                self.keep[i1:i2] = [True] * (i2 - i1)
            else:
                self.ins[i1] += new[j1:j2]
        if slide:
            self._slide()

    def _slide(self) -> None:
        keep, ins, n = self.keep, self.ins, len(self.base)
        for p in range(1, n + 1):
            if not ins[p] or (p < n and not keep[p]):
                continue  # only pure insertions move
            at = p
            while (
                at > 0
                and keep[at - 1]
                and not ins[at - 1]
                and _trails(self.base[at - 1], ins[p][0])
            ):
                at -= 1
            if at != p:
                ins[at], ins[p] = ins[p], []

    def _gaps(self) -> list[tuple[int, int]]:
        gaps: list[tuple[int, int]] = []
        i, n = 0, len(self.base)
        while i < n:
            if i in self.b2o:
                i += 1
                continue
            start = i
            while i < n and i not in self.b2o:
                i += 1
            gaps.append((start, i))
        return gaps

    def _changed(self, start: int, stop: int) -> bool:
        return not all(self.keep[start:stop]) or any(self.ins[start + 1 : stop])

    def gaps_by_distance(self) -> list[int]:
        """Starts of the unchanged gaps, nearest to a change first."""
        changes = [i for i in range(len(self.base) + 1) if self.ins[i]]
        changes += [i for i, kept in enumerate(self.keep) if not kept]
        if not changes:
            return []
        unchanged = [(a, b) for a, b in self._gaps() if not self._changed(a, b)]
        return [
            a for a, b in sorted(unchanged, key=lambda g: min(_distance(g, c) for c in changes))
        ]

    def render(self, flip: set[int]) -> str:
        orig, base, keep, ins, b2o = self.orig, self.base, self.keep, self.ins, self.b2o
        out: list[str] = []
        o = i = 0  # next line of orig and of base to place
        n = len(base)
        while i < n:
            if i in b2o:
                k = b2o[i]
                out += orig[o:k]  # lines only orig has
                out += ins[i]
                if keep[i]:
                    out.append(orig[k])
                o, i = k + 1, i + 1
                continue
            start = i
            while i < n and i not in b2o:
                i += 1
            stop = b2o[i] if i < n else len(orig)
            if start in flip or self._changed(start, i):
                for x in range(start, i):
                    out += ins[x]
                    if keep[x]:
                        out.append(base[x])
            else:
                out += ins[start]
                out += orig[o:stop]
            o = stop
        out += ins[n]
        out += orig[o:]
        return "".join(out)


def _distance(gap: tuple[int, int], at: int) -> int:
    start, stop = gap
    return 0 if start <= at <= stop else min(abs(at - start), abs(at - stop))


def _trails(line: str, inserted: str) -> bool:
    """A blank line, or a comment no deeper than the inserted lines: it belongs to what comes
    after, so new entries go above it (ruamel puts them below)."""
    stripped = line.strip()
    if not stripped:
        return True
    return stripped.startswith("#") and _indent(line) <= _indent(inserted)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _layout(root: Node, file: Sequence[Node] = ()) -> tuple[int, int, int]:
    """ruamel's (mapping, sequence, offset) indentation, as most lines of the document have it;
    where the document has no nested mapping or no block list to tell, as the other documents
    of its `file` have it (an autoscaler without lists beside a Deployment whose lists are
    indented gets its new lists indented too).

    Mapping indent: a nested key's column relative to its parent key. Sequence: the item's
    column and the dash's column relative to the parent key (`containers:\n- name` is (2, 0),
    `containers:\n  - name` is (4, 2)).
    """
    maps, seqs = _indents(root)
    if not (maps and seqs):
        for other in file:
            if other is not root:
                more_maps, more_seqs = _indents(other)
                maps = maps or more_maps
                seqs = seqs or more_seqs
    mapping = maps.most_common(1)[0][0] if maps else 2
    sequence, offset = seqs.most_common(1)[0][0] if seqs else (mapping, 0)
    if mapping < 1 or offset < 0 or sequence < offset + 2:
        return 2, 2, 0
    return mapping, sequence, offset


def _indents(root: Node) -> tuple[Counter[int], Counter[tuple[int, int]]]:
    """How many lines of a document have each mapping indent and each (sequence, offset)."""
    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        if not isinstance(node, MappingNode):
            continue
        for key, value in reversed(node.value):
            stack.append(value)
            if node.flow_style or not value.value:
                continue
            col, line = key.start_mark.column, key.start_mark.line
            # An alias's node carries the marks of its anchor, which come before the key.
            if value.start_mark.index < key.start_mark.index:
                continue
            lines = value.end_mark.line - value.start_mark.line + 1
            if isinstance(value, MappingNode) and not value.flow_style:
                first = value.value[0][0].start_mark
                if first.line > line:
                    maps[first.column - col] += lines
            elif isinstance(value, SequenceNode) and not value.flow_style:
                dash, first = value.start_mark, value.value[0].start_mark
                if dash.line > line and first.line == dash.line:
                    seqs[(first.column - col, dash.column - col)] += lines
    return maps, seqs


_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def _resolves_to(plain: str) -> str:
    """The tag YAML 1.1 gives `plain` written unquoted."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, plain, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _node(value: Any) -> Any:
    """A new value as ruamel emits it: block collections, and strings quoted where YAML 1.1
    (which Kubernetes reads) would take them for something else (`on`, `yes`, `0755`)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        return CommentedMap((_node(k), _node(v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(_node(v) for v in value)
    if isinstance(value, str) and _resolves_to(value) != _STR:
        return DoubleQuotedScalarString(value)
    return value


def _apply(data: Any, op: Op) -> None:
    """Apply one normalized operation to ruamel's round-trip containers, in place."""
    from ruamel.yaml.scalarstring import ScalarString

    kind = op["op"]
    if kind == "move":
        moved = _resolve(data, op["from"])
        _apply(data, {"op": "remove", "path": op["from"]})
        _insert(data, op["path"], moved)
        return
    if kind not in ("add", "replace", "remove"):
        raise FixError(f"unsupported patch operation {kind!r}")
    tokens = jp.split(op["path"])
    if not tokens:
        raise FixError("operations on the whole document are not supported")
    parent = _resolve(data, "".join("/" + jp.escape(t) for t in tokens[:-1]))
    token = tokens[-1]
    if kind == "remove":
        if isinstance(parent, dict):
            del parent[_key(parent, token)]
        else:
            del parent[_index(parent, token, op["path"])]
        return
    value = _node(op["value"])
    if kind == "replace":
        at = _key(parent, token) if isinstance(parent, dict) else _index(parent, token, op["path"])
        old = parent[at]
        if isinstance(old, ScalarString) and isinstance(value, str):
            value = type(old)(value)  # keep the quoting the file chose for this field
        parent[at] = value
        return
    _insert(data, op["path"], value)


def _insert(data: Any, path: str, value: Any) -> None:
    tokens = jp.split(path)
    parent = _resolve(data, "".join("/" + jp.escape(t) for t in tokens[:-1]))
    token = tokens[-1]
    value = _like_siblings(parent, value)
    if isinstance(parent, dict):
        parent[_key(parent, token)] = value  # a new key goes at the end of its mapping
    elif token == "-":
        parent.append(value)
    else:
        index = _index(parent, token, path, insert=True)
        parent.insert(index, value)


def _like_siblings(container: Any, value: Any) -> Any:
    """A new plain string, quoted as every string beside it is (`args: ["a", "b"]`)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if type(value) is not str:
        return value
    siblings = container.values() if isinstance(container, dict) else container
    styles = {type(v) for v in siblings if isinstance(v, str)}
    if len(styles) == 1:
        style = styles.pop()
        if style in (DoubleQuotedScalarString, SingleQuotedScalarString):
            return style(value)
    return value


def _resolve(data: Any, pointer: str) -> Any:
    node = data
    for token in jp.split(pointer):
        if isinstance(node, dict):
            node = node[_key(node, token)]
        elif isinstance(node, list):
            node = node[_index(node, token, pointer)]
        else:
            raise FixError(f"{pointer}: not a mapping or a list")
    return node


def _key(mapping: dict[Any, Any], token: str) -> Any:
    """The key of `mapping` the token names: keys the loader read as text may be ints or
    booleans for ruamel (`1:`)."""
    if token in mapping:
        return token
    for key in mapping:
        if not isinstance(key, str) and str(key).lower() == token.lower():
            return key
    return token


def _index(seq: list[Any], token: str, pointer: str, *, insert: bool = False) -> int:
    if not token.isdigit() or int(token) > len(seq) - (0 if insert else 1):
        raise FixError(f"{pointer}: no such list item")
    return int(token)


def _reads_as(text: str, expected: Sequence[Any]) -> bool:
    """Whether the linter's loader reads `text` as exactly the `expected` documents."""
    try:
        found = [doc.obj for doc in load(text)]
    except LoadError:
        return False
    return len(found) == len(expected) and all(map(_same, found, expected))


def _same(a: Any, b: Any) -> bool:
    """Equality that tells `1` from `True` and `1.0` (Python's `==` does not), and where a
    NaN equals a NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# JSON


def _fix_json(
    text: str, docs: Sequence[Document], patches: dict[int, list[Op]], skipped: list[str]
) -> str:
    try:
        obj = jsonlib.loads(text)
    except ValueError as exc:
        skipped.append(f"fixes not applied: not a single JSON document ({exc})")
        return text
    if len(docs) != 1 or list(patches) != [0]:
        skipped.append("fixes not applied: not a single JSON document")
        return text
    try:
        target = _patched(obj, patches[0])
    except (PatchError, KeyError, IndexError) as exc:
        skipped.append(f"fixes not applied: {exc}")
        return text
    indent, separators = _json_layout(text)
    ascii_only = text.isascii()

    def dumps(value: Any) -> str:
        return jsonlib.dumps(value, indent=indent, separators=separators, ensure_ascii=ascii_only)

    newline = text.endswith("\n")
    original = text if newline else text + "\n"
    for candidate in _candidates(original, dumps(obj) + "\n", dumps(target) + "\n"):
        fixed = candidate if newline else candidate.removesuffix("\n")
        try:
            if _same(jsonlib.loads(fixed), target):
                return fixed
        except ValueError:
            continue
    skipped.append("fixes not applied: the fixed JSON would not read back as intended")
    return text


def _json_layout(text: str) -> tuple[str | int | None, tuple[str, str]]:
    """The indentation (smallest indent of an inner line; None for one-line JSON) and the
    separators the file uses."""
    indents = [
        line[: len(line) - len(line.lstrip(" \t"))]
        for line in text.strip().splitlines()[1:]
        if line.strip()
    ]
    indents = [i for i in indents if i]
    if not indents:
        return None, (", " if ", " in text else ",", ": " if '": ' in text else ":")
    smallest = min(indents, key=len)
    indent: str | int = len(smallest) if set(smallest) == {" "} else smallest
    return indent, (",", ": " if '": ' in text else ":")
