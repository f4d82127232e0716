"""How quickly `mllint lsp` answers an edit, and how much memory it holds for a workspace.

    python bench/lsp_latency.py [--rounds N] [--corpus DIR]

The server is the installed `mllint lsp`, driven over stdio by pygls's client as an editor drives
it. Figures are medians (and 90th percentiles) of N rounds, printed against baselines measured in
the same run; nothing here fails on time.

1. latency: a 1,000-line file of many documents is open; each round replaces its text (an image
   tag changes) and waits for the diagnostics of the new text. Against linting the same whole
   text in this process with `lint_file` (the floor: no protocol, no ranges, nothing kept
   between edits). An edit after a pause longer than the server's debounce period is linted at
   once; the server without debounce, edits sent back to back, is measured too.
2. workspace: the server holds ../shared/corpus as its workspace folder, with one file open in
   each of its top-level folders (the whole-set rules read the folders above and below each);
   its resident memory against the same server holding a folder of one file, and the latency
   of an edit of one corpus file (the whole-set rules judge again from the kept summaries).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from corpus_run import mllint_command
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from mllint.linter import lint
from mllint.rules import Engine

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples" / "bad"
TARGET_MS = 50.0
PAUSE = 0.2
"""Longer than the server's debounce period (0.1 s): the edit of someone who stopped typing."""
LINES = 1000


def big_file() -> str:
    """At least LINES lines: the bad examples again and again, each copy named apart."""
    sources = [p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))]
    parts: list[str] = []
    count = 0
    while sum(part.count("\n") for part in parts) < LINES:
        for text in sources:
            parts.append(text.replace("name: ", f"name: c{count}-", 1))
            count += 1
    return "---\n".join(parts)


class Session:
    """A client with a server started and initialized on one workspace folder."""

    def __init__(self, folder: Path, debounce_ms: float | None = None) -> None:
        self.folder = folder
        self.debounce_ms = debounce_ms
        self.client = LanguageClient("mllint-bench", "1")
        self.published: dict[str, asyncio.Event] = {}
        self.versions: dict[str, int] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_publish(params: types.PublishDiagnosticsParams) -> None:
            event = self.published.get(params.uri)
            if event is not None:
                event.set()

    async def __aenter__(self) -> Session:
        await self.client.start_io(mllint_command(), "lsp")
        options = {} if self.debounce_ms is None else {"debounceMs": self.debounce_ms}
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=self.folder.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.folder.as_uri(), name="ws")],
                initialization_options=options,
            )
        )
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    @property
    def pid(self) -> int:
        server = self.client._server
        assert server is not None
        return server.pid

    async def open(self, path: Path) -> float:
        uri = path.as_uri()
        self.published[uri] = asyncio.Event()
        self.versions[uri] = 1
        start = time.perf_counter()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="yaml", version=1, text=path.read_text()
                )
            )
        )
        await asyncio.wait_for(self.published[uri].wait(), 600)
        return time.perf_counter() - start

    async def edit(self, path: Path, text: str) -> float:
        """Seconds from sending the new text to receiving its diagnostics."""
        uri = path.as_uri()
        self.published[uri].clear()
        self.versions[uri] += 1
        start = time.perf_counter()
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        await asyncio.wait_for(self.published[uri].wait(), 60)
        return time.perf_counter() - start


def rss_kib(pid: int) -> tuple[int, int]:
    """(resident, peak resident) KiB of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def summary(times: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.9) - 1] * 1000


def edits(text: str, rounds: int) -> list[str]:
    """Texts that differ from the last each time: an image tag comes and goes."""
    changed = text.replace(":latest", ":2024.10.1", 1)
    return [changed if i % 2 == 0 else text for i in range(rounds)]


async def latency(work: Path, rounds: int) -> None:
    text = big_file()
    folder = work / "latency"
    folder.mkdir()
    path = folder / "many.yaml"
    path.write_text(text)
    lines = text.count("\n")
    documents = text.count("\n---\n") + 1
    engine = Engine(today=datetime.date.today)
    data = text.encode()
    floor = []
    for _ in range(rounds):
        start = time.perf_counter()
        report = lint.lint_file(str(path), engine, data, engine.collector())
        floor.append(time.perf_counter() - start)
    floor_ms, _ = summary(floor)
    print(
        f"latency: {lines} lines, {documents} documents, {len(report.findings)} findings; "
        f"medians of {rounds} edits"
    )
    print(f"  {'in-process lint_file (floor)':<44} {floor_ms:7.1f} ms")
    runs = (
        ("server, an edit after a pause", None, PAUSE),
        ("server without debounce, edits back to back", 0.0, 0.0),
    )
    for label, debounce, pause in runs:
        async with Session(folder, debounce) as session:
            await session.open(path)
            times = []
            for new in edits(text, rounds):
                await asyncio.sleep(pause)
                times.append(await session.edit(path, new))
        median, p90 = summary(times)
        verdict = "met" if median < TARGET_MS else "MISSED"
        print(
            f"  {label:<44} {median:7.1f} ms (p90 {p90:.1f}): ratio {median / floor_ms:5.2f} "
            f"to the floor (goal < {TARGET_MS:.0f} ms: {verdict})"
        )


async def workspace(corpus: Path, work: Path, rounds: int) -> None:
    opened = []
    for top in sorted(p for p in corpus.iterdir() if p.is_dir()):
        found = sorted(p for p in top.rglob("*.yaml") if "templates" not in p.parts)
        if found:
            opened.append(found[len(found) // 2])
    alone = work / "alone"
    alone.mkdir()
    small = alone / "job.yaml"
    small.write_text((EXAMPLES / "training-job.yaml").read_text())
    async with Session(alone) as session:
        await session.open(small)
        await session.open(small)
        base_rss, base_peak = rss_kib(session.pid)
    async with Session(corpus) as session:
        start = time.perf_counter()
        for path in opened:
            await session.open(path)
        # Opens are handled one at a time: a second open of the first file is answered once
        # every earlier open has read its folders for the whole-set rules.
        await session.open(opened[0])
        scan = time.perf_counter() - start
        rss, peak = rss_kib(session.pid)
        text = opened[-1].read_text()
        times = []
        for new in (text + "\n" * (i % 2) for i in range(rounds)):
            await asyncio.sleep(PAUSE)
            times.append(await session.edit(opened[-1], new))
        after_rss, _ = rss_kib(session.pid)
    median, p90 = summary(times)
    count = sum(1 for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    print(f"workspace: {corpus} ({count} YAML/JSON files), {len(opened)} files open")
    print(f"  {'opening them (whole-set reading included)':<44} {scan * 1000:7.0f} ms")
    print(
        f"  {'resident memory, corpus workspace':<44} {rss / 1024:7.1f} MiB vs "
        f"{base_rss / 1024:.1f} MiB for one file: ratio {rss / base_rss:5.2f} "
        f"(peak {peak / 1024:.1f} vs {base_peak / 1024:.1f} MiB)"
    )
    print(f"  {'resident memory after the edits':<44} {after_rss / 1024:7.1f} MiB")
    print(f"  {'edit of one corpus file':<44} {median:7.1f} ms (p90 {p90:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="edits per measurement")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="mllint-lsp-bench-") as tmp:
        work = Path(tmp)
        asyncio.run(latency(work, args.rounds))
        if args.corpus.is_dir():
            asyncio.run(workspace(args.corpus.resolve(), work, max(args.rounds // 4, 5)))
        else:
            print(f"workspace: skipped, {args.corpus} is absent (it is ../shared/corpus)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
