"""Slack messages: Block Kit payloads built from export results (pure), and webhook delivery.

Everything taken from a request is escaped for Slack mrkdwn (``&``, ``<``, ``>``) so a parameter
can neither mention ``<!channel>`` nor forge a link, and every mrkdwn text is ``verbatim``: Slack
then does not turn a bare ``@channel``, ``#channel`` or URL in a value into a mention or a link
either. The webhook URL is a secret: it never appears in errors or logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import DeliveryError

logger = logging.getLogger(__name__)

_SECTION_LIMIT = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _clip(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size_bytes} B"


def format_params(params: Mapping[str, Any]) -> str:
    shown = [f"{name}={_param_text(value)}" for name, value in params.items() if value is not None]
    return ", ".join(shown) if shown else "(none)"


def _param_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def rows_text(status: Mapping[str, Any]) -> str:
    """``1,234``, or with several sheets ``1,234 (Summary: 30, Orders: 1,204)``."""
    rows = int(status.get("row_count") or 0)
    sheets = status.get("sheets") or []
    if len(sheets) < 2:
        return f"{rows:,}"
    parts = ", ".join(f"{escape(str(sheet.get('name')))}: {int(sheet.get('row_count') or 0):,}" for sheet in sheets)
    return f"{rows:,} ({parts})"


def success_message(status: Mapping[str, Any], *, download_url: str, expires_at: str) -> dict[str, Any]:
    title = escape(str(status.get("title") or status["report"]))
    params = escape(format_params(status.get("params") or {}))
    rows = int(status.get("row_count") or 0)
    facts = (
        f"*Parameters:* {params}\n"
        f"*Rows:* {rows_text(status)}   *Size:* {human_size(int(status.get('size_bytes') or 0))}"
        f"   *Took:* {float(status.get('duration_seconds') or 0):.1f} s"
    )
    if rows == 0:
        facts += "\nThe query returned *0 rows* for these parameters: the file holds only the column headers."
    facts += "".join(f"\n{note}" for note in result_notes(status))
    split = ", split over several sheets" if _continued(status) else ""
    file_name = escape(str(status.get("file_name") or "the file"))
    return {
        "text": _clip(f"Export ready: {title} ({rows:,} {'row' if rows == 1 else 'rows'}{split})"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(f"Export ready: {status.get('title') or status['report']}", 150)}},
            {"type": "section", "text": _mrkdwn(_clip(facts))},
            {
                "type": "section",
                "text": _mrkdwn(_clip(f"*{file_name}*\nThe link expires {expires_at}.")),
                # A button carries the URL verbatim: no mrkdwn escaping can mangle a signed query string.
                "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Download"}, "url": download_url, "action_id": "download"},
            },
            {"type": "context", "elements": [_mrkdwn(f"export `{escape(str(status['export_id']))}`")]},
        ],
    }


def _continued(status: Mapping[str, Any]) -> list[str]:
    """Sheets that continue past Excel's row limit, as "Orders (2 sheets)"."""
    return [
        f"{sheet.get('name')} ({1 + len(sheet['continued_on'])} sheets)"
        for sheet in status.get("sheets") or []
        if isinstance(sheet, Mapping) and sheet.get("continued_on")
    ]


def result_notes(status: Mapping[str, Any]) -> list[str]:
    """What a reader should know about the file's shape: split sheets, cut text, numbers as text."""
    notes = []
    continued = _continued(status)
    if continued:
        names = escape(", ".join(continued[:5]) + (", …" if len(continued) > 5 else ""))
        notes.append(f"*Split:* the result is longer than one Excel sheet holds, so it continues on further sheets: {names}.")
    truncated = int(status.get("truncated_cells") or 0)
    if truncated:
        notes.append(f"*Truncated:* {truncated:,} cells were longer than Excel's 32,767 characters and end with …[truncated].")
    as_text = int(status.get("numbers_as_text") or 0)
    if as_text:
        notes.append(f"*Numbers as text:* {as_text:,} values had more than 15 digits, which Excel would round.")
    return notes


def failure_message(status: Mapping[str, Any]) -> dict[str, Any]:
    title = escape(str(status.get("title") or status["report"]))
    error = status.get("error") or {}
    summary = escape(str(error.get("message") or "unknown error"))
    code = escape(str(error.get("code") or "error"))
    params = escape(format_params(status.get("params") or {}))
    return {
        "text": _clip(f"Export failed: {title}: {summary}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(f"Export failed: {status.get('title') or status['report']}", 150)}},
            {
                "type": "section",
                "text": _mrkdwn(_clip(f"*Parameters:* {params}\n*Error:* `{code}` {summary}")),
            },
            {"type": "context", "elements": [_mrkdwn(f"export `{escape(str(status['export_id']))}`")]},
        ],
    }


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
        retry_after = _retry_after(exc.headers.get("Retry-After"))
        transient = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"Slack answered {exc.code} {body}".strip(), transient=transient, retry_after=retry_after) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"Slack could not be reached ({type(reason).__name__})", transient=True) from None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
