"""`mllint lsp`: a language server over stdio, for any editor with an LSP client.

It publishes the findings of `mllint FILE` for the text in the editor as diagnostics (on open,
on save, and shortly after each change), offers each fix and a suppression comment as quick
fixes and every safe fix as a source action, and shows a rule's docs on hover. The protocol
is all this module does; `analysis` knows what to say.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from mllint.linter import lint
from mllint.linter.loader import Position
from mllint.lsp.analysis import (
    CONFIG_FILES,
    Analyzer,
    FileState,
    Problem,
    hover_text,
    suppress,
)
from mllint.rules import Safety, Severity

DEBOUNCE_SECONDS = 0.1
"""The shortest time between two lints of a file as it is edited. A change after a quiet spell
is linted at once; changes that follow within this time are linted together when it is up,
from the text as it then is, so a burst of keystrokes costs one lint per period and the last
text is always linted."""

SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}

TAGS = {"suppression-invalid": [types.DiagnosticTag.Unnecessary]}
"""A suppression that suppresses nothing is dead text, which editors grey out."""

FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.mllint"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mllint")
    except PackageNotFoundError:
        return "unknown"


class Server(LanguageServer):
    """The open files' findings, kept by path, and the analyzer that makes them."""

    def __init__(self) -> None:
        super().__init__("mllint", _version())
        self.analyzer = Analyzer([])
        self.debounce = DEBOUNCE_SECONDS
        self.states: dict[str, FileState] = {}
        self.set_found: dict[str, list[Problem]] = {}
        self.uris: dict[str, str] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._linted: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def problems(self, path: str) -> list[Problem]:
        state = self.states.get(path)
        own = state.problems if state else []
        return own + self.set_found.get(path, [])

    def schedule(self, path: str) -> None:
        """Lint a changed file: at once after a quiet spell, else when its period is up."""
        if path in self._timers:
            return  # a lint is due, and reads the text as it will then be
        loop = asyncio.get_running_loop()
        wait = self._linted.get(path, -self.debounce) + self.debounce - loop.time()
        self._timers[path] = loop.call_later(
            max(wait, 0.0), lambda: loop.create_task(self.refresh([path]))
        )

    async def refresh(self, changed: Sequence[str]) -> None:
        """Lint the `changed` open files again, then the whole-set findings of every open file,
        and publish what differs."""
        async with self._lock:
            for path in changed:
                timer = self._timers.pop(path, None)
                if timer is not None:
                    timer.cancel()  # this lint reads the text the timer would have read
                self._linted[path] = asyncio.get_running_loop().time()
                uri = self.uris.get(path)
                if uri is None:
                    continue
                doc = self.workspace.get_text_document(uri)
                try:
                    self.states[path] = self.analyzer.analyze(path, doc.source)
                except Exception as exc:  # one file's surprise must not stop the server
                    self.states.pop(path, None)
                    self._log(f"{path}: {lint.unexpected(exc, 'linted')}")
                self.publish(path)
            folders = {self.analyzer.folder_of(p) for p in self.states}
            if any(f is not None and not self.analyzer.scanned(f) for f in folders):
                await asyncio.sleep(0)  # answer what is waiting before reading the folder
            before = self.set_found
            try:
                self.set_found = self.analyzer.set_problems(self.states)
            except Exception as exc:
                self.set_found = {}
                self._log(f"whole-set rules: {lint.unexpected(exc, 'judged')}")
            for path in self.states:
                if path in changed:
                    if self.set_found.get(path):
                        self.publish(path)
                elif before.get(path, []) != self.set_found.get(path, []):
                    self.publish(path)

    def _log(self, message: str) -> None:
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Error, message=f"mllint: {message}")
        )

    def publish(self, path: str) -> None:
        uri = self.uris[path]
        state = self.states.get(path)
        diagnostics = []
        if state is not None:
            lines = state.text.splitlines(keepends=True)
            doc = self.workspace.get_text_document(uri)
            if state.config_error is not None:
                diagnostics.append(_config_diagnostic(state.config_error))
            diagnostics += [_diagnostic(doc, lines, p) for p in self.problems(path)]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

    def state_of(self, uri: str) -> FileState | None:
        """The linted state of an open file, if it is linted up to its current text."""
        path = to_fs_path(uri)
        state = self.states.get(os.path.abspath(path)) if path else None
        if state is None or state.text != self.workspace.get_text_document(uri).source:
            return None
        return state


server = Server()


def _path(uri: str) -> str | None:
    path = to_fs_path(uri)
    return os.path.abspath(path) if path and uri.startswith("file:") else None


@server.feature(types.INITIALIZE)
def initialize(ls: Server, params: types.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounceMs"), int | float):
        ls.debounce = max(0.0, float(options["debounceMs"]) / 1000)


@server.feature(types.INITIALIZED)
def initialized(ls: Server, params: types.InitializedParams) -> None:
    folders = [to_fs_path(f.uri) for f in ls.workspace.folders.values()]
    if not folders and ls.workspace.root_path:
        folders = [ls.workspace.root_path]
    ls.analyzer = Analyzer([f for f in folders if f])
    watched = ls.client_capabilities.workspace
    if (
        watched
        and watched.did_change_watched_files
        and (watched.did_change_watched_files.dynamic_registration)
    ):
        globs = ["**/*.{yaml,yml,json}", "**/pyproject.toml"]
        ls.client_register_capability(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id="mllint-files",
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=types.DidChangeWatchedFilesRegistrationOptions(
                            watchers=[types.FileSystemWatcher(glob_pattern=g) for g in globs]
                        ),
                    )
                ]
            )
        )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: Server, params: types.DidOpenTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is None:
        return
    ls.uris[path] = params.text_document.uri
    await ls.refresh([path])


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: Server, params: types.DidChangeTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is not None and path in ls.uris:
        ls.schedule(path)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: Server, params: types.DidSaveTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is None:
        return
    if os.path.basename(path) in CONFIG_FILES:
        ls.analyzer.reset()
        await ls.refresh(list(ls.states))
    elif path in ls.uris:
        ls.analyzer.forget(path)
        await ls.refresh([path])


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
async def did_close(ls: Server, params: types.DidCloseTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is None or path not in ls.uris:
        return
    timer = ls._timers.pop(path, None)
    if timer is not None:
        timer.cancel()
    ls.states.pop(path, None)
    ls._linted.pop(path, None)
    ls.set_found.pop(path, None)
    ls.publish(path)
    del ls.uris[path]
    ls.analyzer.forget(path)  # its text on disk counts again for the others
    await ls.refresh([])


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def did_change_watched_files(ls: Server, params: types.DidChangeWatchedFilesParams) -> None:
    changed = [p for p in (_path(c.uri) for c in params.changes) if p is not None]
    if any(os.path.basename(p) in CONFIG_FILES for p in changed):
        ls.analyzer.reset()
        await ls.refresh(list(ls.states))
        return
    for path in changed:
        ls.analyzer.forget(path)
    await ls.refresh([])


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: Server, params: types.HoverParams) -> types.Hover | None:
    state = ls.state_of(params.text_document.uri)
    if state is None:
        return None
    doc = ls.workspace.get_text_document(params.text_document.uri)
    at = doc.position_from_client_units(params.position)
    here = (at.line + 1, at.character + 1)
    under = [
        p
        for p in ls.problems(state.path)
        if (p.start.line, p.start.column) <= here <= (p.end.line, p.end.column)
    ]
    text = hover_text(under)
    if not text:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
    )


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll]
    ),
)
def code_action(ls: Server, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    uri = params.text_document.uri
    state = ls.state_of(uri)
    if state is None:
        return None
    doc = ls.workspace.get_text_document(uri)
    lines = state.text.splitlines(keepends=True)
    only = params.context.only
    actions: list[types.CodeAction] = []
    if _wanted(only, types.CodeActionKind.QuickFix):
        asked = {_key(d) for d in params.context.diagnostics}
        for problem in ls.problems(state.path):
            diagnostic = _diagnostic(doc, lines, problem)
            if _key(diagnostic) in asked:
                actions += _quick_fixes(ls, state, problem, diagnostic, uri)
    if _wanted(only, types.CodeActionKind.SourceFixAll):
        fixed = ls.analyzer.fix_all(state, ls.set_found.get(state.path, []))
        if fixed is not None:
            actions.append(
                types.CodeAction(
                    title="mllint: fix all safe problems in this file",
                    kind=FIX_ALL,
                    edit=_edit(uri, state.text, fixed),
                )
            )
    return actions


def _wanted(only: Sequence[str] | None, kind: str) -> bool:
    """Whether a request's `only` filter lets actions of `kind` through (LSP: by prefix)."""
    return only is None or any(kind == o or kind.startswith(o + ".") for o in only)


def _key(d: types.Diagnostic) -> tuple[Any, ...]:
    r = d.range
    return (d.code, r.start.line, r.start.character, r.end.line, r.end.character, d.message)


def _quick_fixes(
    ls: Server, state: FileState, problem: Problem, diagnostic: types.Diagnostic, uri: str
) -> list[types.CodeAction]:
    actions = []
    rule = problem.rule
    fix = problem.finding.fix
    name = rule.name if rule else problem.finding.rule
    if fix is not None:
        fixed = ls.analyzer.fix_one(state, problem)
        if fixed is not None:
            unsafe = fix.safety is Safety.UNSAFE
            actions.append(
                types.CodeAction(
                    title=f"Fix {problem.finding.code} {name}"
                    + (" (unsafe: check the change)" if unsafe else ""),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=_edit(uri, state.text, fixed),
                    is_preferred=not unsafe,
                )
            )
    suppressed = suppress(state, problem)
    if suppressed is not None:
        actions.append(
            types.CodeAction(
                title=f"Suppress {problem.finding.code} {name} on this line",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=_edit(uri, state.text, suppressed),
            )
        )
    return actions


def _edit(uri: str, old: str, new: str) -> types.WorkspaceEdit:
    """The change from `old` to `new` as one edit replacing the lines that differ."""
    before = old.splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(before), len(after)) - head
        and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]
    ):
        tail += 1
    stop = len(before) - tail
    # Lines are whole, ending in a newline, except perhaps the text's last one: an edit that
    # reaches it ends at its end rather than on a line that does not exist.
    if stop == len(before) and before and not before[-1].endswith(("\n", "\r")):
        end = types.Position(line=stop - 1, character=_units(before[-1]))
    else:
        end = types.Position(line=stop, character=0)
    replace = types.TextEdit(
        range=types.Range(start=types.Position(line=head, character=0), end=end),
        new_text="".join(after[head : len(after) - tail]),
    )
    return types.WorkspaceEdit(changes={uri: [replace]})


def _units(line: str) -> int:
    """UTF-16 code units of a line (the protocol's default way to count characters)."""
    return len(line.encode("utf-16-le")) // 2


def _diagnostic(doc: TextDocument, lines: list[str], problem: Problem) -> types.Diagnostic:
    finding = problem.finding
    rule = problem.rule
    return types.Diagnostic(
        range=_range(doc, lines, problem.start, problem.end),
        message=f"{finding.message} ({finding.rule})",
        severity=SEVERITIES[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=rule.url) if rule and rule.url else None,
        source="mllint",
        tags=TAGS.get(finding.rule),
    )


def _config_diagnostic(message: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        ),
        message=f"not linted: {message}",
        severity=types.DiagnosticSeverity.Error,
        source="mllint",
    )


def _range(doc: TextDocument, lines: list[str], start: Position, end: Position) -> types.Range:
    """1-based positions in characters as a protocol range in the client's units. A block
    scalar ends at the start of the line after it: the range then ends with its last line."""
    if end.column == 1 and end.line > start.line + 1 and end.line - 2 < len(lines):
        end = Position(end.line - 1, len(lines[end.line - 2].rstrip("\r\n")) + 1)
    server = ServerTextRange(
        ServerTextPosition(start.line - 1, start.column - 1),
        ServerTextPosition(end.line - 1, end.column - 1),
    )
    return doc.position_codec.range_to_client_units(lines, server)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mllint lsp",
        description="Run the mllint language server on stdin and stdout, for an editor's LSP "
        "client (docs/editors.md).",
    )
    # Clients (vscode-languageclient, some lspconfig setups) add --stdio; it is the only transport.
    parser.add_argument("--stdio", action="store_true", help="talk over stdio (the default)")
    parser.parse_args(argv)
    if sys.stdin.isatty():
        print(
            "mllint lsp: a language server talks to an editor over stdin and stdout; "
            "configure your editor to run `mllint lsp` (see docs/editors.md)",
            file=sys.stderr,
        )
    with contextlib.suppress(KeyboardInterrupt):
        server.start_io()
    return 0
