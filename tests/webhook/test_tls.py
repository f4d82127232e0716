"""TLS: the Service name is verified, TLS 1.2 is the floor with modern ciphers only, client
certificates are required when a client CA is given, and a rotated certificate is picked up
under traffic without a failed request."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families
from webhook_helpers import (
    PKI,
    SERVICE_NAME,
    SERVING_NAMES,
    Running,
    client_context,
    deployment,
    https_client,
    make_authority,
    review,
    wait_for,
)


def handshake(port: int, ctx: ssl.SSLContext, name: str = SERVICE_NAME) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname=name)


def served_serial(response: httpx.Response) -> int:
    ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
    return x509.load_der_x509_certificate(ssl_object.getpeercert(True)).serial_number


def test_the_service_name_is_verified(webhook: Running, pki: PKI) -> None:
    with handshake(webhook.port, client_context(pki.ca.path)) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(webhook.port, client_context(pki.ca.path), name="other.mllint-system.svc")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(webhook.port, ssl.create_default_context())  # not the cluster's CA


def test_tls_1_2_with_forward_secret_aead_ciphers(webhook: Running, pki: PKI) -> None:
    ctx = client_context(pki.ca.path, maximum=ssl.TLSVersion.TLSv1_2)
    with handshake(webhook.port, ctx) as tls:
        cipher = tls.cipher()
        assert cipher is not None
        name, version, _ = cipher
        assert version == "TLSv1.2"
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)
    legacy = client_context(pki.ca.path, maximum=ssl.TLSVersion.TLSv1_2)
    legacy.set_ciphers("AES128-SHA:AES256-SHA:AES128-SHA256")  # RSA key exchange, CBC
    with pytest.raises(ssl.SSLError):
        handshake(webhook.port, legacy)


def test_below_tls_1_2_is_refused(webhook: Running, pki: PKI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is what is tested
        old = client_context(pki.ca.path, maximum=ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        handshake(webhook.port, old)


def test_client_certificates_when_a_client_ca_is_given(
    serve: Callable[..., Running], pki: PKI, tmp_path: Path
) -> None:
    clients = make_authority(tmp_path / "clients", "API server client CA")
    running = serve(client_ca_file=clients.path)
    apiserver = clients.issue(tmp_path / "apiserver", ["kube-apiserver"], server=False)[:2]
    ctx = client_context(pki.ca.path, cert=apiserver)
    with https_client(running.port, ctx) as client:
        answer = client.post("/validate", json=review(deployment()))
        assert answer.json()["response"]["allowed"] is True
    stranger = make_authority(tmp_path / "other", "Some other CA")
    for cert in (None, stranger.issue(tmp_path / "stranger", ["x"], server=False)[:2]):
        with (
            https_client(running.port, client_context(pki.ca.path, cert=cert)) as client,
            pytest.raises(httpx.TransportError),
        ):
            client.post("/validate", json=review(deployment()))


def test_rotation_under_traffic(serve: Callable[..., Running], pki: PKI, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(pki.cert, live / "tls.crt")
    shutil.copy(pki.key, live / "tls.key")
    first = x509.load_pem_x509_certificate(pki.cert.read_bytes()).serial_number
    running = serve(cert=(live / "tls.crt", live / "tls.key"), cert_poll_interval=0.05)
    ctx = client_context(pki.ca.path)
    failures: list[str] = []
    serials: list[int] = []
    stop = threading.Event()

    def traffic(fresh: bool) -> None:
        keep_alive = https_client(running.port, ctx, connections=1)
        while not stop.is_set():
            client = https_client(running.port, ctx, connections=1) if fresh else keep_alive
            try:
                response = client.post("/validate", json=review(deployment()))
                if response.status_code != 200 or not response.json()["response"]["allowed"]:
                    failures.append(response.text)
                serials.append(served_serial(response))
            except Exception as exc:
                failures.append(repr(exc))
            finally:
                if fresh:
                    client.close()
        keep_alive.close()

    workers = [threading.Thread(target=traffic, args=(fresh,)) for fresh in (True, True, False)]
    for worker in workers:
        worker.start()
    try:
        wait_for(lambda: len(serials) >= 20, "traffic")
        staged = tmp_path / "staged"
        cert, key, new = pki.ca.issue(staged, SERVING_NAMES)
        # cert-manager's Secret update lands file by file: for a while the certificate and
        # the key do not match, which must not reach the listening socket.
        shutil.copy(cert, live / "tls.crt")
        failed = 'mllint_webhook_certificate_reloads_total{result="failed"} 1.0'
        with https_client(running.port, ctx, connections=1) as probe:
            wait_for(lambda: failed in probe.get("/metrics").text, "the mismatch to be seen")
        shutil.copy(key, live / "tls.key")
        wait_for(lambda: new.serial_number in serials, "the new certificate")
        seen = len(serials)
        wait_for(lambda: len(serials) >= seen + 20, "traffic on the new certificate")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert failures == []
    assert first in serials and new.serial_number in serials
    found = {
        (sample.name, tuple(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(running.client().get("/metrics").text)
        for sample in family.samples
    }
    assert found[("mllint_webhook_certificate_reloads_total", (("result", "reloaded"),))] == 1
    expiry = found[("mllint_webhook_certificate_expiry_timestamp_seconds", ())]
    assert expiry == new.not_valid_after_utc.timestamp()
