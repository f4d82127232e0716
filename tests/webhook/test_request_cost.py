"""What a request costs the server beyond its judgement, shown by counts rather than times: the
pages it takes from the kernel, the TLS records of its answer and the timers it schedules. Real
`mllint serve` over TLS on loopback (in a subprocess, or in a thread to see its event loop);
Linux's /proc for the page count."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webhook_helpers import (
    SERVICE_NAME,
    Running,
    client_context,
    deployment,
    https_client,
    review,
    wait_for,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def minor_faults(pid: int) -> int:
    """Pages the process has been given fresh by the kernel so far (/proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[7])


def test_requests_take_no_fresh_pages(webhook: Running) -> None:
    """Answering a request reuses the server's memory. A request that mapped fresh pages (as
    asyncio's 256 KiB TLS read buffers would, past the server's fixed mmap threshold) pays
    system calls and page faults each time, about a fifth of its CPU time."""
    assert webhook.process is not None
    body = review(deployment())
    with https_client(webhook.port, client_context(webhook.ca), connections=1) as client:
        for _ in range(50):
            assert client.post("/validate", json=body).status_code == 200
        before = minor_faults(webhook.process.pid)
        for _ in range(400):
            assert client.post("/validate", json=body).status_code == 200
        faults = minor_faults(webhook.process.pid) - before
    print(f"page faults: {faults} in 400 requests")
    assert faults < 400


def test_an_answer_is_one_tls_record(webhook: Running) -> None:
    """The head and the body of an answer go out together: one TLS record (one read of the
    client's TLS layer returns it whole) and one system call, where two would cost both twice.
    The connection stays open for the next request, which is answered the same way."""
    payload = json.dumps(review(deployment())).encode()
    request = b"".join(raw_request(payload))
    ctx = client_context(webhook.ca)
    with (
        socket.create_connection(("127.0.0.1", webhook.port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname=SERVICE_NAME) as sock,
    ):
        for _ in range(3):
            sock.sendall(request)
            time.sleep(0.3)  # both records of a split answer would have arrived by now
            record = sock.recv(1 << 20)
            head, _, body = record.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), record
            assert len(body) == content_length(head), record
            answer = json.loads(body)
            assert answer["response"]["allowed"] is True
            assert answer["response"]["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"


def raw_request(payload: bytes) -> tuple[bytes, bytes]:
    """A /validate request's head and body, as a client writes them."""
    head = (
        b"POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n"
    )
    return head, payload


def content_length(head: bytes) -> int:
    """The Content-Length an answer's head gives."""
    return next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )


def read_answer(sock: ssl.SSLSocket) -> dict[str, Any]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    length = content_length(head)
    while len(body) < length:
        body += sock.recv(65536)
    answer: dict[str, Any] = json.loads(body)
    return answer


def test_a_body_received_whole_is_read_without_a_timer(serve: Callable[..., Running]) -> None:
    """A body that came in one piece with its head is read at once: no deadline timer is
    scheduled on the event loop for it (nor a reading slot taken), as none could come into
    play. A body still on its way when the request starts is read under its deadline."""
    running = serve()
    assert running.server is not None
    loop = running.server.servers[0].get_loop()
    deadlines: list[asyncio.TimerHandle] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        handle = call_at(when, callback, *args, context=context)
        if isinstance(getattr(callback, "__self__", None), asyncio.Timeout):
            deadlines.append(handle)
        return handle

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    head, body = raw_request(json.dumps(review(deployment())).encode())
    ctx = client_context(running.ca)
    with (
        socket.create_connection(("127.0.0.1", running.port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname=SERVICE_NAME) as sock,
    ):
        for _ in range(20):
            sock.sendall(head + body)  # one TLS record: it arrives whole
            assert read_answer(sock)["response"]["allowed"] is True
        assert deadlines == []
        sock.sendall(head + body[:100])
        wait_for(lambda: bool(deadlines), "the body's deadline to be set")
        sock.sendall(body[100:])
        assert read_answer(sock)["response"]["allowed"] is True
    assert len(deadlines) == 1
    assert deadlines[0].cancelled()  # the body arrived in time
