"""The webhook under attack and odd input: slow clients, many connections, the largest objects,
values that do not encode, label values from requests. Real TLS on loopback against the real
`mllint serve` subprocess; memory read from /proc."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_helpers import (
    PKI,
    SERVICE_NAME,
    Running,
    client_context,
    https_client,
    job,
    patch_of,
    review,
    start_process,
)

MiB = 1024 * 1024
DEPLOY_LIMIT_MIB = 256
"""deploy/base/deployment.yaml: the container's memory limit."""


@contextlib.contextmanager
def connection(running: Running) -> Iterator[httpx.Client]:
    """A client of its own, closed after use: the shared server keeps no idle connection."""
    with https_client(running.port, client_context(running.ca), connections=1) as client:
        yield client


def memory_mib(pid: int) -> float:
    """The memory of the server and its judging workers: the sum of their proportional set
    sizes (shared pages counted once in all, as the container's memory limit counts them)."""
    pids = [pid]
    for each in pids:
        for task in Path(f"/proc/{each}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(c) for c in children if int(c) not in pids]
    total = 0
    for each in pids:
        for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def tls_socket(running: Running) -> ssl.SSLSocket:
    ctx = client_context(running.ca)
    raw = socket.create_connection(("127.0.0.1", running.port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname=SERVICE_NAME)


def closed_by_server(sock: ssl.SSLSocket, within: float) -> bool:
    """Whether the server closes the connection (or answers and closes) within `within` s."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except (ssl.SSLError, OSError):
        return True
    return True


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[Running]:
    """`mllint serve` with short header and body deadlines, so the tests wait little."""
    running = start_process(
        tmp_path_factory.mktemp("guarded"),
        pki,
        env={"MLLINT_HEADER_TIMEOUT": "1", "MLLINT_BODY_TIMEOUT": "2"},
    )
    yield running
    running.stop()


def test_slow_clients_hold_no_memory(guarded: Running) -> None:
    """70 TLS connections each send most of a 3 MiB body and stop: the server stays well under
    the deploy/ memory limit, cuts them after the body deadline, and gives the memory back."""
    assert guarded.process is not None
    pid = guarded.process.pid
    base = memory_mib(pid)
    head = (
        "POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {3 * MiB}\r\n\r\n"
    ).encode()
    payload = b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid'
    payload += b'": "u", "x": "' + b"x" * (3 * MiB - 200)
    sockets: list[ssl.SSLSocket] = []
    peak = base

    def attack(sock: ssl.SSLSocket) -> None:
        with contextlib.suppress(OSError):  # cut by the server: what it should do
            sock.sendall(head + payload)

    threads = []
    for _ in range(70):
        sock = tls_socket(guarded)
        sockets.append(sock)
        thread = threading.Thread(target=attack, args=(sock,), daemon=True)
        thread.start()
        threads.append(thread)
    until = time.monotonic() + 4
    while time.monotonic() < until:
        peak = max(peak, memory_mib(pid))
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=10)
    for sock in sockets:
        sock.close()
    time.sleep(1)
    after = memory_mib(pid)
    print(
        f"memory (PSS of the server and its workers): base {base:.0f} MiB, "
        f"peak {peak:.0f} MiB, after {after:.0f} MiB"
    )
    assert peak < DEPLOY_LIMIT_MIB * 0.6
    assert after < base + 40
    with connection(guarded) as client:
        assert client.get("/healthz").status_code == 200


def test_trickled_headers_are_cut(guarded: Running) -> None:
    sock = tls_socket(guarded)
    try:
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a byte at a time, each under the deadline, never finishing
            time.sleep(0.4)
            sock.sendall(b"X")
        assert closed_by_server(sock, 3)
    finally:
        sock.close()


def test_an_idle_connection_that_never_sends_is_cut(guarded: Running) -> None:
    sock = tls_socket(guarded)
    try:
        assert closed_by_server(sock, 3)
    finally:
        sock.close()


def test_a_trickled_body_gets_a_408_and_is_cut(guarded: Running) -> None:
    sock = tls_socket(guarded)
    try:
        sock.sendall(
            b'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"apiVersion"'
        )
        sock.settimeout(5)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = sock.recv(4096)
            if not part:
                break
            answer += part
        assert answer.startswith(b"HTTP/1.1 408")
        assert closed_by_server(sock, 3)
    finally:
        sock.close()


def big_job(size: int) -> dict[str, Any]:
    """A GPU Job with thousands of containers, about `size` bytes as JSON: the costliest kind
    of object to judge that the API server accepts (3 MiB)."""
    obj = job()
    containers = obj["spec"]["template"]["spec"]["containers"]
    first = containers[0]
    count = size // (len(json.dumps(first)) + 12)
    containers[:] = [dict(first, name=f"c{i}") for i in range(count)]
    return obj


def test_health_answers_while_the_largest_objects_are_judged(webhook: Running) -> None:
    """Three 2.7 MiB Jobs judged at once: /healthz keeps answering in the meantime, so the
    kubelet's probes never see a busy webhook as a dead one."""
    body = json.dumps(review(big_job(int(2.7 * MiB)), dry_run=True))
    done: list[float] = []
    answers: list[int] = []

    def judge() -> None:
        with connection(webhook) as client:
            response = client.post("/validate", content=body, params={"timeout": "30s"})
        answers.append(response.status_code)
        done.append(time.monotonic())

    threads = [threading.Thread(target=judge) for _ in range(3)]
    for thread in threads:
        thread.start()
    latencies: list[float] = []
    health_done: list[float] = []
    with connection(webhook) as client:
        time.sleep(0.2)  # the bodies are on their way
        while len(done) < 3:
            start = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - start)
            health_done.append(time.monotonic())
            time.sleep(0.02)
    for thread in threads:
        thread.join()
    assert answers == [200, 200, 200]
    answered_while_judging = [t for t in health_done if t < done[0]]
    print(
        f"health: {len(latencies)} probes while judging, max {max(latencies) * 1000:.0f} ms, "
        f"{len(answered_while_judging)} before the first judgement finished; "
        f"{[round(x * 1000) for x in latencies]}"
    )
    assert len(answered_while_judging) >= 5


def raw_post(running: Running, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    with connection(running) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    return response.status_code, response.json()


def test_a_lone_surrogate_in_a_name_is_answered_and_counted(
    serve: Callable[..., Running],
) -> None:
    running = serve()
    obj = job()
    obj["metadata"]["name"] = "train-\ud800"
    body = json.dumps(review(obj)).encode()  # escaped as \\ud800: valid JSON
    answers = {path: raw_post(running, path, body) for path in ("/validate", "/mutate")}
    for status, answer in answers.values():
        assert status == 200
        assert answer["response"]["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
    validated = answers["/validate"][1]["response"]
    assert validated["allowed"] is False  # judged (ML101), not admitted by the failure mode
    assert "train-\ud800" in validated["status"]["message"]
    with connection(running) as client:
        metrics = client.get("/metrics").text
    counted = 'decision="deny",dry_run="false",endpoint="validate",kind="Job",operation="CREATE"'
    assert f"mllint_webhook_requests_total{{{counted}}} 1.0" in metrics


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_bodies_are_refused_as_the_docs_say(
    webhook: Running, encoding: str
) -> None:
    body = json.dumps(review(job())).encode(encoding)
    with connection(webhook) as client:
        response = client.post("/validate", content=body)
    assert response.status_code == 400
    assert "not UTF-8 encoded JSON" in response.json()["message"]


def test_metric_labels_stay_a_small_set(serve: Callable[..., Running]) -> None:
    running = serve()
    client = running.client()
    size = len(client.get("/metrics").text)
    for i in range(300):
        sent = review(job(), operation=f"OP{i}")
        sent["request"]["kind"]["kind"] = f"Kind{i}"
        assert client.post("/validate", json=sent).status_code == 200
    metrics = client.get("/metrics").text
    assert 'kind="other"' in metrics and 'operation="other"' in metrics
    assert "Kind17" not in metrics and "OP17" not in metrics
    assert len(metrics) < size + 4000


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_every_unjudgeable_object_follows_the_failure_mode(
    serve: Callable[..., Running], mode: str
) -> None:
    """Too deep to decode, too deep to copy for a patch, too large: each is an
    AdmissionReview that allows with a warning (open) or denies (closed)."""
    running = serve(failure_mode=mode)
    deep = json.dumps(review(job(parallelism="DEEP")))
    bodies = {
        "decode": deep.replace('"DEEP"', "[" * 5000 + "]" * 5000),
        "copy": deep.replace('"DEEP"', "[" * 950 + "]" * 950),
        "size": json.dumps(review(job(parallelism="x" * (3 * MiB)))),
    }
    for name, body in bodies.items():
        for path in ("/validate", "/mutate"):
            with connection(running) as client:
                response = client.post(path, content=body.encode())
            assert response.status_code == 200, (name, path, response.text)
            answer = response.json()["response"]
            if "could not check this object" not in json.dumps(answer):
                assert name == "copy", (name, path)  # deep, but judged after all
                continue
            if mode == "open":
                assert answer["allowed"] is True, (name, path)
                assert "could not check this object" in answer["warnings"][0]
            else:
                assert answer["allowed"] is False, (name, path)
                assert "fails closed" in answer["status"]["message"]


def test_mutate_creates_a_null_limits_and_keeps_the_other_fixes(webhook: Running) -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = None
    ops = patch_of(webhook.mutate(review(obj)))
    paths = {op["path"] for op in ops}
    assert "/spec/template/spec/containers/0/resources/limits" in paths
    assert "/spec/ttlSecondsAfterFinished" in paths  # ML204's fix is kept


def test_connections_beyond_the_limit_get_a_503(serve: Callable[..., Running]) -> None:
    running = serve(max_connections=3)
    held = [tls_socket(running) for _ in range(3)]
    try:
        with connection(running) as client:
            assert client.get("/healthz").status_code == 503
        for sock in held:
            sock.close()
        time.sleep(0.2)
        with connection(running) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        for sock in held:
            sock.close()
