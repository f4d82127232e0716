"""What the language server tests share: the installed command, and an editor's view of the
files it opens (their text, what the server publishes for them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

TIMEOUT = 30.0


class Editor:
    """What an editor does with a file: open it, replace its text, save it; and what it shows."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    def open(self, path: Path, text: str | None = None, language: str = "yaml") -> str:
        uri = path.as_uri()
        self.texts[uri] = path.read_text() if text is None else text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=self.texts[uri]
                )
            )
        )
        return uri

    def type(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def apply(self, uri: str, edit: types.WorkspaceEdit) -> str:
        """Apply a workspace edit to the open file, as the editor does, and send the change."""
        assert edit.changes is not None and set(edit.changes) == {uri}
        text = self.texts[uri]
        for change in sorted(
            edit.changes[uri],
            key=lambda e: (e.range.start.line, e.range.start.character),
            reverse=True,
        ):
            start, end = _offset(text, change.range.start), _offset(text, change.range.end)
            text = text[:start] + change.new_text + text[end:]
        self.type(uri, text)
        return text

    async def diagnostics(
        self, uri: str, until: Callable[[Sequence[types.Diagnostic]], bool] = lambda d: True
    ) -> Sequence[types.Diagnostic]:
        """The diagnostics last published for `uri`, once they satisfy `until`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            found = self.client.diagnostics.get(uri)
            if found is not None and until(found):
                return found
            if loop.time() > deadline:
                shown = [(d.code, d.range.start.line, d.message) for d in found or ()]
                pytest.fail(f"no diagnostics as expected for {uri} in {TIMEOUT}s; last: {shown}")
            await asyncio.sleep(0.01)


def _offset(text: str, position: types.Position) -> int:
    """A position's offset in ASCII text."""
    lines = text.splitlines(keepends=True)
    return sum(len(line) for line in lines[: position.line]) + position.character


def codes(diagnostics: Sequence[types.Diagnostic]) -> set[str]:
    return {str(d.code) for d in diagnostics}
