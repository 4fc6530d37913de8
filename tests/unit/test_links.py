"""Download links: CloudFront signed URLs verified the way CloudFront does, and honest presigned expiry.

The RSA keys are generated here, at test time, with ``cryptography`` (an independent
implementation from the ``rsa`` package the service signs with); nothing key-like is committed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.errors import SecretError
from chalicelib.links import CloudFrontLinkSigner, LinkMaker, load_private_key
from chalicelib.storage import ExportStorage

DOMAIN = "d111111abcdef8.cloudfront.net"
KEY_ID = "K2JCJMDEHXQW5F"
NOW = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)
KEY = "exports/2026-11-30/20261130-090000-0123456789/Orders 주문 2026-11-29.xlsx"


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, pkcs8: bool) -> str:
    layout = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, layout, serialization.NoEncryption()).decode()


class CountingSecret:
    """Stands in for Secrets Manager: hands out the PEM and counts reads."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def __call__(self) -> str:
        self.reads += 1
        return self.value


def cloudfront_accepts(url: str, public_key: rsa.RSAPublicKey, *, at: dt.datetime) -> bool:
    """What CloudFront checks for a canned-policy signed URL: key id, signature over the policy, expiry."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"
    expires = int(query["Expires"])
    policy = json.dumps({"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]}, separators=(",", ":"))
    signature = base64.b64decode(query["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))
    try:
        public_key.verify(signature, policy.encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - CloudFront's algorithm
    except InvalidSignature:
        return False
    return query["Key-Pair-Id"] == KEY_ID and at.timestamp() < expires


def links(secret: CountingSecret, expiry_seconds: int = 3 * 24 * 3600) -> LinkMaker:
    storage = ExportStorage(None, "unused", templates_prefix="t/", exports_prefix="e/", status_prefix="s/")
    return LinkMaker(storage, expiry_seconds=expiry_seconds, cloudfront=CloudFrontLinkSigner(DOMAIN, KEY_ID, secret))


@pytest.mark.parametrize("pkcs8", [True, False], ids=["pkcs8", "pkcs1"])
def test_signed_url_verifies_with_the_public_key_and_expires_when_stated(key_pair: rsa.RSAPrivateKey, pkcs8: bool) -> None:
    link = links(CountingSecret(pem(key_pair, pkcs8))).link_for(KEY, now=NOW)
    assert link.url.startswith(f"https://{DOMAIN}/exports/2026-11-30/")
    assert link.expires_at == NOW + dt.timedelta(days=3)
    assert parse_qs(urlsplit(link.url).query)["Expires"] == [str(int(link.expires_at.timestamp()))]
    public_key = key_pair.public_key()
    assert cloudfront_accepts(link.url, public_key, at=NOW)
    assert cloudfront_accepts(link.url, public_key, at=link.expires_at - dt.timedelta(seconds=1))
    assert not cloudfront_accepts(link.url, public_key, at=link.expires_at)


def test_a_signed_url_is_bound_to_its_file_and_to_the_key(key_pair: rsa.RSAPrivateKey) -> None:
    url = links(CountingSecret(pem(key_pair, True))).link_for(KEY, now=NOW).url
    other_file = url.replace("/exports/", "/status/", 1)
    assert not cloudfront_accepts(other_file, key_pair.public_key(), at=NOW)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not cloudfront_accepts(url, stranger.public_key(), at=NOW)


def test_the_signing_key_is_read_on_first_use_and_only_once(key_pair: rsa.RSAPrivateKey) -> None:
    secret = CountingSecret(pem(key_pair, True))
    maker = links(secret)
    assert secret.reads == 0
    for _ in range(3):
        maker.link_for(KEY, now=NOW)
    assert secret.reads == 1


def test_a_placeholder_or_broken_key_fails_clearly_without_echoing_it() -> None:
    for value in ("FILL-ME", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"):
        with pytest.raises(SecretError) as caught:
            load_private_key(value)
        assert "bm90" not in caught.value.message and "FILL" not in caught.value.message


def presigning_storage() -> ExportStorage:
    # Obviously fake static credentials: presigning is local computation, no request is sent.
    session = boto3.session.Session(aws_access_key_id="test-fake-key-id", aws_secret_access_key="test-fake-secret", region_name="ap-northeast-2")
    return ExportStorage(session.client("s3"), "exports-test", templates_prefix="t/", exports_prefix="e/", status_prefix="s/")


@pytest.mark.parametrize(("cap", "expected"), [(None, 259200), (3600, 3600)])
def test_presigned_links_state_the_expiry_they_really_have(cap: int | None, expected: int) -> None:
    maker = LinkMaker(presigning_storage(), expiry_seconds=259200, presigned_max_seconds=cap)
    link = maker.link_for("e/file.xlsx", now=NOW)
    query: dict[str, Any] = parse_qs(urlsplit(link.url).query)
    assert query["X-Amz-Expires"] == [str(expected)]
    assert link.expires_at == NOW + dt.timedelta(seconds=expected)
