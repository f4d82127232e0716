"""A lint run as a stream: files are linted as they are found (by this process and, once the run
is large, by worker processes beside it while the rest is still being found), and the findings
are reported file by file without the run holding them all in memory.

Files go out in batches in the order they were found; results come back in that same order
whichever worker finished first, so a run with workers reports exactly what `--jobs 1` does.
What stays in memory is the whole-set rules' compact summaries (`setrules`) of the folders the
run is in: a folder's are judged and let go once the walk has left it (`Gathered`), unless a
folder above it holds objects too. The findings, and where each file's are, move to a temporary
file once a run has many (`Spool`).
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from mllint.linter.lint import (
    STDIN,
    FileReport,
    Located,
    Ref,
    add_set_findings,
    lint_file,
    lint_lost,
    named,
    place,
    read,
    set_of,
)
from mllint.linter.output import Tally
from mllint.rules import REGISTRY, Config, Engine, Finding, Rule, Severity
from mllint.rules.engine import Clock
from mllint.rules.model import Record
from mllint.rules.setrules import Collector, SetIndex

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from mllint.linter.pool import Pool

PARALLEL_FROM_BYTES = 512 << 10
"""Runs reading less than this stay in one process: a forked worker costs 1-3 ms to start and
end, and its first files cost it more than they would this process, whose caches (compiled
patterns, kustomize lookups) are warm; started afresh (not forked) a worker costs 10-20 ms
(bench/lint_speed.py measures where more processes start to pay)."""

BATCH_FILES = 16
"""Files per batch a worker is given: enough that handing it over costs little next to
linting it, few enough that both cores start at once and finish together."""

IN_FLIGHT = 4
"""Batches per process linting them in flight, ahead of the results read back: what bounds the
memory of a run however many files it finds."""

WORKER_AHEAD = 2
"""Batches a forked worker is given ahead: enough that it has the next one while this process
lints one of its own, few enough that the workers end together with this process."""

FORK = sys.platform == "linux"
"""Workers are forked from this process on Linux (`pool`: this process lints too). Elsewhere
(macOS, where a forked process may crash in the system's frameworks) they are started afresh
by multiprocessing's spawn, `jobs` of them, and this process only hands out batches."""


class Batch(Record):
    """Files found one after the other that share one configuration (`group`)."""

    __slots__ = _fields = ("group", "config", "paths")

    group: int
    config: Config
    paths: list[str]

    def __init__(self, group: int, config: Config, paths: list[str] | None = None) -> None:
        self.group = group
        self.config = config
        self.paths = [] if paths is None else paths


class Done(Record):
    """A batch's reports (each with its own findings) and its objects' set summaries."""

    __slots__ = _fields = ("batch", "reports", "sets")

    batch: Batch
    reports: list[FileReport]
    sets: dict[str, SetIndex[Ref]]

    def __init__(
        self, batch: Batch, reports: list[FileReport], sets: dict[str, SetIndex[Ref]]
    ) -> None:
        self.batch = batch
        self.reports = reports
        self.sets = sets


def batches(found: Iterable[tuple[int, Config, str]]) -> Iterator[Batch]:
    """(group, configuration, path) triples, in order, as batches."""
    current: Batch | None = None
    for group, config, path in found:
        if current is None or current.group != group or len(current.paths) >= BATCH_FILES:
            if current is not None:
                yield current
            current = Batch(group, config)
        current.paths.append(path)
    if current is not None:
        yield current


def cores() -> int:
    """The cores this process may run on (a container's CPU set), not all the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _size(paths: Iterable[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            continue
    return total


class Runner:
    """Lints batches in order, in this process or in `jobs` workers (0: one per core once the
    run has read PARALLEL_FROM_BYTES; 1: never)."""

    def __init__(
        self, jobs: int = 0, today: Clock | None = None, engines: dict[int, Engine] | None = None
    ) -> None:
        self.jobs = jobs
        self.today = today
        self._engines: dict[int, Engine] = engines or {}
        self._configs: dict[int, Config] = {}
        """A forked worker's configurations by group, as this process sends them."""

    def engine(self, batch: Batch) -> Engine:
        engine = self._engines.get(batch.group)
        if engine is None:
            engine = self._engines[batch.group] = Engine(batch.config, today=self.today)
        return engine

    def run(self, work: Iterable[Batch]) -> Iterator[Done]:
        workers = self.jobs or cores()
        pending = iter(work)
        held: list[Batch] = []
        if workers > 1:
            size = files = 0
            for batch in pending:
                held.append(batch)
                if STDIN in batch.paths:
                    break  # stdin can be read once, by this process
                size += _size(batch.paths)
                files += len(batch.paths)
                if (self.jobs and files > 1) or size >= PARALLEL_FROM_BYTES:
                    # The rest is found as the workers lint what was found first.
                    yield from self._parallel(workers, itertools.chain(held, pending))
                    return
        for batch in [*held, *pending]:
            yield self._here(batch)

    def _here(self, batch: Batch, between: Callable[[], None] | None = None) -> Done:
        """A batch linted in this process; `between` is called after each file."""
        engine = self.engine(batch)
        collector: Collector[Ref] = engine.collector()
        reports = []
        for path in batch.paths:
            reports.append(lint_file(path, engine, collector=collector))
            if between is not None:
                between()
        return Done(batch, reports, collector.sets)

    def _parallel(self, jobs: int, work: Iterable[Batch]) -> Iterator[Done]:
        if FORK:
            yield from self._forked(jobs, work)
        else:
            yield from self._spawned(jobs, work)

    def _forked(self, jobs: int, work: Iterable[Batch]) -> Iterator[Done]:
        """This process and `jobs - 1` workers forked from it lint the batches: each worker is
        given batches until it holds WORKER_AHEAD, topped up again after every file this
        process lints, and this process lints the next batch itself; the batches come out in
        the order found all the same."""
        from mllint.linter.pool import Pool

        found = iter(work)
        flight: deque[_Pending] = deque()
        with Pool(jobs - 1, self._serve) as pool:

            def feed() -> None:
                self._answered(pool.answers(wait=False))
                while (worker := pool.idlest()) is not None and len(worker.held) < WORKER_AHEAD:
                    batch = next(found, None)
                    if batch is None:
                        return
                    config = None if batch.group in worker.given else batch.config
                    worker.given.add(batch.group)
                    task = (batch.group, config, batch.paths)
                    self._answered(pool.give(worker, task, self._pending(batch, flight)))

            while True:
                feed()
                batch = next(found, None)
                if batch is None:
                    break
                pending = self._pending(batch, flight)  # before what `feed` adds while linting
                pending.done = self._here(batch, feed)
                while flight and (flight[0].done is not None or len(flight) > jobs * IN_FLIGHT):
                    yield self._next(pool, flight)
            while flight:
                yield self._next(pool, flight)

    def _pending(self, batch: Batch, flight: deque[_Pending]) -> _Pending:
        """A batch next in order."""
        self.engine(batch)  # a configuration's errors are this process's to report
        pending = _Pending(batch)
        flight.append(pending)
        return pending

    def _next(self, pool: Pool, flight: deque[_Pending]) -> Done:
        """The oldest batch's results, once a worker has given them."""
        while flight[0].done is None:
            self._answered(pool.answers(wait=True))
        done = flight.popleft().done
        assert done is not None
        return done

    def _answered(self, answers: list[tuple[_Pending, Any]]) -> None:
        for pending, answer in answers:
            batch = pending.batch
            if answer is None:  # its worker died
                engine = self.engine(batch)
                pending.done = Done(batch, [lint_lost(p, engine) for p in batch.paths], {})
            else:
                pending.done = Done(batch, *answer)

    def _serve(
        self, task: tuple[int, Config | None, list[str]]
    ) -> tuple[list[FileReport], dict[str, SetIndex[Ref]]]:
        """A batch linted in a forked worker; its configuration comes with its group's first."""
        group, config, paths = task
        if config is not None:
            self._configs[group] = config
        done = self._here(Batch(group, self._configs[group], paths))
        return done.reports, done.sets

    def _spawned(self, workers: int, work: Iterable[Batch]) -> Iterator[Done]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        # Not multiprocessing.Pool: when a worker dies (the out-of-memory killer, a crash in C),
        # Pool waits forever for its task; the executor raises BrokenProcessPool instead.
        with ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.today, gc.get_threshold()[0]),
        ) as pool:
            flight: deque[tuple[Batch, Future[Any] | None]] = deque()
            for batch in work:
                flight.append((batch, _submit(pool, batch)))
                while flight and (_ready(flight[0][1]) or len(flight) > workers * IN_FLIGHT):
                    yield self._collect(*flight.popleft())
            while flight:
                yield self._collect(*flight.popleft())

    def _collect(self, batch: Batch, future: Future[Any] | None) -> Done:
        from concurrent.futures.process import BrokenProcessPool

        try:
            if future is None:
                raise BrokenProcessPool
            reports, sets = future.result()
        except BrokenProcessPool:
            engine = self.engine(batch)
            return Done(batch, [lint_lost(p, engine) for p in batch.paths], {})
        return Done(batch, reports, sets)


class _Pending:
    """A batch of a run in order, and its results once linted."""

    __slots__ = ("batch", "done")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.done: Done | None = None


def _submit(pool: ProcessPoolExecutor, batch: Batch) -> Future[Any] | None:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return pool.submit(_lint_batch, batch.group, batch.config, batch.paths)
    except BrokenProcessPool:
        return None


def _ready(future: Future[Any] | None) -> bool:
    return future is None or future.done()


_worker_today: Clock | None = None
_worker_engines: dict[int, Engine] = {}


def _init_worker(today: Clock | None, young: int) -> None:
    global _worker_today  # noqa: PLW0603 - the clock of this worker process, set once
    _worker_today = today
    gc.set_threshold(young, *gc.get_threshold()[1:])  # the run's, as a forked worker has it


def _lint_batch(
    group: int, config: Config, paths: list[str]
) -> tuple[list[FileReport], dict[str, SetIndex[Ref]]]:
    engine = _worker_engines.get(group)
    if engine is None:
        engine = _worker_engines[group] = Engine(config, today=_worker_today)
    collector: Collector[Ref] = engine.collector()
    return [lint_file(p, engine, collector=collector) for p in paths], collector.sets


SPILL_AFTER = 5000
"""Findings kept in memory before the spool moves them to a temporary file."""

INDEX_HELD = 4096
"""Entries of the spool's index (a file's findings: where they are in the temporary file) held
in memory; the spool then writes them to the file too, sorted by path."""


class Spool:
    """The findings of a run by file, read back file by file in the order reports list them
    (by path; within a file by line, column and code, as `output.Run.of` sorts them).

    Once on disk, neither the findings nor the index of where each file's are stays in memory:
    the index is written out in sorted runs of INDEX_HELD entries, merged when read back."""

    def __init__(self) -> None:
        self._memory: dict[str, list[Located]] = {}
        self._index: list[tuple[str, int]] = []
        self._runs: list[tuple[int, int]] = []
        """(offset, entries) of each sorted run of the index written to the file."""
        self._file: IO[bytes] | None = None
        self._held = 0
        self.count = 0

    def add(self, path: str, found: list[Located]) -> None:
        if not found:
            return
        self.count += len(found)
        if self._file is None:
            self._memory.setdefault(path, []).extend(found)
            self._held += len(found)
            if self._held > SPILL_AFTER:
                self._spill()
            return
        self._write(path, found)

    def _spill(self) -> None:
        import tempfile

        # Open until close(): the spool is read back after the run.
        self._file = tempfile.TemporaryFile(prefix="mllint-")  # noqa: SIM115
        memory, self._memory = self._memory, {}
        for path, found in memory.items():
            self._write(path, found)

    def _write(self, path: str, found: list[Located]) -> None:
        import pickle

        assert self._file is not None
        self._index.append((path, self._file.tell()))
        pickle.dump(found, self._file, pickle.HIGHEST_PROTOCOL)
        if len(self._index) >= INDEX_HELD:
            self._write_index()

    def _write_index(self) -> None:
        """The index held, sorted by path (a file's entries in the order they were added)."""
        import pickle

        assert self._file is not None
        self._index.sort(key=_path)
        self._runs.append((self._file.tell(), len(self._index)))
        for entry in self._index:
            pickle.dump(entry, self._file, pickle.HIGHEST_PROTOCOL)
        self._index = []

    def _run(self, offset: int, entries: int) -> Iterator[tuple[str, int]]:
        import pickle

        assert self._file is not None
        for _ in range(entries):
            self._file.seek(offset)
            entry: tuple[str, int] = pickle.load(self._file)
            offset = self._file.tell()
            yield entry

    def _files(self) -> Iterator[tuple[str, list[Located]]]:
        """Each file's findings in the order they were added, files by path."""
        if self._file is None:
            for path in sorted(self._memory):
                yield path, list(self._memory[path])
            return
        import heapq
        import itertools
        import pickle

        if self._index:
            self._write_index()
        merged = heapq.merge(*(self._run(*run) for run in self._runs), key=_path)
        for path, entries in itertools.groupby(merged, key=_path):
            found: list[Located] = []
            for _, offset in entries:
                self._file.seek(offset)
                found += pickle.load(self._file)
            self._file.seek(0, os.SEEK_END)  # where the next findings go
            yield path, found

    def each(self) -> Iterator[Located]:
        """Every finding, file by file."""
        for _, found in self._files():
            found.sort(key=lambda f: (f.line, f.column, f.finding.code))
            yield from found

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _path(entry: tuple[str, int]) -> str:
    return entry[0]


class Gathered(Record):
    """What a run has found so far: counts, notes, set summaries, findings spooled."""

    _fields = (
        "stdin_name",
        "keep_paths",
        "files",
        "documents",
        "objects",
        "skipped",
        "failed",
        "templates",
        "paths",
        "unreadable",
        "notes",
        "collectors",
        "fail_on",
        "spool",
        "tally",
        "rules",
        "by_folder",
        "folder",
    )

    stdin_name: str | None
    keep_paths: bool
    """Whether to remember every path (the JUnit report lists the clean files too)."""
    files: int
    documents: int
    objects: int
    skipped: int
    failed: int
    templates: int
    paths: list[str]
    unreadable: set[str]
    notes: dict[int, list[tuple[str, str]]]
    collectors: dict[int, Collector[Ref]]
    fail_on: dict[int, Severity]
    spool: Spool
    tally: Tally
    rules: dict[str, Rule]
    """The rules of the run by code: the built-in ones and each configuration's team rules."""
    by_folder: bool
    """Whether the files come folder by folder (`discover.folder_by_folder`): a folder's
    whole-set findings are then settled, and its summaries let go, once the run has left it."""
    folder: str | None
    """The set of the last file added."""

    def __init__(
        self,
        stdin_name: str | None = None,
        keep_paths: bool = False,
        files: int = 0,
        documents: int = 0,
        objects: int = 0,
        *,
        skipped: int = 0,
        failed: int = 0,
        templates: int = 0,
        paths: list[str] | None = None,
        unreadable: set[str] | None = None,
        notes: dict[int, list[tuple[str, str]]] | None = None,
        collectors: dict[int, Collector[Ref]] | None = None,
        fail_on: dict[int, Severity] | None = None,
        spool: Spool | None = None,
        tally: Tally | None = None,
        rules: dict[str, Rule] | None = None,
        by_folder: bool = False,
        folder: str | None = None,
    ) -> None:
        self.stdin_name = stdin_name
        self.keep_paths = keep_paths
        self.files = files
        self.documents = documents
        self.objects = objects
        self.skipped = skipped
        self.failed = failed
        self.templates = templates
        self.paths = [] if paths is None else paths
        self.unreadable = set() if unreadable is None else unreadable
        self.notes = {} if notes is None else notes
        self.collectors = {} if collectors is None else collectors
        self.fail_on = {} if fail_on is None else fail_on
        self.spool = Spool() if spool is None else spool
        self.tally = Tally() if tally is None else tally
        self.rules = {r.code: r for r in REGISTRY.rules} if rules is None else rules
        self.by_folder = by_folder
        self.folder = folder

    def add(self, done: Done, engine: Engine) -> None:
        group = done.batch.group
        collector = self.collectors.get(group)
        if collector is None:
            collector = self.collectors[group] = engine.collector()
            self.fail_on[group] = engine.config.fail_on
            self.rules.update((r.code, r) for r in engine.registry.rules)
            self.notes[group] = []
        collector.merge(done.sets)
        fail_on = self.fail_on[group]
        for report in done.reports:
            if self.by_folder:
                self._enter(set_of(report.path))
            report = named(report, self.stdin_name)  # noqa: PLW2901 - stdin under its name
            self.files += 1
            self.documents += report.documents
            self.objects += report.objects
            self.skipped += report.skipped
            self.failed += report.failed
            if report.note is not None:
                self.templates += 1
                self.notes[group].append((report.path, report.note))
            if report.failed:
                self.unreadable.add(report.path)
            if self.keep_paths:
                self.paths.append(report.path)
            for finding in report.findings:
                self.tally.add(finding, fail_on)
            self.spool.add(report.path, report.findings)

    def _enter(self, folder: str) -> None:
        """A file of `folder` comes next: settle the folders the run has left."""
        last, self.folder = self.folder, folder
        if last is None or last == folder:
            return
        top = _left(last, folder)
        if top is None:
            return
        for group, collector in self.collectors.items():
            if collector.active:
                self._settle(group, collector.left(top))

    def set_findings(self) -> None:
        """Spool the whole-set rules' findings not settled yet, each group's from its own
        objects."""
        for group, collector in self.collectors.items():
            if collector.active:
                self._settle(group, collector.findings())

    def _settle(self, group: int, settled: Iterable[tuple[Ref, Finding]]) -> None:
        found: dict[str, list[Located]] = {}
        engine = self.collectors[group].engine
        for ref, finding, where, origin in place(settled, engine, read):
            path = self.stdin_name if ref.path == STDIN and self.stdin_name else ref.path
            located = Located(finding, path, where.line, where.column, origin)
            self.tally.add(located, self.fail_on[group])
            found.setdefault(path, []).append(located)
        for path, placed in found.items():
            self.spool.add(path, placed)


def _left(last: str, folder: str) -> str | None:
    """The outermost folder of `last` (a set's name, a `/`-separated path) that `folder` is
    not in; None when `folder` is `last` or below it."""
    if folder == last or folder.startswith(last.rstrip("/") + "/"):
        return None
    old, new = last.split("/"), folder.split("/")
    common = 0
    while common < min(len(old), len(new)) and old[common] == new[common]:
        common += 1
    return "/".join(old[: common + 1])


def lint_many(paths: Iterable[str], engine: Engine, jobs: int = 0) -> list[FileReport]:
    """Reports for `paths`, in order, whole-set findings included: the run as one list, for
    callers that want every report at once (a command-line run streams instead)."""
    runner = Runner(jobs, engine.today, {0: engine})
    collector: Collector[Ref] = engine.collector()
    reports: list[FileReport] = []
    for done in runner.run(batches((0, engine.config, p) for p in paths)):
        collector.merge(done.sets)
        reports += done.reports
    add_set_findings(reports, collector, read)
    return reports
