"""Latency and throughput of the webhook's /validate, against a bare FastAPI/uvicorn endpoint that
allows everything, on the same certificate and in the same run.

    python bench/webhook_latency.py [--seconds S] [--rounds R] [--client wrk|python]
                                    [--processes N[,N...]]

Both servers run as subprocesses on loopback with the same serving certificate and receive a
realistic Deployment AdmissionReview (a GPU model server, as the API server sends it, with
managedFields) over TLS keep-alive connections, 1 and then 16 at a time. The load comes from
`wrk`, a C load generator (installed from Debian's packages when missing and allowed), so that
the client's own cost does not hide the server's; a Python asyncio client is the fallback. The
baseline reads the body, parses it and answers `allowed` with the request's uid, which is the
least any webhook does. Servers are measured in alternating rounds and each figure is the median
of its rounds, so that a round disturbed by other work on the machine does not decide it. Ratios
are mllint over baseline (lower is better): targets at 16 connections are a throughput ratio and
a p99 ratio of at most 1.2, at 1 connection a p50 ratio of at most 1.2. Nothing here fails on time.
Each row also gives the server's CPU time per request (its processes' user and system time
from /proc, over the measured run), which other work on the machine disturbs far less than it
does the rates. `--processes 1,2` measures mllint once per number of server processes (`mllint serve
--processes N`), each in the same alternating rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAME = "mllint-webhook.mllint-system.svc"
TARGET = 1.2
WARMUP = 200

MLLINT = "import sys; from mllint.webhook.server import main; sys.exit(main(sys.argv[1:]))"
BASELINE = """
import json, sys
import uvicorn
from fastapi import FastAPI, Request, Response

app = FastAPI()

@app.post("/validate")
async def validate(request: Request) -> Response:
    review = json.loads(await request.body())
    answer = {"apiVersion": review["apiVersion"], "kind": "AdmissionReview",
              "response": {"uid": review["request"]["uid"], "allowed": True}}
    return Response(json.dumps(answer, separators=(",", ":")).encode(),
                    media_type="application/json")

port, cert, key = sys.argv[1:4]
uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=cert, ssl_keyfile=key,
            log_level="warning", access_log=False, server_header=False,
            timeout_keep_alive=120)
"""


def deployment() -> dict[str, Any]:
    """A vLLM model server as `kubectl apply` creates it: what the API server sends."""
    labels = {"app.kubernetes.io/name": "llm", "app.kubernetes.io/component": "server"}
    container = {
        "name": "vllm",
        "image": "vllm/vllm-openai:v0.6.3",
        "args": ["--model", "/models/llama-3-8b", "--tensor-parallel-size", "1", "--port", "8000"],
        "env": [
            {"name": "HF_HOME", "value": "/models/.cache"},
            {"name": "VLLM_WORKER_MULTIPROC_METHOD", "value": "spawn"},
            {
                "name": "HF_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}},
            },
        ],
        "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "8", "memory": "48Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "48Gi", "nvidia.com/gpu": "1"},
        },
        "startupProbe": {
            "httpGet": {"path": "/health", "port": 8000},
            "periodSeconds": 10,
            "failureThreshold": 60,
        },
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 15},
        "volumeMounts": [
            {"name": "models", "mountPath": "/models", "readOnly": True},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm", "namespace": "inference", "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels}},
    }
    managed = {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
                "f:spec": {"f:containers": {'k:{"name":"vllm"}': {".": {}, "f:image": {}}}},
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "llm",
            "namespace": "inference",
            "uid": "3c1e9d4a-0b1f-4a8e-9d57-2f0c6f1f5b11",
            "generation": 1,
            "creationTimestamp": "2025-01-15T09:30:00Z",
            "labels": labels,
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied),
            },
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "time": "2025-01-15T09:30:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": managed,
                }
            ],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 1200,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [container],
                    "volumes": [
                        {"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                    ],
                    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                    "tolerations": [
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 60,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                },
            },
        },
        "status": {},
    }


def review() -> bytes:
    obj = deployment()
    request = {
        "uid": "b6f1f1a2-5a5c-4c57-8d5e-0c9a1f3e2d10",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "requestResource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": "llm",
        "namespace": "inference",
        "operation": "CREATE",
        "userInfo": {
            "username": "alice@example.com",
            "groups": ["ml-platform", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {
            "kind": "CreateOptions",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kubectl",
        },
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.crt", directory / "tls.crt", directory / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def label(processes: int) -> str:
    return "mllint" if processes == 1 else f"mllint x{processes}"


@contextmanager
def server(
    kind: str, cert: Path, key: Path, ca: Path, processes: int = 1
) -> Iterator[tuple[int, int]]:
    """The server's port and process id, once it answers over TLS."""
    port = free_port()
    if kind == "mllint":
        args = [MLLINT, "--cert-file", str(cert), "--key-file", str(key)]
        args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        args += ["--processes", str(processes)]
    else:
        args = [BASELINE, str(port), str(cert), str(key)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLLINT_")}
    process = subprocess.Popen([sys.executable, "-c", *args], env=env)
    try:
        ctx = ssl.create_default_context(cafile=str(ca))
        deadline = time.monotonic() + 30
        while True:
            try:
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=1) as sock,
                    ctx.wrap_socket(sock, server_hostname=NAME),
                ):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {kind} server did not start") from None
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def connection(
    port: int, ctx: ssl.SSLContext, request: bytes, count: int, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=NAME)
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != b"200" or b'"allowed":true' not in body:
                raise SystemExit(f"unexpected answer: {status!r} {body[:200]!r}")
    finally:
        writer.close()


async def measure(
    port: int, ca: Path, body: bytes, clients: int, total: int
) -> tuple[list[float], float]:
    ctx = ssl.create_default_context(cafile=str(ca))
    request = (
        b"POST /validate?timeout=10s HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\n"
        b"Content-Type: application/json\r\nAccept: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await asyncio.gather(
        *(connection(port, ctx, request, WARMUP // clients + 1, []) for _ in range(clients))
    )
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(connection(port, ctx, request, total // clients, latencies) for _ in range(clients))
    )
    return latencies, time.perf_counter() - start


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local f = io.open(os.getenv("MLLINT_BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_available(install: bool) -> str | None:
    """The path of `wrk`, installing Debian's package first when allowed and possible."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("installing wrk (Debian package) ...", flush=True)
    for command in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"]) * 2:
        if shutil.which("wrk"):
            break
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return shutil.which("wrk")


def _millis(text: str) -> float:
    number = text.rstrip("usm")
    return float(number) * _UNITS[text[len(number) :]]


def server_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by a process and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        each = todo.pop()
        total += used.get(each, 0.0)
        todo += parents.get(each, [])
    return total


def measure_wrk(
    wrk: str, port: int, pid: int, files: tuple[Path, Path], *, clients: int, seconds: float
) -> tuple[float, float, float, float]:
    """p50 ms, p99 ms, requests per second and the server's CPU µs per request of one wrk run,
    after a short warm-up. The CPU figure is the steadiest when other work shares the machine:
    it does not count the time the server waited for a core."""
    script, body = files
    url = f"https://127.0.0.1:{port}/validate?timeout=10s"
    env = {**os.environ, "MLLINT_BENCH_BODY": str(body)}

    def run(duration: float) -> str:
        out = subprocess.run(
            [wrk, "-t1", f"-c{clients}", f"-d{duration:g}s", "--latency", "-s", str(script), url],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "Non-2xx" in out or "Socket errors" in out:
            raise SystemExit(f"wrk saw failed requests:\n{out}")
        return out

    run(1)
    before = server_cpu(pid)
    out = run(seconds)
    cpu = server_cpu(pid) - before
    found: dict[str, float] = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("50%", "99%"):
            found[words[0]] = _millis(words[1])
        elif line.startswith("Requests/sec:"):
            found["rate"] = float(words[1])
        elif "requests in" in line:
            found["count"] = int(words[0])
    return found["50%"], found["99%"], found["rate"], cpu / found["count"] * 1e6


def check_answer(port: int, ca: Path, body: bytes) -> None:
    """One request through the Python client, which checks the answer is an allow."""
    asyncio.run(measure(port, ca, body, 1, 1))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="per wrk run")
    parser.add_argument("--requests", type=int, default=3000, help="per run, Python client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install wrk")
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1],
        help="mllint's server processes; a comma-separated list measures each (default 1)",
    )
    args = parser.parse_args()
    servers = [("baseline", 1)] + [("mllint", n) for n in args.processes]
    wrk = wrk_available(not args.no_install) if args.client == "wrk" else None
    if args.client == "wrk" and wrk is None:
        print("wrk is not available: falling back to the Python client, whose own cost hides part")
        print("of the server's (install Debian's wrk package for a truer ratio)")
    body = review()
    client = "wrk" if wrk else "python"
    per_run = f"{args.seconds:g} s" if wrk else f"{args.requests} requests"
    print(f"AdmissionReview: {len(body)} bytes; client {client}, {per_run} x {args.rounds} rounds")
    rounds: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    names = {(kind, n): "baseline" if kind == "baseline" else label(n) for kind, n in servers}
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_certificates(Path(tmp))
        files = Path(tmp) / "post.lua", Path(tmp) / "review.json"
        files[0].write_text(WRK_SCRIPT)
        files[1].write_bytes(body)
        for _ in range(args.rounds):
            for kind, processes in servers:
                name = names[(kind, processes)]
                with server(kind, cert, key, ca, processes) as (port, pid):
                    check_answer(port, ca, body)
                    for clients in (1, 16):
                        if wrk:
                            figures = measure_wrk(
                                wrk, port, pid, files, clients=clients, seconds=args.seconds
                            )
                        else:
                            lat, took = asyncio.run(measure(port, ca, body, clients, args.requests))
                            figures = (
                                statistics.median(lat) * 1000,
                                percentile(lat, 0.99) * 1000,
                                len(lat) / took,
                                math.nan,
                            )
                        rounds.setdefault((name, clients), []).append(figures)
    print(f"\nmedian of {args.rounds} alternating rounds")
    print(f"{'server':<12}{'conns':>6}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'CPU us/req':>12}")
    rows: dict[tuple[str, int], tuple[float, ...]] = {}
    for clients in (1, 16):
        for name in names.values():
            measured = rounds[(name, clients)]
            row = tuple(statistics.median(r[i] for r in measured) for i in range(4))
            rows[(name, clients)] = row
            p50, p99, rate, cpu = row
            print(f"{name:<12}{clients:>6}{p50:>10.3f}{p99:>10.3f}{rate:>10.0f}{cpu:>12.0f}")
    print("\nratios, mllint / baseline (throughput: baseline / mllint); lower is better")
    for name in list(names.values())[1:]:
        for clients in (1, 16):
            m, b = rows[(name, clients)], rows[("baseline", clients)]
            print(
                f"  {name:<10} {clients:>2} connection{'s' if clients > 1 else ' '}: "
                f"p50 {m[0] / b[0]:.2f}  p99 {m[1] / b[1]:.2f}  throughput {b[2] / m[2]:.2f}  "
                f"CPU per request {m[3] / b[3]:.2f}"
            )
    print(f"targets: 16 connections p99 and throughput <= {TARGET}; 1 connection p50 <= {TARGET}")


if __name__ == "__main__":
    main()
