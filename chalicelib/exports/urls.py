"""Absolute URLs of the API's own resources (``status_url``, ``Location``), built from the request.

Behind API Gateway the API lives under its stage, ``https://<id>.execute-api.<region>.amazonaws.com/api``,
so a bare ``/exports/<id>`` is a dead link there; under ``chalice local`` there is no stage prefix.
API Gateway's proxy event carries both in ``requestContext`` (``domainName``, ``stage``) and says
``X-Forwarded-Proto: https``; chalice local sets neither field, so its Host header is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The default endpoint of a REST API: the only host on which the stage is the first path segment
# (a custom domain maps its own base path, which the event does not state).
_EXECUTE_API = ".execute-api."


def api_base_url(context: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The URL the caller reached the API at, without a trailing slash; "" when the request names no host."""
    domain = str(context.get("domainName") or "")
    host = domain or str(headers.get("host") or "")
    if not host:
        return ""
    scheme = str(headers.get("x-forwarded-proto") or ("https" if domain else "http")).split(",")[0].strip()
    stage = str(context.get("stage") or "")
    prefix = f"/{stage}" if stage and _EXECUTE_API in domain else ""
    return f"{scheme}://{host}{prefix}"
