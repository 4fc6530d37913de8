"""AWS clients: created on first use, cached for the life of the Lambda container.

Nothing here runs at import time (a module-level client raises NoRegionError without a region and
slows cold starts). ``AWS_ENDPOINT_URL`` redirects every client to a local endpoint with no code
change, which is how the local stack and the end-to-end tests reach the same code path as AWS.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=60,
    signature_version="s3v4",
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CLIENT_CONFIG)
