"""AWS clients: created on first use, cached for the life of the Lambda container.

Nothing here runs at import time (a module-level client raises NoRegionError without a region and
slows cold starts). ``AWS_ENDPOINT_URL`` redirects every client to a local endpoint with no code
change, which is how the local stack and the end-to-end tests reach the same code path as AWS.

Measured under the API handler's CPU share (bench/README.md "Cold start"): ``import boto3`` alone
costs about as much as botocore, and every ``boto3.session.Session()`` loads the endpoint and
partition data again. So clients come from one botocore session, botocore is imported when the
first client is made, and ``client`` hands out a stand-in that creates the real client on its
first API call: the service objects are wired up front, and a route builds only the clients it
calls (POST /exports never the Secrets Manager one, GET /exports/{id} never the Lambda one).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

# botocore's client creation is not thread-safe on one session; the local stack's worker threads share it.
_LOCK = threading.Lock()


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def _client_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60, signature_version="s3v4")


@cache
def client(service: str) -> Any:
    """The container's client for ``service``: made on its first API call (botocore; boto3's injected helpers are not used)."""
    return LazyClient(service)


class LazyClient:
    """Stands in for a botocore client and creates it on first attribute use (an API call, ``.exceptions``)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = _create_client(self.service)
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, created={self._client is not None})"


def _create_client(service: str) -> Any:
    with _LOCK:
        return _created_client(service)


@cache
def _created_client(service: str) -> Any:
    return _session().create_client(service, config=_client_config())
