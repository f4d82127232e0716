"""Helpers of the webhook tests: a CA and serving certificates made with `cryptography`,
servers started as `mllint serve` subprocesses or as uvicorn in a thread (real sockets, real TLS
on loopback), an HTTPS client that connects to 127.0.0.1 but verifies the Service name the API
server would use, and the AdmissionReviews kube-apiserver sends."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mllint.webhook.review import Admission
from mllint.webhook.server import WebhookServer, build_server
from mllint.webhook.settings import WebhookSettings
from mllint.webhook.tls import CertificateStore

SERVICE, NAMESPACE = "mllint-webhook", "mllint-system"
SERVICE_NAME = f"{SERVICE}.{NAMESPACE}.svc"
"""The name the API server verifies when it calls a webhook Service."""
SERVE = "import sys; from mllint.webhook.server import main; sys.exit(main(sys.argv[1:]))"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ADMISSION_FIXTURES = SHARED / "fixtures" / "admission"

RULES_CONFIG = """\
# The rules the webhook tests rely on, so that new rules in the catalog do not change them.
select: [ML003, ML101, ML201, ML204, ML602]
"""


# --- certificates -------------------------------------------------------------------------


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path

    def issue(
        self,
        directory: Path,
        names: list[str],
        *,
        server: bool = True,
        days: int = 2,
    ) -> tuple[Path, Path, x509.Certificate]:
        """A certificate and key (ECDSA P-256) signed by this CA, written to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.ExtendedKeyUsage([usage]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = directory / "tls.crt", directory / "tls.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path, cert


def make_authority(directory: Path, name: str = "mllint test CA") -> Authority:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Authority(key, cert, path)


SERVING_NAMES = [
    SERVICE,
    f"{SERVICE}.{NAMESPACE}",
    SERVICE_NAME,
    f"{SERVICE_NAME}.cluster.local",
]


@dataclass
class PKI:
    ca: Authority
    cert: Path
    key: Path
    directory: Path


# --- clients --------------------------------------------------------------------------------


class ServiceNameTransport(httpx.HTTPTransport):
    """Connects to the URL's address (127.0.0.1) but sends and verifies the Service's name."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["sni_hostname"] = self.name
        return super().handle_request(request)


def client_context(
    ca: Path, cert: tuple[Path, Path] | None = None, *, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if maximum is not None:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = maximum
    return ctx


def https_client(
    port: int, ctx: ssl.SSLContext, *, name: str = SERVICE_NAME, connections: int = 16
) -> httpx.Client:
    transport = ServiceNameTransport(
        name,
        verify=ctx,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
    return httpx.Client(
        base_url=f"https://127.0.0.1:{port}", transport=transport, timeout=httpx.Timeout(20.0)
    )


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Running:
    port: int
    ca: Path
    process: subprocess.Popen[bytes] | None = None
    server: WebhookServer | None = None
    thread: threading.Thread | None = None
    stderr: Path | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        client = https_client(self.port, client_context(self.ca), **kwargs)
        self.clients.append(client)
        return client

    def validate(self, review: dict[str, Any], **params: str) -> dict[str, Any]:
        return self._post("/validate", review, params)

    def mutate(self, review: dict[str, Any], **params: str) -> dict[str, Any]:
        return self._post("/mutate", review, params)

    def _post(self, path: str, review: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        client = self.clients[0] if self.clients else self.client()
        response = client.post(path, json=review, params=params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def logs(self) -> str:
        return self.stderr.read_text() if self.stderr else ""

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def wait_ready(running: Running, timeout: float = 30.0) -> None:
    ctx = client_context(running.ca)
    deadline = time.monotonic() + timeout
    with https_client(running.port, ctx, connections=1) as client:
        while time.monotonic() < deadline:
            if running.process is not None and running.process.poll() is not None:
                raise AssertionError(f"mllint serve exited early:\n{running.logs()}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"mllint serve did not become ready:\n{running.logs()}")


def start_process(
    tmp: Path,
    pki: PKI,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Running:
    """`mllint serve` in a subprocess, on a free port, ready to answer."""
    port = free_port()
    stderr = tmp / f"serve-{port}.log"
    command = [
        sys.executable,
        "-c",
        SERVE,
        "--cert-file",
        str(pki.cert),
        "--key-file",
        str(pki.key),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLLINT_")}
    environment.update(env or {})
    with stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=environment)
    running = Running(port, pki.ca.path, process=process, stderr=stderr)
    try:
        wait_ready(running)
    except BaseException:
        running.stop()
        raise
    return running


def start_thread(
    settings: WebhookSettings,
    pki: PKI,
    *,
    admission: Admission | None = None,
    cert: tuple[Path, Path] | None = None,
) -> Running:
    """uvicorn in a thread of this process (real sockets and TLS), for settings variations."""
    certs = CertificateStore(*(cert or (pki.cert, pki.key)), settings.client_ca_file)
    server = build_server(settings, admission or Admission.from_settings(settings), certs)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the webhook thread did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Running(port, pki.ca.path, server=server, thread=thread)


# --- objects and reviews --------------------------------------------------------------------


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    api_version: str = "admission.k8s.io/v1",
    uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002",
    namespace: str | None = "ml",
    user: str = "alice",
    groups: tuple[str, ...] = ("system:authenticated",),
    dry_run: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it for `obj`."""
    kind = {"group": "", "version": "v1", "kind": ""}
    if obj is not None:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        kind = {"group": group, "version": version, "kind": str(obj.get("kind", ""))}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": kind,
        "resource": {"group": kind["group"], "version": kind["version"], "resource": "x"},
        "requestKind": kind,
        "name": (obj or {}).get("metadata", {}).get("name", ""),
        "operation": operation,
        "userInfo": {"username": user, "groups": list(groups)},
        "object": obj,
        "oldObject": None,
        "dryRun": dry_run,
        **extra,
    }
    if namespace is not None:
        request["namespace"] = namespace
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}


def deployment(
    *, gpu_limit: bool = True, image: str = "nvcr.io/nvidia/tritonserver:24.08-py3"
) -> dict[str, Any]:
    """A GPU model server; by default it breaks none of the rules in RULES_CONFIG."""
    resources: dict[str, Any] = {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": 1}}
    resources["limits"] = {"memory": "16Gi", **({"nvidia.com/gpu": 1} if gpu_limit else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "triton", "namespace": "ml", "labels": {"app": "triton"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "triton"}},
            "template": {
                "metadata": {"labels": {"app": "triton"}},
                "spec": {
                    "containers": [
                        {
                            "name": "triton",
                            "image": image,
                            "ports": [{"containerPort": 8000}],
                            "resources": resources,
                        }
                    ]
                },
            },
        },
    }


def job(**spec: Any) -> dict[str, Any]:
    """A training Job with a GPU request and no limit, no restartPolicy and no TTL."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "ml"},
        "spec": {
            "backoffLimit": 2,
            **spec,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "train",
                            "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                            "resources": {"requests": {"nvidia.com/gpu": 2}},
                        }
                    ]
                }
            },
        },
    }


def patch_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    response = answer["response"]
    if "patch" not in response:
        return []
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return ops


def apply_patch(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 as the API server applies it (add, replace, remove), on a copy."""
    doc = copy.deepcopy(obj)
    for op in ops:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        parent: Any = doc
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op["op"] == "add":
                parent.insert(index, op["value"])
            elif op["op"] == "replace":
                parent[index] = op["value"]
            else:
                del parent[index]
        elif op["op"] in ("add", "replace"):
            assert op["op"] == "add" or last in parent, f"replace of a missing path: {op}"
            parent[last] = op["value"]
        else:
            del parent[last]
    return doc
