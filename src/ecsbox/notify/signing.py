"""Message signatures: an RSA key and a self-signed certificate, made once per data directory and
kept in the store, sign every document SNS sends (SignatureVersion 1: SHA1withRSA, 2:
SHA256withRSA, over :func:`ecsbox.notify.messages.canonical_string`). The certificate is served at
:data:`ecsbox.notify.messages.CERTIFICATE_PATH`, where a document's ``SigningCertURL`` points.

Uses the ``cryptography`` package. Without it ecsbox still delivers, with an empty ``Signature``
and no certificate, and says so once in its log.
"""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any

from sqlalchemy import Connection, select

from ecsbox.store import Store, schema

log = logging.getLogger("ecsbox.notify")

KEY_NAME = "sns_signing_key"
CERTIFICATE_NAME = "sns_signing_certificate"
KEY_BITS = 2048
CERTIFICATE_YEARS = 10


class Signer:
    """Signs with the data directory's key; ``certificate_pem`` is what verifiers fetch."""

    def __init__(self, key_pem: bytes, certificate_pem: bytes) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        self._key: Any = load_pem_private_key(key_pem, password=None)
        self.certificate_pem = certificate_pem

    def sign(self, text: str, version: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # SignatureVersion 1 is SHA1
        signature = self._key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode()


class UnsignedSigner:
    """Where ``cryptography`` is not installed: documents go out with an empty Signature."""

    certificate_pem = b""

    def sign(self, text: str, version: str) -> str:
        return ""


def make_key_material(wall_now: float) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecsbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
        ]
    )
    start = datetime.datetime.fromtimestamp(wall_now, tz=datetime.UTC) - datetime.timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * CERTIFICATE_YEARS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _read(conn: Connection) -> tuple[bytes, bytes] | None:
    rows = dict(
        conn.execute(
            select(schema.meta.c.key, schema.meta.c.value).where(
                schema.meta.c.key.in_([KEY_NAME, CERTIFICATE_NAME])
            )
        ).all()
    )
    if KEY_NAME not in rows or CERTIFICATE_NAME not in rows:
        return None
    return str(rows[KEY_NAME]).encode(), str(rows[CERTIFICATE_NAME]).encode()


def load_signer(store: Store, wall_now: float) -> Signer | UnsignedSigner:
    """This data directory's signer, made on first use (start-up: outside the event loop)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        log.warning("event=sns_unsigned reason='the cryptography package is not installed'")
        return UnsignedSigner()
    found = store.read_now(_read)
    if found is None:
        key_pem, certificate_pem = make_key_material(wall_now)

        def keep(conn: Connection) -> tuple[bytes, bytes]:
            present = _read(conn)  # another server on the same database may have made one first
            if present is not None:
                return present
            conn.execute(schema.meta.insert().values(key=KEY_NAME, value=key_pem.decode()))
            conn.execute(schema.meta.insert().values(key=CERTIFICATE_NAME, value=certificate_pem.decode()))
            return key_pem, certificate_pem

        found = store.write_now(keep)
    return Signer(*found)
