"""TLS material for the webhook Service: a private CA and a serving certificate it signs.

The API server reaches the webhook at `https://NAME.NS.svc:443` and checks the serving
certificate against the `caBundle` of the webhook configurations, so the certificate carries every
DNS name a Service can be addressed by, and the CA (not the leaf) goes into the bundle: the serving
certificate can then be reissued from the same CA without touching the configurations.

Keys are ECDSA P-256. The CA key only lives in memory: renewing means issuing a new pair and
running `mllint install` again, which replaces the Secret and the bundle together.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"

# Certificates start a little in the past so that a node whose clock runs behind the machine that
# issued them does not reject them as not yet valid.
_BACKDATE = dt.timedelta(minutes=5)


class CertError(Exception):
    """TLS material that cannot be read, used or written; the message says which file and why."""


@dataclass(frozen=True)
class ServingCerts:
    """PEM-encoded CA certificate, serving certificate and serving key."""

    ca: bytes
    cert: bytes
    key: bytes


def dns_names(service: str, namespace: str) -> list[str]:
    """Every name a client inside the cluster (the API server included) may use for the Service."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def generate(
    service: str,
    namespace: str,
    *,
    days: int = 365,
    ca_days: int = 3650,
    now: dt.datetime | None = None,
) -> ServingCerts:
    """A fresh CA valid for `ca_days` and a serving certificate for the Service valid for `days`."""
    if days < 1 or ca_days < 1:
        raise CertError("validity must be at least one day")
    if days > ca_days:
        raise CertError(
            f"the serving certificate ({days} days) cannot outlive its CA ({ca_days} days)"
        )
    start = (now or dt.datetime.now(dt.UTC)) - _BACKDATE
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mllint"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mllint webhook CA ({namespace})"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=ca_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = dns_names(service, namespace)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ServingCerts(
        ca=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert=cert.public_bytes(serialization.Encoding.PEM),
        key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def write(certs: ServingCerts, out: Path, *, overwrite: bool = False) -> list[Path]:
    """Write `ca.crt`, `tls.crt` and `tls.key` into `out` (created if missing); the paths written.

    Each file is written to a temporary file in `out` and renamed over the target, so a reader
    never sees half a key; the key's temporary file is created with mode 0600, so the key is
    never readable by others, not even for a moment.
    """
    files = {
        CA_FILE: (certs.ca, 0o644),
        CERT_FILE: (certs.cert, 0o644),
        KEY_FILE: (certs.key, 0o600),
    }
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CertError(f"cannot create directory {out}: {exc.strerror or exc}") from None
    if not overwrite:
        existing = [name for name in files if (out / name).exists()]
        if existing:
            raise CertError(
                f"{out} already holds {', '.join(existing)}; pass --force to replace them "
                "(and run `mllint install` again so the cluster trusts the new CA)"
            )
    written = []
    for name, (data, mode) in files.items():
        target = out / name
        _atomic_write(target, data, mode)
        written.append(target)
    return written


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    try:
        # mkstemp creates the file with mode 0600 (O_EXCL), so the key is never exposed.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise CertError(f"cannot write to {target.parent}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CertError(f"cannot write {target}: {exc.strerror or exc}") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """The PEM certificates in `data`; CertError naming `source` when there are none."""
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError:
        found = []
    if not found:
        raise CertError(
            f"{source}: no PEM certificate found (expected '-----BEGIN CERTIFICATE-----')"
        )
    return found


def load_ca_bundle(path: Path) -> bytes:
    """The bytes of a PEM CA bundle file, after checking that it holds certificates."""
    data = _read(path)
    load_certificates(data, str(path))
    return data


def read(directory: Path, service: str, namespace: str) -> ServingCerts:
    """Load what `write` wrote and check it can serve the Service: the key matches the
    certificate, the CA signed it, it names the Service, and it has not expired."""
    ca_data, cert_data, key_data = (
        _read(directory / name) for name in (CA_FILE, CERT_FILE, KEY_FILE)
    )
    cas = load_certificates(ca_data, str(directory / CA_FILE))
    cert = load_certificates(cert_data, str(directory / CERT_FILE))[0]
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except (ValueError, TypeError) as exc:
        raise CertError(
            f"{directory / KEY_FILE}: not an unencrypted PEM private key ({exc})"
        ) from None
    if key.public_key() != cert.public_key():
        raise CertError(f"{directory / KEY_FILE} is not the key of {directory / CERT_FILE}")
    if not any(_signed_by(cert, ca) for ca in cas):
        raise CertError(f"{directory / CERT_FILE} is not signed by a CA in {directory / CA_FILE}")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = set(sans.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = set()
    wanted = f"{service}.{namespace}.svc"
    if wanted not in names:
        raise CertError(
            f"{directory / CERT_FILE} is not valid for {wanted} (it names "
            f"{', '.join(sorted(names)) or 'no DNS name'}); run `mllint certs --service {service} "
            f"--namespace {namespace}`"
        )
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise CertError(f"{directory / CERT_FILE} expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    return ServingCerts(ca=ca_data, cert=cert_data, key=key_data)


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
