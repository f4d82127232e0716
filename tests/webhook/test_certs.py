"""`mllint certs`: the CA and serving certificate it writes, checked with `cryptography`, with a
TLS handshake on loopback, and against the Kubernetes Secret schema."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from mllint.webhook import certs
from mllint.webhook.cli import certs as certs_command

SERVICE, NAMESPACE = "lint-hook", "ml-platform"
NAMES = [
    "lint-hook",
    "lint-hook.ml-platform",
    "lint-hook.ml-platform.svc",
    "lint-hook.ml-platform.svc.cluster.local",
]


# The `mllint` console script, run by this interpreter whatever is on PATH.
MLLINT = [sys.executable, "-c", "import sys; from mllint.linter.cli import main; sys.exit(main())"]


def run(*args: str, umask: int = -1) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MLLINT, *args], check=False, capture_output=True, text=True, timeout=60, umask=umask
    )


def call(command: Callable[[list[str]], int], *args: str) -> tuple[int, str, str]:
    """Run a subcommand in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = command(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs") / "tls"
    # A permissive umask must not make the key readable by others.
    done = run("certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", str(out), umask=0)
    assert done.returncode == 0, done.stderr
    return out


def load(out: Path) -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    key = serialization.load_pem_private_key((out / "tls.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return ca, leaf, key


def test_writes_exactly_the_three_files_with_safe_modes(issued: Path) -> None:
    assert sorted(p.name for p in issued.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert stat.S_IMODE((issued / "tls.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((issued / "tls.crt").stat().st_mode) == 0o644
    assert stat.S_IMODE((issued / "ca.crt").stat().st_mode) == 0o644


def test_serving_certificate_is_p256_signed_by_the_ca_for_every_service_name(
    issued: Path,
) -> None:
    ca, leaf, key = load(issued)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_key() == leaf.public_key()
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == NAMES
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca_constraints.ca
    assert ca_constraints.path_length == 0
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    assert isinstance(ca_key.curve, ec.SECP256R1)


def test_default_validity_is_a_year_for_the_leaf_and_ten_for_the_ca(issued: Path) -> None:
    ca, leaf, _ = load(issued)
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc <= now
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days == 365
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 3650


def test_validity_options(tmp_path: Path) -> None:
    code, _, err = call(certs_command, "--out", str(tmp_path), "--days", "30", "--ca-days", "90")
    assert code == 0, err
    ca, leaf, _ = load(tmp_path)
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days == 30
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 90


def _serve_once(out: Path, listener: socket.socket) -> threading.Thread:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(out / "tls.crt", out / "tls.key")

    def accept() -> None:
        conn, _ = listener.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate: that is the case under test

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("name", [*NAMES, "other.ml-platform.svc"])
def test_tls_handshake_on_loopback_trusts_only_the_service_names(issued: Path, name: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = _serve_once(issued, listener)
        client = ssl.create_default_context(cafile=str(issued / "ca.crt"))
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            if name in NAMES:
                with client.wrap_socket(raw, server_hostname=name) as tls:
                    assert tls.recv(2) == b"ok"
                    assert tls.version() in ("TLSv1.2", "TLSv1.3")
            else:
                with pytest.raises(ssl.SSLCertVerificationError, match="match"):
                    client.wrap_socket(raw, server_hostname=name)
        thread.join(timeout=10)


def test_secret_output_is_a_valid_tls_secret(tmp_path: Path) -> None:
    code, out, err = call(certs_command, "--service", SERVICE, "--namespace", NAMESPACE, "--secret")
    assert code == 0, err
    secret = yaml.safe_load(out)
    kubernetes_validate.validate(secret, kubernetes_validate.utils.latest_version(), strict=True)
    assert secret["type"] == "kubernetes.io/tls"
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == (
        "mllint-webhook-tls",
        NAMESPACE,
    )
    files = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert set(files) == {"ca.crt", "tls.crt", "tls.key"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # What the Secret holds is usable as is: the same checks `mllint install` makes.
    assert certs.read(tmp_path, SERVICE, NAMESPACE).ca == files["ca.crt"]


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert call(certs_command, "--out", str(tmp_path))[0] == 0
    before = (tmp_path / "tls.key").read_bytes()
    code, _, err = call(certs_command, "--out", str(tmp_path))
    assert code == 1
    assert "--force" in err
    assert (tmp_path / "tls.key").read_bytes() == before
    code, _, err = call(certs_command, "--out", str(tmp_path), "--force")
    assert code == 0, err
    assert (tmp_path / "tls.key").read_bytes() != before
    # Atomic writes leave no temporary file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_unwritable_output_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = run("certs", "--out", str(blocker / "certs"))
    assert done.returncode == 1
    assert done.stderr.startswith("mllint certs: error: cannot create directory")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x", "--days", "0"], "--days"),
        (["--out", "x", "--days", "400", "--ca-days", "300"], "cannot outlive its CA"),
        (["--out", "x", "--service", "Not_A_Name"], "--service"),
        (["--out", "x", "--secret"], "not allowed with"),
        ([], "one of the arguments --out --secret is required"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    with contextlib.chdir(tmp_path):
        code, out, err = call(certs_command, *args)
    assert code == 2
    assert message in err
    assert out == ""
    assert not (tmp_path / "x").exists()


def test_read_rejects_mismatched_material(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    certs.write(certs.generate(SERVICE, NAMESPACE), one)
    certs.write(certs.generate(SERVICE, NAMESPACE), other)
    (one / "tls.key").write_bytes((other / "tls.key").read_bytes())
    with pytest.raises(certs.CertError, match="is not the key of"):
        certs.read(one, SERVICE, NAMESPACE)
    (one / "tls.key").write_bytes((other / "tls.key").read_bytes())
    (one / "tls.crt").write_bytes((other / "tls.crt").read_bytes())
    with pytest.raises(certs.CertError, match="not signed by a CA"):
        certs.read(one, SERVICE, NAMESPACE)
    with pytest.raises(certs.CertError, match=r"not valid for lint-hook\.elsewhere\.svc"):
        certs.read(other, SERVICE, "elsewhere")
