"""TLS for the webhook: TLS 1.2 or newer with ECDHE and AEAD ciphers only, an optional client CA
for the API server's certificate, and reloading when cert-manager (or anyone) rotates the files.

Rotation never goes through a half-written state: a new pair is loaded into a fresh
`ssl.SSLContext`, and only once that succeeded (the key matches the certificate, and the files did
not change while they were read) does it become current. The context the server listens with has
an SNI callback that moves each new handshake onto the current context; connections already open
keep theirs, so no request fails during a rotation.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger("mllint.webhook.tls")

CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 suites with forward secrecy and authenticated encryption; TLS 1.3 suites are all
modern and are kept as OpenSSL defines them."""


class Reload(enum.StrEnum):
    UNCHANGED = "unchanged"
    RELOADED = "reloaded"
    FAILED = "failed"
    """A new pair could not be loaded (reported once per distinct problem)."""
    RETRYING = "retrying"
    """The same problem as last time; still on the old pair."""


class CertificateError(Exception):
    """The serving certificate, its key or the client CA cannot be used; worded for the user."""


@dataclass(frozen=True, slots=True)
class Loaded:
    context: ssl.SSLContext
    digest: str
    not_after: datetime
    serial: int


class CertificateStore:
    def __init__(self, cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self._last_failure = ""
        self._current = self._load(self._digest())
        self.context = self._current.context
        """The context to listen with; it hands each handshake to the current one."""
        self.context.sni_callback = self._select

    @property
    def current(self) -> Loaded:
        return self._current

    def _files(self) -> list[Path]:
        files = [self.cert_file, self.key_file]
        if self.client_ca_file is not None:
            files.append(self.client_ca_file)
        return files

    def _digest(self) -> str:
        h = hashlib.sha256()
        for path in self._files():
            try:
                h.update(path.read_bytes())
            except OSError as exc:
                raise CertificateError(f"cannot read {path}: {exc.strerror}") from None
            h.update(b"\0")
        return h.hexdigest()

    def _load(self, digest: str) -> Loaded:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(CIPHERS)
        ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        ctx.options |= ssl.OP_NO_RENEGOTIATION
        ctx.set_alpn_protocols(["http/1.1"])
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        except ssl.SSLError as exc:
            raise CertificateError(
                f"cannot use the certificate {self.cert_file} with the key {self.key_file}: "
                f"{exc.reason or exc}; give a PEM certificate and the PEM key it was issued for"
            ) from None
        except OSError as exc:
            raise CertificateError(
                f"cannot read the certificate {self.cert_file} or the key {self.key_file}: "
                f"{exc.strerror}"
            ) from None
        if self.client_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=self.client_ca_file)
            except (ssl.SSLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
                raise CertificateError(
                    f"cannot use the client CA {self.client_ca_file}: {reason}; give PEM "
                    "certificates"
                ) from None
            ctx.verify_mode = ssl.CERT_REQUIRED
        if self._digest() != digest:
            raise CertificateError("the files changed while they were read")
        not_after, serial = _validity(self.cert_file.read_bytes())
        return Loaded(ctx, digest, not_after, serial)

    def _select(
        self, conn: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext
    ) -> None:
        current = self._current.context
        if current is not ctx:
            conn.context = current

    def reload_if_changed(self) -> Reload:
        """Load the files again when their contents changed.

        A pair that cannot be loaded (cert-manager writes the certificate and the key one after
        the other) is logged once and tried again at the next call; the old pair stays in use.
        """
        try:
            digest = self._digest()
            if digest == self._current.digest:
                return Reload.UNCHANGED
            loaded = self._load(digest)
        except CertificateError as exc:
            if str(exc) == self._last_failure:
                return Reload.RETRYING
            self._last_failure = str(exc)
            log.warning("certificate not reloaded, keeping the current one: %s", exc)
            return Reload.FAILED
        self._last_failure = ""
        self._current = loaded
        log.info(
            "certificate reloaded",
            extra={"fields": {"serial": f"{loaded.serial:x}", "not_after": str(loaded.not_after)}},
        )
        return Reload.RELOADED


def _validity(pem: bytes) -> tuple[datetime, int]:
    """The first certificate's expiry and serial number."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(f"the certificate is not PEM: {exc}") from None
    return cert.not_valid_after_utc, cert.serial_number
