"""The forked worker pool of a lint run: real processes answering over pipes, one that dies,
one given work after it died, and no process left behind however the pool ends."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from mllint.linter.pool import Pool

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux")


def _serve(task: tuple[str, int]) -> Any:
    """Doubles a number; "die" ends the worker as the out-of-memory killer would."""
    what, number = task
    if what == "die":
        os._exit(9)
    return os.getpid(), number * 2


def _gone(pid: int) -> bool:
    """Whether `pid` is no child of this process any more (it was waited for)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _all(pool: Pool, given: int) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    while len(found) < given:
        found += pool.answers(wait=True)
    return found


def test_workers_answer_each_task_in_order_and_end_when_closed() -> None:
    pool = Pool(2, _serve)
    pids = [w.pid for w in pool.workers]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    for n in range(20):
        worker = pool.idlest()
        assert worker is not None
        assert pool.give(worker, ("double", n), n) == []
    found = _all(pool, 20)
    assert sorted(token for token, _ in found) == list(range(20))
    assert all(answer[1] == token * 2 for token, answer in found)
    assert {answer[0] for _, answer in found} == set(pids)  # both did some
    by_worker: dict[int, list[int]] = {}
    for token, answer in found:
        by_worker.setdefault(answer[0], []).append(token)
    assert all(tokens == sorted(tokens) for tokens in by_worker.values())
    pool.close()
    assert pool.workers == []
    assert all(_gone(pid) for pid in pids)


def test_a_worker_that_dies_gives_back_what_it_held_and_the_others_go_on() -> None:
    pool = Pool(2, _serve)
    first, second = pool.workers
    # Answers come back from give() too when the worker is seen dead by then.
    early = pool.give(first, ("double", 1), "a")
    early += pool.give(first, ("die", 0), "b")
    early += pool.give(first, ("double", 3), "c")
    early += pool.give(second, ("double", 4), "d")
    found = dict(early + _all(pool, 4 - len(early)))
    assert found["a"] == (first.pid, 2)  # answered before it died
    assert found["b"] is None and found["c"] is None
    assert found["d"] == (second.pid, 8)
    assert pool.workers == [second]
    assert _gone(first.pid)  # waited for: no zombie
    assert pool.give(second, ("double", 5), "e") == []
    assert dict(_all(pool, 1)) == {"e": (second.pid, 10)}
    pool.close()
    assert _gone(second.pid)


def test_work_given_to_a_worker_already_dead_comes_back_unanswered() -> None:
    pool = Pool(1, _serve)
    (worker,) = pool.workers
    assert pool.give(worker, ("die", 0), "a") == []
    os.waitid(os.P_PID, worker.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet waited for
    answers = pool.give(worker, ("double", 1), "b")
    answers += pool.answers(wait=False) if pool.workers else []
    assert sorted(answers, key=str) == [("a", None), ("b", None)]
    assert pool.workers == []
    assert pool.idlest() is None
    assert pool.answers(wait=True) == []  # nothing left to wait for
    assert _gone(worker.pid)


def test_a_pool_left_by_an_exception_ends_its_workers_at_once() -> None:
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), Pool(2, _serve) as pool:
        pids = [w.pid for w in pool.workers]
        for worker in pool.workers:
            pool.give(worker, ("double", 1), worker.pid)
        raise KeyboardInterrupt
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids)
