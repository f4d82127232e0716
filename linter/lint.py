"""Linting files: read, decode, run the engine per object, place each finding at file:line:col."""

from __future__ import annotations

import bisect
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mllint.linter.kustomize import fragment_of, item_is_fragment
from mllint.linter.loader import Document, LoadError, Position, decode, load
from mllint.rules import Engine, Finding
from mllint.rules.catalog import DUPLICATE_KEY, SUPPRESSION_INVALID, YAML_INVALID
from mllint.rules.config import closest
from mllint.rules.model import Frozen, Record, Regex, set_field
from mllint.rules.setrules import Collector

STDIN = "-"


class Located(Frozen):
    """A finding placed in a file (line and column are 1-based; 0 when there is no position)."""

    __slots__ = _fields = ("finding", "file", "line", "column", "source")

    finding: Finding
    file: str
    line: int
    column: int
    source: str | None
    """The chart template a document of `helm template` output came from (its `# Source:`)."""

    def __init__(
        self, finding: Finding, file: str, line: int, column: int, source: str | None = None
    ) -> None:
        set_field(self, "finding", finding)
        set_field(self, "file", file)
        set_field(self, "line", line)
        set_field(self, "column", column)
        set_field(self, "source", source)


class FileReport(Record):
    __slots__ = _fields = (
        "path",
        "findings",
        "documents",
        "objects",
        "skipped",
        "failed",
        "note",
        "unwritable",
    )
    path: str
    findings: list[Located]
    documents: int
    objects: int
    skipped: int
    """Documents that are not Kubernetes objects (no apiVersion or kind): Helm values, say."""
    failed: bool
    """The file could not be read or parsed to its end."""
    note: str | None
    """Why the file was not linted although it was read: an unrendered template."""
    unwritable: bool
    """`--fix` had fixes for the file but could not write them (a read-only file, say)."""

    def __init__(
        self,
        path: str,
        findings: list[Located] | None = None,
        documents: int = 0,
        objects: int = 0,
        skipped: int = 0,
        *,
        failed: bool = False,
        note: str | None = None,
        unwritable: bool = False,
    ) -> None:
        self.path = path
        self.findings = [] if findings is None else findings
        self.documents = documents
        self.objects = objects
        self.skipped = skipped
        self.failed = failed
        self.note = note
        self.unwritable = unwritable


class Item(Frozen):
    """One Kubernetes object of a document: the whole document, or an item of a `kind: List`."""

    __slots__ = _fields = ("obj", "prefix")

    obj: dict[str, Any]
    prefix: str

    def __init__(self, obj: dict[str, Any], prefix: str) -> None:
        set_field(self, "obj", obj)
        set_field(self, "prefix", prefix)


def is_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("apiVersion")) and bool(value.get("kind"))


def items(doc: Any) -> Iterator[Item]:
    """The objects of a document; a `kind: List` (kubectl's `v1/List`) yields its items."""
    if not is_object(doc):
        return
    if doc["kind"] == "List" and isinstance(doc.get("items"), list):
        for index, item in enumerate(doc["items"]):
            if is_object(item):
                yield Item(item, f"/items/{index}")
        return
    yield Item(doc, "")


MAX_FILE_BYTES = 64 << 20
"""Larger input is refused unread: the API server takes requests of at most 3 MiB, and an
endless source (`/dev/zero`, a runaway pipe) must end in a message, not in exhausted memory."""


@functools.cache
def _stdin() -> bytes:
    # Stdin can be read once; whole-set findings need a second look at it.
    return sys.stdin.buffer.read(MAX_FILE_BYTES + 1)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
"""Bytes as they are on disk (O_BINARY: Windows would otherwise translate line endings)."""


def read(path: str) -> bytes:
    if path == STDIN:
        data = _stdin()
    else:
        # A file descriptor rather than a file object: a run reads every file once, whole.
        fd = os.open(path, _READ_FLAGS)
        try:
            # Sized from the file: a read of the limit would allocate the limit for every file.
            size = os.fstat(fd).st_size
            data = _read_up_to(fd, min(size, MAX_FILE_BYTES) + 1)
            if len(data) > size:  # it grew, or has no size (a pipe, a device): up to the limit
                data += _read_up_to(fd, MAX_FILE_BYTES + 1 - len(data))
        finally:
            os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(
            f"larger than {MAX_FILE_BYTES >> 20} MiB; Kubernetes manifests are far smaller"
        )
    return data


def _read_up_to(fd: int, size: int) -> bytes:
    """`size` bytes from `fd`, or fewer at its end."""
    data = os.read(fd, size)
    if not data or len(data) == size:
        return data
    parts = [data]
    while size := size - len(data):
        data = os.read(fd, size)
        if not data:
            break
        parts.append(data)
    return b"".join(parts)


def describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"cannot read file: {reason}"


class Ref(Frozen):
    """Where an object of a run is: its file, document, and `kind: List` item prefix."""

    __slots__ = _fields = ("path", "document", "prefix")

    path: str
    document: int
    prefix: str

    def __init__(self, path: str, document: int, prefix: str) -> None:
        set_field(self, "path", path)
        set_field(self, "document", document)
        set_field(self, "prefix", prefix)


def lint_file(
    path: str, engine: Engine, data: bytes | None = None, collector: Collector[Ref] | None = None
) -> FileReport:
    report = FileReport(path)
    chart = chart_of(path)
    if chart is not None:
        report.note = template_note(chart)
        return report
    try:
        raw = read(path) if data is None else data
    except (OSError, LoadError) as exc:
        message = exc.message if isinstance(exc, LoadError) else describe_os_error(exc)
        _meta(report, engine, YAML_INVALID, message, Position(0, 0))
        report.failed = True
        return report
    fragment = fragment_of(path)
    text = ""
    try:
        text = decode(raw)
        ignores = comment_ignores(text)
        sources = Sources(text)
        for doc in load(text):
            lint_document(
                report,
                engine,
                doc,
                ignores,
                collector,
                source=sources.of(doc),
                fragment=fragment,
            )
    except LoadError as exc:
        if _PLACEHOLDER.search(text):
            return FileReport(path, note=template_note(None))
        if _FIELD.search(text):
            return FileReport(path, note=FIELD_NOTE)
        _meta(report, engine, YAML_INVALID, exc.message, Position(exc.line, exc.column))
        report.failed = True
    except Exception as exc:  # one file's surprise must not sink the run
        _meta(report, engine, YAML_INVALID, unexpected(exc, "read"), Position(0, 0))
        report.failed = True
    return report


_PLACEHOLDER = Regex(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_FIELD = Regex(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
"""`{username}`: a `str.format` field a document's reader fills in before applying it."""
FIELD_NOTE = (
    "holds {name} placeholders and is not YAML until they are filled in; lint the file that "
    "is applied"
)


def chart_of(path: str) -> str | None:
    """The chart folder of a file in a Helm chart's `templates/` folder (at any depth below
    it, as `templates/tests/`), else None."""
    if path == STDIN or "templates" not in path:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        parent = os.path.dirname(folder)
        if os.path.basename(folder) == "templates" and os.path.isfile(
            os.path.join(parent, "Chart.yaml")
        ):
            return relative(parent)
        if parent == folder:
            return None
        folder = parent


def template_note(chart: str | None) -> str:
    if chart is not None:
        return (
            "a Helm chart template, not linted before it is rendered; lint the chart's output: "
            f"helm template {chart} | mllint -"
        )
    return (
        "holds {{ ... }} template placeholders and is not YAML until rendered; lint the "
        "rendered output instead, such as: helm template CHART | mllint -"
    )


class Sources:
    """The `# Source: chart/templates/x.yaml` comments `helm template` puts at the top of each
    document, so that findings in its output name the template they came from."""

    _COMMENT = Regex(r"^# Source: (\S.*?)[ \t]*$", re.M)

    def __init__(self, text: str) -> None:
        self._lines: list[int] = []
        self._names: list[str] = []
        self._previous = 0
        if "# Source: " not in text:
            return
        line, at = 1, 0
        for match in self._COMMENT.finditer(text):
            line += text.count("\n", at, match.start())
            at = match.start()
            self._lines.append(line)
            self._names.append(match[1])

    def of(self, doc: Document) -> str | None:
        """The source of a document: a comment between the previous document's start and its
        own. Documents must be asked for in order."""
        start = doc.start.line
        found = None
        if self._lines:
            index = bisect.bisect_right(self._lines, start) - 1
            if index >= 0 and self._lines[index] > self._previous:
                found = self._names[index]
        self._previous = start
        return found


def unexpected(exc: BaseException, doing: str) -> str:
    """What an error nobody expected says in a report: the exception, in one line."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    name = type(exc).__name__
    return (
        f"could not be {doing}: {name}{': ' + detail if detail else ''} "
        "(an mllint bug: please report it with this file)"
    )


def lint_document(
    report: FileReport,
    engine: Engine,
    doc: Document,
    ignores: LineIgnores | None = None,
    collector: Collector[Ref] | None = None,
    *,
    source: str | None = None,
    fragment: bool | None = False,
) -> None:
    """Lint one document; a `fragment` (a kustomize patch) is judged only by rules about the
    values it writes, and is no object of its set. None: a fragment when it is incomplete
    (a file named for a patch)."""
    report.documents += 1
    for key, where in doc.duplicates:
        _meta(
            report,
            engine,
            DUPLICATE_KEY,
            f"duplicate key {key!r}: the later value silently replaces the earlier one, "
            "and kubectl rejects the object; keep one",
            where,
        )
    found = False
    for item in items(doc.obj):
        found = True
        report.objects += 1
        partial = item_is_fragment(fragment, item.obj)
        # One subject for the whole-set summary and the rules: its pods and traits are derived
        # once.
        subject = engine.subject(item.obj, fragment=partial)
        if collector is not None and not partial:
            collector.add(
                item.obj, Ref(report.path, doc.index, item.prefix), set_of(report.path), subject
            )
        try:
            placed = list(_placed(engine, doc, item.prefix, engine.judge(subject), ignores or {}))
        except Exception as exc:  # this object gets an error finding; the others are linted
            _meta(report, engine, YAML_INVALID, unexpected(exc, "linted"), doc.locate(item.prefix))
            report.failed = True
            continue
        for finding, where in placed:
            report.findings.append(Located(finding, report.path, where.line, where.column, source))
    if not found and doc.obj is not None:
        report.skipped += 1
    if ignores and doc.index == 0:
        for line, names in ignores.items():
            if not names:
                _meta(
                    report,
                    engine,
                    SUPPRESSION_INVALID,
                    "comment names no rule inside the brackets, so it suppresses nothing; name "
                    "the rules (`# mllint: ignore[ML101]`), or drop the brackets to suppress "
                    "every rule on the line",
                    Position(line, 1),
                )
            for name in names - {EVERY_RULE}:
                if engine.registry.get(name) is None:
                    _meta(
                        report,
                        engine,
                        SUPPRESSION_INVALID,
                        f"comment names no rule: {name!r}{closest(name, engine.rule_names())}",
                        Position(line, 1),
                    )


LineIgnores = dict[int, frozenset[str]]
"""Rule codes and names suppressed by a `# mllint: ignore[...]` comment, by line; a bare
`# mllint: ignore` holds EVERY_RULE, and empty brackets hold nothing (and are reported)."""

EVERY_RULE = "*"
_IGNORE_COMMENT = Regex(r"#\s*mllint:\s*ignore(?:\[([^\]]*)\]|(?![\w\[-]))")


def comment_ignores(text: str) -> LineIgnores:
    """The `# mllint: ignore[CODE, name, ...]` and bare `# mllint: ignore` comments of a file,
    by 1-based line. A bare one suppresses every rule on its line, as `# noqa` does."""
    if "mllint:" not in text:
        return {}
    found: LineIgnores = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _IGNORE_COMMENT.search(line)
        if match:
            named = match.group(1)
            found[number] = (
                frozenset({EVERY_RULE})
                if named is None
                else frozenset(n.strip() for n in named.split(",") if n.strip())
            )
    return found


def evaluate(
    engine: Engine, doc: Document, item: Item, ignores: LineIgnores, *, fragment: bool = False
) -> Iterator[tuple[Finding, Position]]:
    """The findings of one object with their positions, less those a comment on their line
    suppresses (comments are the linter's own suppression: they never reach a webhook)."""
    findings = engine.evaluate(item.obj, fragment=fragment)
    return _placed(engine, doc, item.prefix, findings, ignores)


def _placed(
    engine: Engine, doc: Document, prefix: str, findings: Iterable[Finding], ignores: LineIgnores
) -> Iterator[tuple[Finding, Position]]:
    for finding in findings:
        where = doc.locate(prefix + finding.pointer)
        names = ignores.get(where.line)
        if (
            names
            and (EVERY_RULE in names or finding.code in names or finding.rule in names)
            and engine.config.allow_suppression
        ):
            continue
        yield finding, where


def set_of(path: str) -> str:
    """The set a file's objects belong to for the whole-set rules: its directory. Objects in
    other directories are never paired with them, so a file gives the same findings whichever
    directory a run starts from (docs/operators.md, "Whole-set rules")."""
    if path == STDIN:
        return STDIN
    return _absolute(os.path.dirname(path), os.getcwd())


# A run asks for the set of each object and each file, most of them in the folder asked for last:
# the folder made absolute once, not each time.
@functools.lru_cache(maxsize=4096)
def _absolute(folder: str, cwd: str) -> str:
    return os.path.abspath(folder)


def set_findings(
    collector: Collector[Ref], source: Callable[[str], bytes]
) -> Iterator[tuple[Ref, Finding, Position, str | None]]:
    """The whole-set rules' findings of a run, each placed in its file.

    Files are read again (from `source`) only when they hold such a finding, so a run never
    keeps every file's text or node tree in memory.
    """
    return place(collector.findings(), collector.engine, source)


def place(
    found: Iterable[tuple[Ref, Finding]], engine: Engine, source: Callable[[str], bytes]
) -> Iterator[tuple[Ref, Finding, Position, str | None]]:
    """Whole-set findings placed in their files (read from `source`), file by file."""
    by_path: dict[str, list[tuple[Ref, Finding]]] = {}
    for ref, finding in found:
        by_path.setdefault(ref.path, []).append((ref, finding))
    for path, held in by_path.items():
        try:
            text = decode(source(path))
            documents = list(load(text))
        except (OSError, LoadError):
            continue  # the file changed under us; its own lint reported what it could
        ignores = comment_ignores(text)
        sources = Sources(text)
        origins = [sources.of(doc) for doc in documents]
        for ref, finding in held:
            if ref.document < len(documents):
                doc = documents[ref.document]
                for placed, where in _placed(engine, doc, ref.prefix, [finding], ignores):
                    yield ref, placed, where, origins[ref.document]


def add_set_findings(
    reports: list[FileReport], collector: Collector[Ref], source: Callable[[str], bytes]
) -> None:
    """Append the whole-set rules' findings to the reports of the files they are in."""
    if not collector.active:
        return
    by_path = {r.path: r for r in reports}
    for ref, finding, where, origin in set_findings(collector, source):
        report = by_path.get(ref.path)
        if report is not None:
            report.findings.append(Located(finding, report.path, where.line, where.column, origin))


def _meta(report: FileReport, engine: Engine, rule: Any, message: str, where: Position) -> None:
    finding = engine.meta_finding(rule, message)
    if finding is not None:
        report.findings.append(Located(finding, report.path, where.line, where.column))


def lint_lost(path: str, engine: Engine) -> FileReport:
    """The report of a file whose worker process died before it could say anything."""
    report = FileReport(path, failed=True)
    message = (
        "not linted: the worker process reading this file or another of its batch died "
        "(out of memory?); run again with --jobs 1 to see which file it was"
    )
    _meta(report, engine, YAML_INVALID, message, Position(0, 0))
    return report


def named(report: FileReport, stdin_name: str | None) -> FileReport:
    """The report of stdin under the name `--stdin-filename` gives it."""
    if report.path == STDIN and stdin_name:
        report.path = stdin_name
        report.findings = [f.replace(file=stdin_name) for f in report.findings]
    return report


def relative(path: str) -> str:
    if path == STDIN:
        return "<stdin>"
    return _relative(path, os.getcwd())


# Reports name a file once per finding; relpath is slow enough to show in a large run.
@functools.lru_cache(maxsize=4096)
def _relative(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
