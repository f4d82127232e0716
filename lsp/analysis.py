"""What the language server knows about a file, without the protocol: the findings `mllint FILE`
gives for an editor's text, placed as ranges; the whole-set findings of its workspace folder; the
fixes, suppression comments and rule docs offered on them.

Findings come from the linter's own `lint_file` run on the editor's text with the nearest
configuration, so they are those of the command line; the text is then read once more to turn
each finding's place into a range (`Document.span`) and to know the object its fix applies to.
Whole-set rules judge the files of the workspace folder that share the file's configuration, as
`mllint FOLDER` does: each file's summaries are kept and made again only when its text (for a
file open in the editor) or its modification time and size (for one on disk) change.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mllint.linter import discover, lint
from mllint.linter.configfile import CONFIG_NAMES, Configs, LoadedConfig
from mllint.linter.docgen import sections
from mllint.linter.fix import Edit, apply_edits, fix_text
from mllint.linter.fixcmd import is_json
from mllint.linter.kustomize import fragment_of, item_is_fragment
from mllint.linter.loader import Document, LoadError, Position, load
from mllint.rules import REGISTRY, ConfigError, Engine, Finding, Rule, Safety, fix_ops
from mllint.rules import pointer as jp
from mllint.rules.engine import Registry
from mllint.rules.setrules import Collector, SetIndex, related

CONFIG_FILES = (*CONFIG_NAMES, "pyproject.toml")
"""Files whose change can change any file's configuration."""

REASON = "<reason>"
"""The placeholder a suppression comment is written with, for the author to replace."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A finding of the file with its range: 1-based lines and columns (counted in characters),
    the end just past the last character. `document` and `prefix` name the object it is in
    (None: it is about the file, not an object)."""

    finding: Finding
    start: Position
    end: Position
    document: int | None = None
    prefix: str = ""
    rule: Rule | None = field(default=None, compare=False)
    """The rule of the finding: a built-in one, or a team rule of the file's configuration."""


@dataclass
class FileState:
    """One text of one file, linted."""

    path: str
    text: str
    problems: list[Problem] = field(default_factory=list)
    """Its own findings (not the whole-set ones), in the order the linter reports them."""
    pieces: list[tuple[int, str, list[Document]]] = field(default_factory=list)
    """The text in pieces read on their own: the line each starts at, its text, its documents
    (numbered in the whole text; lines counted in the piece)."""
    engine: Engine | None = None
    config: str | None = None
    """The config file that applies (None: the defaults)."""
    sets: dict[str, SetIndex[lint.Ref]] = field(default_factory=dict)
    """What the whole-set rules need from its objects."""
    config_error: str | None = None
    _whole: list[Document] | None = None

    @property
    def documents(self) -> list[Document]:
        """The documents of the whole text, read when first asked for (by a fix)."""
        if self._whole is None:
            self._whole = _documents(self.text)
        return self._whole

    def place(self, ref: lint.Ref, located: lint.Located) -> Problem:
        """A finding in the object `ref` names, reported at `located`, as a range."""
        for first_line, piece, documents in self.pieces:
            if documents and documents[0].index <= ref.document <= documents[-1].index:
                moved = located.replace(line=located.line - first_line)
                return _shifted(Placer(documents, piece, self.rules).place(moved), first_line)
        return Placer([], self.text, self.rules).place(located)

    @property
    def rules(self) -> Registry:
        return self.engine.registry if self.engine is not None else REGISTRY


@dataclass
class _OnDisk:
    stamp: tuple[int, int]
    config: str | None
    sets: dict[str, SetIndex[lint.Ref]]


@dataclass
class _Piece:
    """A piece of a file's text, linted: its problems (lines counted in the piece), its
    documents (numbered in the whole text) and their whole-set summaries."""

    problems: list[Problem]
    documents: list[Document]
    sets: dict[str, SetIndex[lint.Ref]]


def _lint_piece(path: str, engine: Engine, piece: str, first_document: int) -> _Piece | None:
    report = lint.lint_file(path, engine, piece.encode("utf-8"))
    if report.failed or report.note is not None:
        return None
    documents = _documents(piece)
    if len(documents) != report.documents:
        return None
    for doc in documents:
        doc.index += first_document
    placer = Placer(documents, piece, engine.registry)
    problems = [placer.place(located) for located in report.findings]
    return _Piece(problems, documents, _summaries(path, engine, documents))


def _shifted(problem: Problem, lines: int) -> Problem:
    """A problem of a piece of text placed in the whole, `lines` below."""
    if not lines:
        return problem
    return replace(
        problem,
        start=Position(problem.start.line + lines, problem.start.column),
        end=Position(problem.end.line + lines, problem.end.column),
    )


class _Wanted(Collector[lint.Ref]):
    """A run's whole-set findings in the files asked about only: the other files of the
    folder take part in the judging, but are not re-read to place findings nobody shows."""

    def __init__(self, engine: Engine, wanted: set[str]) -> None:
        super().__init__(engine)
        self.wanted = wanted

    def findings(self) -> Iterator[tuple[lint.Ref, Finding]]:
        return ((ref, f) for ref, f in super().findings() if ref.path in self.wanted)


def lintable(path: str) -> bool:
    """Files the linter reads when it walks a folder: YAML and JSON, but not its config."""
    return path.endswith(discover.EXTENSIONS) and os.path.basename(path) not in CONFIG_NAMES


class Analyzer:
    """Linted files and the workspace folders' whole-set summaries, kept between requests."""

    def __init__(self, folders: list[str]) -> None:
        self.folders = sorted({os.path.abspath(f) for f in folders}, key=len, reverse=True)
        self.reset()

    def reset(self) -> None:
        """Forget every configuration and what was read under it (a config file changed)."""
        self._configs = Configs(None, lambda config: config)
        self._engines: dict[str | None, Engine] = {}
        self._disk: dict[str, _OnDisk] = {}
        self._files: dict[str, list[str]] = {}
        self._pieces: dict[str, tuple[Any, dict[tuple[str, int], _Piece]]] = {}

    def forget(self, path: str) -> None:
        """A file changed, appeared or went away on disk."""
        path = os.path.abspath(path)
        self._disk.pop(path, None)
        self._pieces.pop(path, None)
        folder = self.folder_of(path)
        if folder is not None and path not in self._files.get(folder, [path]):
            self._files.pop(folder, None)

    def folder_of(self, path: str) -> str | None:
        """The workspace folder holding `path` (the innermost), if any."""
        for folder in self.folders:
            if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
                return folder
        return None

    def _config(self, path: str) -> LoadedConfig:
        return self._configs.of_file(path)

    def _engine(self, loaded: LoadedConfig) -> Engine:
        engine = self._engines.get(loaded.source)
        if engine is None:
            engine = Engine(loaded.config, today=datetime.date.today)
            self._engines[loaded.source] = engine
        return engine

    def _excluded(self, path: str) -> bool:
        loaded = self._config(path)
        return discover.Excluder(loaded.config.exclude.paths, loaded.root)(path)

    def analyze(self, path: str, text: str) -> FileState:
        """The file's own findings for `text`, as `mllint FILE` gives them."""
        path = os.path.abspath(path)
        state = FileState(path, text)
        if not lintable(path):
            return state
        try:
            loaded = self._config(path)
            if self._excluded(path):
                return state
            engine = self._engine(loaded)
        except ConfigError as exc:
            state.config_error = str(exc)
            return state
        state.engine, state.config = engine, loaded.source
        if self._by_document(state, engine):
            return state
        collector: Collector[lint.Ref] = engine.collector()
        report = lint.lint_file(path, engine, text.encode("utf-8"), collector)
        if report.note is not None:
            return state  # an unrendered template: nothing to say until it is rendered
        documents = _documents(text)
        state.sets, state.pieces, state._whole = collector.sets, [(0, text, documents)], documents
        placer = Placer(documents, text, engine.registry)
        state.problems = [placer.place(located) for located in report.findings]
        return state

    def _by_document(self, state: FileState, engine: Engine) -> bool:
        """Lint a file's text by pieces, again only those whose text changed since the last
        call for this file (an edit in a file of many documents touches one of them); False
        when the whole file must be linted.

        Each piece of the text from one `---` to the next is linted by `lint_file` as a file of
        its own, and its findings moved down to where it starts. That cannot differ from
        linting the whole text unless a piece cannot be read (the whole text then stops there),
        or the file is a chart template, or holds `...` document ends or directives, which are
        left to `lint_file` whole."""
        path, text = state.path, state.text
        pieces = _pieces(text)
        if pieces is None or lint.chart_of(path) is not None:
            return False
        key = (id(engine), datetime.date.today())
        known = self._pieces.get(path)
        kept = known[1] if known is not None and known[0] == key else {}
        fresh: dict[tuple[str, int], _Piece] = {}
        collector: Collector[lint.Ref] = engine.collector()
        problems: list[Problem] = []
        placed: list[tuple[int, str, list[Document]]] = []
        first_document = 0
        for first_line, piece in pieces:
            at = (piece, first_document)
            done = kept.get(at) or fresh.get(at)
            if done is None:
                done = _lint_piece(path, engine, piece, first_document)
                if done is None:
                    return False
            fresh[at] = done
            problems += [_shifted(p, first_line) for p in done.problems]
            collector.merge(done.sets)
            placed.append((first_line, piece, done.documents))
            first_document += len(done.documents)
        state.problems, state.sets, state.pieces = problems, collector.sets, placed
        self._pieces[path] = (key, fresh)
        return True

    def set_problems(self, states: Mapping[str, FileState]) -> dict[str, list[Problem]]:
        """The whole-set findings of the open files `states` (by path), each judged with the
        files of its workspace folder that share its configuration."""
        groups: dict[tuple[str | None, str | None], list[FileState]] = {}
        for state in states.values():
            if state.engine is not None and state.engine.collector().active:
                key = (self.folder_of(state.path), state.config)
                groups.setdefault(key, []).append(state)
        found: dict[str, list[Problem]] = {}
        texts = {path: state.text.encode("utf-8") for path, state in states.items()}
        for (folder, config), members in groups.items():
            engine = members[0].engine
            assert engine is not None
            wanted = {s.path for s in members}
            collector = _Wanted(engine, wanted)
            for state in members:
                collector.merge(state.sets)
            if folder is not None:
                # Sets unrelated to the open files' (sibling folders) cannot change their
                # findings: only the folders above and below them are read.
                near = {lint.set_of(path) for path in wanted}
                for path in self._folder_files(folder):
                    set_name = lint.set_of(path)
                    if path not in states and any(related(set_name, n) for n in near):
                        disk = self._on_disk(path, engine, config)
                        if disk is not None:
                            collector.merge(disk.sets)
            for ref, finding, where, _ in lint.set_findings(collector, texts.__getitem__):
                located = lint.Located(finding, ref.path, where.line, where.column)
                found.setdefault(ref.path, []).append(states[ref.path].place(ref, located))
        return found

    def _folder_files(self, folder: str) -> list[str]:
        files = self._files.get(folder)
        if files is None:

            def excluded(path: str) -> bool:
                try:
                    return self._excluded(path)
                except ConfigError:
                    return True

            files = [os.path.abspath(p) for p in discover.discover([folder], excluded)]
            self._files[folder] = files
        return files

    def _on_disk(self, path: str, engine: Engine, config: str | None) -> _OnDisk | None:
        """The summaries of a file as it is on disk if `config` is its configuration, made
        again only when the file changed (its modification time or size)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        known = self._disk.get(path)
        if known is None or known.stamp != stamp:
            try:
                source = self._config(path).source
            except ConfigError:
                return None
            sets: dict[str, SetIndex[lint.Ref]] = {}
            if source == config:
                collector: Collector[lint.Ref] = engine.collector()
                lint.lint_file(path, engine, collector=collector)
                sets = collector.sets
            known = _OnDisk(stamp, source, sets)
            self._disk[path] = known
        return known if known.config == config else None

    def scanned(self, folder: str) -> bool:
        return folder in self._files

    def fix_one(self, state: FileState, problem: Problem) -> str | None:
        """The text with one finding's fix applied, by the fixer of `mllint --fix`."""
        fix = problem.finding.fix
        if fix is None or problem.document is None or problem.document >= len(state.documents):
            return None
        obj = jp.resolve(state.documents[problem.document].obj, problem.prefix)
        ops = fix_ops(obj, [problem.finding], unsafe=True)
        if not ops:
            return None
        edit = Edit(problem.document, problem.prefix, tuple(ops))
        try:
            fixed = apply_edits(
                state.text, [edit], json=is_json(state.path, state.text), documents=state.documents
            )
        except LoadError:
            return None
        return fixed.text if fixed.text != state.text else None

    def fix_all(self, state: FileState, set_problems: list[Problem]) -> str | None:
        """The text with every safe fix applied, as `mllint --fix FILE` writes it (the whole-set
        rules' fixes included)."""
        if state.engine is None:
            return None
        extra = [
            Edit(p.document, p.prefix, p.finding.fix.ops)
            for p in set_problems
            if p.finding.fix is not None
            and p.finding.fix.safety is Safety.SAFE
            and p.document is not None
        ]
        try:
            fixed = fix_text(
                state.text,
                state.engine,
                unsafe=False,
                json=is_json(state.path, state.text),
                extra=extra,
                fragment=fragment_of(state.path),
            )
        except LoadError:
            return None
        return fixed.text if fixed.text != state.text else None


def suppress(state: FileState, problem: Problem) -> str | None:
    """The text with a `# mllint: ignore[RULE] -- <reason>` comment on the finding's line (the
    rule added to the brackets of one already there). None where a comment cannot go: JSON,
    findings about the file itself, and lines whose end is inside a value."""
    rule = problem.rule
    if rule is None or rule.meta or is_json(state.path, state.text) or not state.documents:
        return None
    lines = state.text.splitlines(keepends=True)
    index = problem.start.line - 1
    if not 0 <= index < len(lines):
        return None
    line = lines[index]
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    existing = _IGNORE.search(body)
    if existing is not None:
        names = [n.strip() for n in existing["names"].split(",") if n.strip()]
        body = (
            body[: existing.start("names")]
            + ", ".join([*names, rule.name])
            + body[existing.end("names") :]
        )
    else:
        body = f"{body.rstrip()}  # mllint: ignore[{rule.name}] -- {REASON}"
    new = "".join([*lines[:index], body + (ending or ""), *lines[index + 1 :]])
    if [d.obj for d in _documents(new)] != [d.obj for d in state.documents]:
        return None  # the comment would have landed inside a value
    return new


_IGNORE = re.compile(r"#\s*mllint:\s*ignore\[(?P<names>[^\]]*)\]")


def hover_text(problems: list[Problem]) -> str:
    """Markdown for the findings under the cursor: each rule's summary, why it matters and its
    example, from the rule's docs (the text its page is generated from); a team rule's what it
    does and its definition, from its configuration."""
    parts = []
    for problem in problems:
        rule = problem.rule
        if rule is None:
            continue
        by_heading = dict(sections(rule.docs))
        text = [
            f"**{rule.code} {rule.name}** ({problem.finding.severity.value}): {rule.summary}",
            problem.finding.message,
        ]
        headings = ["Why is this bad?"]
        if rule.origin:
            headings = ["What it does", *headings, "Definition"]  # a team rule's own page
        for heading in headings:
            if by_heading.get(heading):
                text.append(f"#### {heading}\n\n{by_heading[heading]}")
        example = by_heading.get("Example") or by_heading.get("Examples")
        if example:
            text.append("#### Example\n\n" + example)
        if rule.url:
            text.append(f"[{rule.code} {rule.name}]({rule.url})")
        parts.append("\n\n".join(text))
    return "\n\n---\n\n".join(parts)


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_ODD = re.compile(r"^(?:\.\.\.|%)", re.MULTILINE)


def _pieces(text: str) -> list[tuple[int, str]] | None:
    """The text cut before each `---` line, with the 0-based line each piece starts at; a
    first piece of comments only stays with the next. None for text that is not cut safely:
    `...` document ends and `%` directives (the end of a piece would not be the end of its
    document)."""
    if _ODD.search(text):
        return None
    cuts = [m.start() for m in _DOCUMENT_START.finditer(text) if m.start() > 0]
    if cuts and not _content(text[: cuts[0]]):
        cuts = cuts[1:]
    bounds = [0, *cuts, len(text)]
    pieces = []
    line = 0
    for start, end in itertools.pairwise(bounds):
        piece = text[start:end]
        pieces.append((line, piece))
        line += piece.count("\n")
    return pieces


def _content(text: str) -> bool:
    """Whether a text holds anything but blank lines and comments."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _summaries(
    path: str, engine: Engine, documents: list[Document]
) -> dict[str, SetIndex[lint.Ref]]:
    """What the whole-set rules need from a file's objects, filed as `lint_document` does."""
    collector: Collector[lint.Ref] = engine.collector()
    if not collector.active:
        return {}
    fragment = fragment_of(path)
    for doc in documents:
        for item in lint.items(doc.obj):
            if not item_is_fragment(fragment, item.obj):
                ref = lint.Ref(path, doc.index, item.prefix)
                collector.add(item.obj, ref, lint.set_of(path))
    return collector.sets


def _documents(text: str) -> list[Document]:
    """The documents of a text, up to the first that cannot be read."""
    found: list[Document] = []
    with contextlib.suppress(LoadError):
        found.extend(load(text))
    return found


class Placer:
    """Turns the findings of one text into problems with ranges."""

    def __init__(self, documents: list[Document], text: str, rules: Registry = REGISTRY) -> None:
        self.documents = documents
        self.lines = text.splitlines()
        self.rules = rules
        self._starts = [(d.start.line, d.start.column) for d in documents]

    def place(self, located: lint.Located) -> Problem:
        """A finding reported at `located`'s line and column, as a range over its node."""
        finding = located.finding
        rule = self.rules.get(finding.code)
        at = Position(located.line, located.column)
        if located.line < 1:
            return Problem(finding, Position(1, 1), _line_end(self.lines, 1), rule=rule)
        index = bisect.bisect_right(self._starts, (at.line, at.column)) - 1
        if index >= 0:
            doc = self.documents[index]
            prefix = _item_prefix(doc, at)
            start, end = doc.span(prefix + finding.pointer)
            if start == at:
                return Problem(finding, start, end, doc.index, prefix, rule)
        return Problem(finding, at, _rest_of_line(self.lines, at), rule=rule)


def _item_prefix(doc: Document, at: Position) -> str:
    """`/items/N` when `at` is inside item N of a `kind: List`, else ``."""
    obj = doc.obj
    if not isinstance(obj, dict) or obj.get("kind") != "List":
        return ""
    items = obj.get("items")
    found = ""
    for number in range(len(items) if isinstance(items, list) else 0):
        prefix = f"/items/{number}"
        start = doc.span(prefix)[0]
        if (start.line, start.column) <= (at.line, at.column):
            found = prefix
    return found


def _line_end(lines: list[str], line: int) -> Position:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return Position(line, len(text.rstrip()) + 1)


def _rest_of_line(lines: list[str], at: Position) -> Position:
    """From a position to the end of its line's text; a whole line when the position is past
    it (a parse error at the end of a line)."""
    end = _line_end(lines, at.line)
    return end if end.column > at.column else Position(at.line, max(at.column + 1, end.column))
