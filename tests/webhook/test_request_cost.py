"""What a request costs the server beyond its judgement, shown by counts rather than times: the
pages it takes from the kernel and the TLS records of its answer. Real `mllint serve` over TLS
on loopback; Linux's /proc for the page count."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest
from webhook_helpers import (
    SERVICE_NAME,
    Running,
    client_context,
    deployment,
    https_client,
    review,
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
    request = (
        b"POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )
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
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert len(body) == length, record
            answer = json.loads(body)
            assert answer["response"]["allowed"] is True
            assert answer["response"]["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
