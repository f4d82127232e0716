"""Worker processes forked from this one and fed over pipes: what a lint run's workers need and
no more (multiprocessing costs 12-20 ms to import before any worker starts, and a thread to feed
its executor).

A worker reads tasks (pickled, each after its length) from its task pipe, answers each on its
answer pipe in the order given, and ends when the task pipe closes: when the pool closes it, or
when this process ends, however it ends. A worker that dies is seen as the end of its answer
pipe: the tasks it had not answered come back with no answer, and the other workers go on.
Ctrl-C is this process's to handle: workers ignore it, and the pool ends them when this process
leaves it by an exception.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, NoReturn

_LENGTH = struct.Struct("<Q")


class Worker:
    """A forked worker: its process, the pipe its tasks go down, the pipe its answers come up."""

    __slots__ = ("answers", "given", "held", "pid", "tasks")

    def __init__(self, pid: int, tasks: int, answers: int) -> None:
        self.pid = pid
        self.tasks = tasks
        self.answers = answers
        self.held: deque[Any] = deque()
        """The tokens of the tasks given and not answered yet, oldest first."""
        self.given: set[Any] = set()
        """What the caller has told this worker already (a configuration, say)."""


class Pool:
    """`size` workers forked now, each calling `serve` on its tasks."""

    def __init__(self, size: int, serve: Callable[[Any], Any]) -> None:
        self.workers: list[Worker] = []
        for _ in range(size):
            try:
                self._start(serve)
            except OSError:  # no more processes to be had: the run goes on with fewer
                break

    def _start(self, serve: Callable[[Any], Any]) -> None:
        task_out, task_in = os.pipe()
        answer_out, answer_in = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (task_out, task_in, answer_out, answer_in):
                os.close(fd)
            raise
        if pid == 0:
            theirs = [task_in, answer_out]
            for worker in self.workers:
                theirs += (worker.tasks, worker.answers)
            _work(serve, task_out, answer_in, theirs)
        os.close(task_out)
        os.close(answer_in)
        self.workers.append(Worker(pid, task_in, answer_out))

    def idlest(self) -> Worker | None:
        """The worker holding the fewest tasks; None when none is left."""
        return min(self.workers, key=lambda w: len(w.held), default=None)

    def give(self, worker: Worker, task: Any, token: Any) -> list[tuple[Any, Any]]:
        """Send `task` to `worker`, to be answered under `token`. Empty, or when the worker has
        died: the (token, answer) pairs it had left, None for those it never answered."""
        worker.held.append(token)
        try:
            _send(worker.tasks, pickle.dumps(task, pickle.HIGHEST_PROTOCOL))
        except BrokenPipeError:
            return self._ended(worker)
        return []

    def answers(self, wait: bool) -> list[tuple[Any, Any]]:
        """(token, answer) pairs ready now, or once one is when `wait`; the answer is None for
        the tasks of a worker that died."""
        busy = {w.answers: w for w in self.workers if w.held}
        if not busy:
            return []
        ready, _, _ = select.select(list(busy), [], [], None if wait else 0)
        found: list[tuple[Any, Any]] = []
        for fd in ready:
            worker = busy[fd]
            data = _receive(fd)
            if data is None:
                found += self._ended(worker)
            else:
                found.append((worker.held.popleft(), pickle.loads(data)))
        return found

    def _ended(self, worker: Worker) -> list[tuple[Any, Any]]:
        """A worker is gone: the answers it wrote before it died, then None for the rest."""
        found: list[tuple[Any, Any]] = []
        while worker.held and (data := _receive(worker.answers)) is not None:
            found.append((worker.held.popleft(), pickle.loads(data)))
        found += [(token, None) for token in worker.held]
        worker.held.clear()
        self.workers.remove(worker)
        _close(worker, kill=True)
        return found

    def close(self, kill: bool = False) -> None:
        """End the workers: when their tasks end (they have answered everything given), or at
        once (`kill`); either way they are waited for."""
        workers, self.workers = self.workers, []
        for worker in workers:
            _close(worker, kill)

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(kill=kind is not None)


def _close(worker: Worker, kill: bool) -> None:
    if kill:  # not waited for yet, so there until it is: dead or not, this cannot fail
        os.kill(worker.pid, signal.SIGKILL)
    os.close(worker.tasks)
    os.close(worker.answers)
    while True:
        try:
            os.waitpid(worker.pid, 0)
            return
        except ChildProcessError:
            return
        except KeyboardInterrupt:  # a second Ctrl-C: the worker is still waited for
            os.kill(worker.pid, signal.SIGKILL)


def _work(serve: Callable[[Any], Any], tasks: int, answers: int, theirs: list[int]) -> NoReturn:
    """A worker's life: answer tasks until they end, then leave without running anything of
    the process it was forked from (its exit handlers, its buffered output)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for fd in theirs:
            os.close(fd)
        for task in _tasks(tasks):
            _send(answers, pickle.dumps(serve(task), pickle.HIGHEST_PROTOCOL))
        os._exit(0)
    finally:  # an error, or this process gone (a broken pipe): the caller sees the pipe end
        os._exit(1)


def _tasks(fd: int) -> Iterator[Any]:
    while (data := _receive(fd)) is not None:
        yield pickle.loads(data)


def _send(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> bytes | None:
    """The next message of a pipe; None at its end (or in the middle of a message: its writer
    died)."""
    head = _exactly(fd, _LENGTH.size)
    if head is None:
        return None
    return _exactly(fd, _LENGTH.unpack(head)[0])


def _exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
