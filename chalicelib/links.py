"""Download links for stored exports: CloudFront signed URLs when a distribution is configured,
S3 presigned URLs otherwise; either way the expiry returned is the one the link really has.

A CloudFront signed URL is checked by CloudFront against the key group's public key and the
expiry inside the URL, so it lasts exactly as long as asked, whatever happens to the Lambda's
temporary credentials. An S3 presigned URL made with those credentials dies with their session,
whatever ``ExpiresIn`` says, so its stated expiry is capped (``PRESIGNED_MAX_SECONDS``).

Signing uses ``rsa`` (pure Python, about 0.7 MB with ``pyasn1``) rather than ``cryptography``
(about 16 MB with cffi, and its current wheels need a newer glibc than the python3.11 Lambda
runtime's Amazon Linux 2). The private key is read from Secrets Manager on first use and parsed once
per container. ``rsa``, ``pyasn1`` and botocore's signer are imported on the first signature: a
route that makes no link (POST /exports, GET /reports) does not pay for them on a cold start.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from chalicelib.errors import SecretError
from chalicelib.storage import ExportStorage

if TYPE_CHECKING:
    import rsa

_RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: dt.datetime


def load_private_key(pem: str) -> rsa.PrivateKey:
    """An unencrypted RSA private key in PEM: PKCS#1 ("RSA PRIVATE KEY", ``openssl genrsa -traditional``)
    or PKCS#8 ("PRIVATE KEY", what OpenSSL 3 writes by default)."""
    import rsa
    from pyasn1.error import PyAsn1Error

    data = pem.strip().encode("ascii", "replace")
    try:
        if b"-----BEGIN RSA PRIVATE KEY-----" in data:
            return rsa.PrivateKey.load_pkcs1(data, format="PEM")
        if b"-----BEGIN PRIVATE KEY-----" in data:
            return rsa.PrivateKey.load_pkcs1(_pkcs1_from_pkcs8(rsa.pem.load_pem(data, "PRIVATE KEY")), format="DER")
    except (ValueError, TypeError, IndexError, PyAsn1Error):
        pass
    # Never echo the secret's content, not even a fragment.
    raise SecretError("the CloudFront signing key is not an unencrypted RSA private key in PEM", code="signing_key_invalid")


def _pkcs1_from_pkcs8(der: bytes) -> bytes:
    from pyasn1.codec.der import decoder as der_decoder

    # PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING (PKCS#1) }
    info, _ = der_decoder.decode(der)
    if str(info[1][0]) != _RSA_ENCRYPTION_OID:
        raise ValueError("not an RSA key")
    return bytes(info[2])


class CloudFrontLinkSigner:
    """Signs CloudFront URLs (canned policy) with the key group's private key, fetched lazily."""

    def __init__(self, domain: str, key_pair_id: str, private_key_pem: Callable[[], str]) -> None:
        self._domain = domain
        self._key_pair_id = key_pair_id
        self._private_key_pem = private_key_pem
        self._key: rsa.PrivateKey | None = None
        self._lock = threading.Lock()

    def _private_key(self) -> rsa.PrivateKey:
        with self._lock:
            if self._key is None:
                self._key = load_private_key(self._private_key_pem())
            return self._key

    def _rsa_sign(self, message: bytes) -> bytes:
        import rsa

        # CloudFront verifies canned-policy signatures as RSA-SHA1 (PKCS#1 v1.5).
        return rsa.sign(message, self._private_key(), "SHA-1")

    def signed_url(self, key: str, expires_at: dt.datetime) -> str:
        from botocore.signers import CloudFrontSigner

        url = f"https://{self._domain}/{quote(key)}"
        return str(CloudFrontSigner(self._key_pair_id, self._rsa_sign).generate_presigned_url(url, date_less_than=expires_at))


class LinkMaker:
    def __init__(
        self,
        storage: ExportStorage,
        *,
        expiry_seconds: int,
        cloudfront: CloudFrontLinkSigner | None = None,
        presigned_max_seconds: int | None = None,
    ) -> None:
        self._storage = storage
        self._expiry_seconds = expiry_seconds
        self._cloudfront = cloudfront
        self._presigned_seconds = min(expiry_seconds, presigned_max_seconds or expiry_seconds)

    def link_for(self, key: str, *, now: dt.datetime | None = None) -> DownloadLink:
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        if self._cloudfront is not None:
            expires_at = now + dt.timedelta(seconds=self._expiry_seconds)
            return DownloadLink(url=self._cloudfront.signed_url(key, expires_at), expires_at=expires_at)
        expires_at = now + dt.timedelta(seconds=self._presigned_seconds)
        return DownloadLink(url=self._storage.files.presigned_url(key, self._presigned_seconds), expires_at=expires_at)
