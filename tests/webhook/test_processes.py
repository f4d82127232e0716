"""`mllint serve --processes N`: every process answers on the one port, /metrics reports the
whole server whichever process answers it, a rotated certificate reaches every process, SIGTERM
ends them all, a process that dies ends the server with a failure, and a bad N is refused.
Real `mllint serve` subprocesses, real TLS on loopback, processes read from /proc."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families
from webhook_helpers import (
    PKI,
    SERVING_NAMES,
    Running,
    client_context,
    deployment,
    https_client,
    review,
    start_process,
    wait_for,
)

from mllint.webhook.processes import listening_socket
from mllint.webhook.server import main


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


ESTABLISHED, LISTEN = "01", "0A"


def sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets of local port `port` in `state` process `pid` holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def scrape(running: Running) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One /metrics answer, on a connection of its own."""
    with https_client(running.port, client_context(running.ca), connections=1) as client:
        text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_answered(running: Running) -> float:
    return sum(
        value
        for (name, _), value in scrape(running).items()
        if name == "mllint_webhook_requests_total"
    )


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def start_two(
    tmp_path: Path, pki: PKI, args: list[str], env: dict[str, str] | None = None
) -> Running:
    """`mllint serve --processes 2`, once both server processes listen."""
    running = start_process(tmp_path, pki, ["--processes", "2", *args], env)
    assert running.process is not None
    supervisor = running.process.pid

    def all_listening() -> bool:
        servers = children(supervisor)
        return len(servers) == 2 and all(sockets(pid, running.port, LISTEN) for pid in servers)

    try:
        wait_for(all_listening, "both server processes to listen")
    except AssertionError:
        running.stop()
        raise
    return running


@pytest.fixture
def two(tmp_path: Path, pki: PKI, rules_config: Path) -> Iterator[Running]:
    running = start_two(tmp_path, pki, ["--config", str(rules_config)])
    yield running
    running.stop()


def test_every_process_answers_and_metrics_count_them_all(two: Running) -> None:
    assert two.process is not None
    servers = children(two.process.pid)
    ctx = client_context(two.ca)
    clients = [https_client(two.port, ctx, connections=1) for _ in range(24)]
    try:
        for client in clients:
            answer = client.post("/validate", json=review(deployment())).json()
            assert answer["response"]["allowed"] is True
        # The kernel spreads connections over the processes' sockets by their addresses: 24
        # connections all landing on one of two processes has odds of 1 in 8 million.
        held = [sockets(pid, two.port, ESTABLISHED) for pid in servers]
        assert sum(held) == 24 and all(held), held
    finally:
        for client in clients:
            client.close()
    # Whichever process answers the scrape, it counts every process's requests.
    assert [requests_answered(two) for _ in range(6)] == [24.0] * 6
    two.stop()
    assert two.process.returncode == 0


def test_sigterm_drains_and_ends_every_process(tmp_path: Path, pki: PKI) -> None:
    running = start_two(tmp_path, pki, [], env={"MLLINT_SHUTDOWN_DELAY": "10"})
    try:
        assert running.process is not None
        servers = children(running.process.pid)
        workers = [w for pid in servers for w in children(pid)]
        assert len(workers) == 4  # two judging workers each, by default
        running.process.send_signal(signal.SIGTERM)
        # During the delay every process still accepts and fails readiness: 24 fresh
        # connections reach both (see above), and soon none finds a process still ready.
        ctx = client_context(running.ca)

        def none_ready() -> bool:
            for _ in range(24):
                with https_client(running.port, ctx, connections=1) as client:
                    if client.get("/readyz").json() != {"status": "shutting down"}:
                        return False
            return True

        wait_for(none_ready, "every process to fail readiness", timeout=8)
        assert running.process.wait(timeout=30) == 0
        assert all(gone(pid) for pid in servers)
        wait_for(lambda: all(gone(pid) for pid in workers), "the judging workers to end")
        assert "Traceback" not in running.logs()
    finally:
        running.stop()


def test_a_process_that_dies_ends_the_server(two: Running) -> None:
    assert two.process is not None
    first, second = children(two.process.pid)
    os.kill(first, signal.SIGKILL)
    assert two.process.wait(timeout=30) == 1
    assert gone(second)
    logs = two.logs()
    assert "a server process ended; stopping the others" in logs
    assert f'"pid": {first}, "how": "killed by SIGKILL"' in logs


def test_rotated_certificate_reaches_every_process(tmp_path: Path, pki: PKI) -> None:
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(pki.cert, live / "tls.crt")
    shutil.copy(pki.key, live / "tls.key")
    running = start_two(
        tmp_path,
        PKI(pki.ca, live / "tls.crt", live / "tls.key", live),
        [],
        env={"MLLINT_CERT_POLL_INTERVAL": "0.1"},
    )
    try:
        staged = tmp_path / "staged"
        cert, key, new = pki.ca.issue(staged, SERVING_NAMES, days=5)
        os.replace(key, live / "tls.key.new")
        os.replace(cert, live / "tls.crt.new")
        os.replace(live / "tls.key.new", live / "tls.key")
        os.replace(live / "tls.crt.new", live / "tls.crt")
        reloaded = ("mllint_webhook_certificate_reloads_total", (("result", "reloaded"),))
        wait_for(lambda: scrape(running).get(reloaded) == 2, "both processes to reload")
        expiry = ("mllint_webhook_certificate_expiry_timestamp_seconds", ())
        assert scrape(running)[expiry] == new.not_valid_after_utc.timestamp()
        ctx = client_context(pki.ca.path)
        for _ in range(12):
            with https_client(running.port, ctx, connections=1) as client:
                response = client.get("/healthz")
                peer = response.extensions["network_stream"].get_extra_info("ssl_object")
                served = x509.load_der_x509_certificate(peer.getpeercert(True))
                assert served.serial_number == new.serial_number
    finally:
        running.stop()


@pytest.mark.parametrize(
    "given,expected",
    [
        ((["--processes", "0"], {}), "Input should be greater than or equal to 1"),
        (([], {"MLLINT_PROCESSES": "65"}), "Input should be less than or equal to 64"),
        (([], {"MLLINT_PROCESSES": "two"}), "Input should be a valid integer"),
    ],
)
def test_bad_number_of_processes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pki: PKI,
    given: tuple[list[str], dict[str, str]],
    expected: str,
) -> None:
    argv, env = given
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["--cert-file", str(pki.cert), "--key-file", str(pki.key), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mllint serve: error: processes (MLLINT_PROCESSES): ")
    assert expected in err and "Traceback" not in err


def test_port_taken(pki: PKI) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *("mllint", "serve", "--cert-file", str(pki.cert), "--key-file", str(pki.key)),
                *("--host", "127.0.0.1", "--port", str(port), "--processes", "2"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("MLLINT_")},
        )
    assert done.returncode == 1
    assert '"message": "cannot bind the port"' in done.stderr and "Traceback" not in done.stderr


def test_accepted_connections_do_not_wait_for_acks() -> None:
    """Each process's socket hands asyncio connections with Nagle's algorithm off, as uvicorn's
    own socket does: otherwise an answer's last segment waits on the client's delayed ACK."""

    async def accept_one() -> int:
        sock = listening_socket("127.0.0.1", 0)
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connection(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accept_one()) != 0


def test_one_process_by_default(webhook: Running) -> None:
    """Without the flag the server is the process itself: its children are its two judging
    workers, which have none."""
    assert webhook.process is not None
    workers = children(webhook.process.pid)
    assert len(workers) == 2 and not any(children(pid) for pid in workers)


SCRAPE_BESIDE_A_NEW_FILE = """
import sys
from pathlib import Path
from mllint.webhook import metrics

directory = Path(sys.argv[1])
metrics.share_between_processes(directory)
own = metrics.Metrics()
own.patch_operations.inc(3)
(directory / "counter_999999.db").touch()  # a sibling's file, created and not yet sized
sys.stdout.write(own.exposition().decode())
"""


def test_a_scrape_beside_a_file_just_created(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE_BESIDE_A_NEW_FILE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "mllint_webhook_patch_operations_total 3.0" in done.stdout
