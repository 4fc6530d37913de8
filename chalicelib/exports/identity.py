"""Export identity: which requests are the same export (and so share a claim, a cache entry, a file).

Claims, cache pointers, idempotency records and status records are written through ``ledger.py``;
this module only says what makes two requests identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def export_key(report: str, template_source: str, params: Mapping[str, Any], export_format: str) -> str:
    """Same report, same template content, same normalised parameters, same format: same key."""
    identity = {
        "report": report,
        "template": hashlib.sha256(template_source.encode("utf-8")).hexdigest(),
        "params": dict(params),
        "format": export_format,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
