"""Under load: thousands of requests over 16 keep-alive TLS connections with zero errors, and a
SIGTERM in the middle of the load loses no request (loopback only, bounded in count and time)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_helpers import (
    PKI,
    Running,
    client_context,
    deployment,
    https_client,
    job,
    review,
    start_process,
)

CONNECTIONS = 16
PER_CONNECTION = 150


def answer_ok(response: httpx.Response, uid: str) -> bool:
    if response.status_code != 200:
        return False
    body: dict[str, Any] = response.json()
    return bool(body["kind"] == "AdmissionReview" and body["response"]["uid"] == uid)


def run_workers(count: int, work: Callable[[int], None]) -> None:
    workers = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a load worker is stuck"


def test_bounded_load_has_no_errors(webhook: Running, pki: PKI) -> None:
    ctx = client_context(pki.ca.path)
    errors: list[str] = []
    done: list[int] = []
    objects = [deployment(), deployment(image="bert:latest"), job()]

    def work(worker: int) -> None:
        with https_client(webhook.port, ctx, connections=1) as client:
            for i in range(PER_CONNECTION):
                uid = f"load-{worker}-{i}"
                path = "/mutate" if i % 2 else "/validate"
                try:
                    response = client.post(
                        path,
                        json=review(objects[i % len(objects)], uid=uid),
                        params={"timeout": "10s"},
                    )
                    if not answer_ok(response, uid):
                        errors.append(response.text)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                done.append(1)

    run_workers(CONNECTIONS, work)
    assert errors == []
    assert len(done) == CONNECTIONS * PER_CONNECTION


@pytest.mark.parametrize("delay", ["0", "0.5"])
def test_sigterm_under_load_loses_no_request(tmp_path: Path, pki: PKI, delay: str) -> None:
    running = start_process(tmp_path, pki, env={"MLLINT_SHUTDOWN_DELAY": delay})
    ctx = client_context(pki.ca.path)
    answered: list[str] = []
    lost: list[str] = []
    stopped = threading.Event()
    signalled = threading.Event()
    after_signal: list[str] = []

    def work(worker: int) -> None:
        with https_client(running.port, ctx, connections=1) as client:
            for i in range(100_000):
                uid = f"term-{worker}-{i}"
                try:
                    response = client.post("/validate", json=review(job(), uid=uid))
                except httpx.ConnectError:
                    return  # the listener is closed: the request was never accepted
                except httpx.HTTPError as exc:
                    lost.append(f"{uid}: {exc!r}")
                    return
                if not answer_ok(response, uid):
                    lost.append(f"{uid}: {response.status_code} {response.text}")
                answered.append(uid)
                if signalled.is_set():
                    after_signal.append(uid)
                if len(answered) >= 400 and not stopped.is_set():
                    stopped.set()
                    assert running.process is not None
                    running.process.send_signal(signal.SIGTERM)
                    signalled.set()

    try:
        run_workers(CONNECTIONS, work)
        assert running.process is not None
        code = running.process.wait(timeout=60)
    finally:
        running.stop()
    assert lost == []
    assert after_signal, "nothing was answered while draining"
    assert code == 0, running.logs()
    assert "Traceback" not in running.logs()
