"""Slack incoming-webhook delivery: POST one message, retry-worthy failures marked transient.

The messages themselves are built in chalicelib/exports/messages.py. The webhook URL is a secret:
it never appears in errors or logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import DeliveryError

logger = logging.getLogger(__name__)


def post_message(webhook_url: str, payload: Mapping[str, Any], *, timeout: float = 10.0) -> None:
    """POST one message; raise DeliveryError (transient for 429/5xx/network) on failure."""
    # Imported here: only the worker posts, and urllib.request is a measurable part of the API's cold start.
    import urllib.error
    import urllib.request

    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    logger.debug("posting a Slack message", extra={"payload_bytes": len(data)})  # never the URL: it is the secret
    request = urllib.request.Request(webhook_url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"})  # noqa: S310
    # The URL comes from our own secret and is checked to be http(s) when read.
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read(200).decode("utf-8", "replace").strip()
        retry_after = retry_after_seconds(exc.headers.get("Retry-After"))
        transient = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"Slack answered {exc.code} {body}".strip(), transient=transient, retry_after=retry_after) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"Slack could not be reached ({type(reason).__name__})", transient=True) from None


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's seconds (the webhook's and the Web API's 429 answers); None if absent or not a number."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
