"""The webhook under the heaviest load it accepts: /healthz latency while the largest objects are
judged, and memory under slow clients, against the deploy/ memory limit.

    python bench/webhook_hardening.py [--rounds 3]

`mllint serve` runs as a subprocess on loopback with a throwaway certificate. Two measurements:

- health: three 2.7 MiB GPU Jobs (thousands of containers, dry runs) are sent at once, from
  one process, again and again; another process probes /healthz every 20 ms over its own TLS
  connection and times each probe. Printed: probes, p50, p99 and max, against the kubelet's
  1-second probe timeout and the 100 ms target.
- memory: 70 TLS connections each send most of a 3 MiB body and stop; the proportional set size
  of the server and its workers is sampled until the body deadline cuts them, and again after
  they close. Printed against the 256 MiB limit of deploy/.

Nothing here fails on time; the figures are for reading.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "webhook"))

from webhook_helpers import (  # noqa: E402 - the tests' helpers: certificates, objects, servers
    PKI,
    SERVICE_NAME,
    SERVING_NAMES,
    client_context,
    https_client,
    job,
    make_authority,
    review,
    start_process,
)

MiB = 1024 * 1024
LIMIT_MIB = 256


def big_job(size: int) -> dict[str, object]:
    obj = job()
    containers = obj["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    first = containers[0]
    count = size // (len(json.dumps(first)) + 12)
    containers[:] = [dict(first, name=f"c{i}") for i in range(count)]
    return obj


def probe(port: int, ca: str, seconds: float, out: multiprocessing.Queue[list[float]]) -> None:
    latencies = []
    with https_client(port, client_context(Path(ca)), connections=1) as client:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            start = time.perf_counter()
            client.get("/healthz")
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
    out.put(latencies)


def health(pki: PKI, tmp: Path, rounds: int) -> None:
    running = start_process(tmp, pki)
    try:
        body = json.dumps(review(big_job(int(2.7 * MiB)), dry_run=True))
        queue: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
        seconds = 4.0 * rounds
        prober = multiprocessing.Process(
            target=probe, args=(running.port, str(pki.ca.path), seconds, queue)
        )
        prober.start()
        judged = 0
        until = time.monotonic() + seconds

        def send() -> None:
            nonlocal judged
            client = running.client()
            while time.monotonic() < until:
                client.post("/validate", content=body, params={"timeout": "30s"})
                judged += 1

        senders = [threading.Thread(target=send) for _ in range(3)]
        for thread in senders:
            thread.start()
        latencies = sorted(queue.get())
        for thread in senders:
            thread.join()
        prober.join()
        ms = [x * 1000 for x in latencies]
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"health while judging {judged} 2.7 MiB Jobs (3 at a time): {len(ms)} probes, "
            f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms "
            f"(target 100 ms; kubelet timeout 1000 ms)"
        )
    finally:
        running.stop()


def pss_mib(pid: int) -> float:
    pids = [pid]
    for each in pids:
        for task in Path(f"/proc/{each}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    total = 0
    for each in pids:
        for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def memory(pki: PKI, tmp: Path) -> None:
    running = start_process(tmp, pki)
    assert running.process is not None
    pid = running.process.pid
    try:
        base = pss_mib(pid)
        head = (
            "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {3 * MiB}\r\n\r\n"
        ).encode()
        payload = b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
        payload += b'{"uid": "u", "x": "' + b"x" * (3 * MiB - 200)
        ctx = client_context(running.ca)
        sockets: list[ssl.SSLSocket] = []

        def attack() -> None:
            raw = socket.create_connection(("127.0.0.1", running.port), timeout=60)
            sock = ctx.wrap_socket(raw, server_hostname=SERVICE_NAME)
            sockets.append(sock)
            with contextlib.suppress(OSError):
                sock.sendall(head + payload)

        threads = [threading.Thread(target=attack, daemon=True) for _ in range(70)]
        for thread in threads:
            thread.start()
        peak = base
        until = time.monotonic() + 12
        while time.monotonic() < until:
            peak = max(peak, pss_mib(pid))
            time.sleep(0.05)
        for sock in sockets:
            sock.close()
        time.sleep(2)
        after = pss_mib(pid)
        print(
            f"memory under 70 slow 3 MiB bodies: before {base:.0f} MiB, peak {peak:.0f} MiB, "
            f"after {after:.0f} MiB (deploy/ limit {LIMIT_MIB} MiB: peak at "
            f"{peak / LIMIT_MIB:.0%})"
        )
    finally:
        running.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        ca = make_authority(tmp / "ca")
        cert, key, _ = ca.issue(tmp / "serving", SERVING_NAMES)
        pki = PKI(ca, cert, key, tmp)
        health(pki, tmp, args.rounds)
        memory(pki, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
