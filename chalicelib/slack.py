"""Slack messages: Block Kit payloads built from export results (pure), and webhook delivery.

Everything taken from a request is escaped for Slack mrkdwn (``&``, ``<``, ``>``) so a parameter
can neither mention ``<!channel>`` nor forge a link. The webhook URL is a secret: it never
appears in errors or logs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import DeliveryError

_SECTION_LIMIT = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


def success_message(status: Mapping[str, Any], *, download_url: str, expires_at: str) -> dict[str, Any]:
    title = escape(str(status.get("title") or status["report"]))
    params = escape(format_params(status.get("params") or {}))
    rows = int(status.get("row_count") or 0)
    facts = (
        f"*Parameters:* {params}\n"
        f"*Rows:* {rows:,}   *Size:* {human_size(int(status.get('size_bytes') or 0))}"
        f"   *Took:* {float(status.get('duration_seconds') or 0):.1f} s"
    )
    facts += "".join(f"\n{note}" for note in result_notes(status))
    sheet_count = len(status.get("sheets") or [])
    split = f", split over {sheet_count} sheets" if sheet_count > 1 else ""
    file_name = escape(str(status.get("file_name") or "the file"))
    return {
        "text": _clip(f"Export ready: {title} ({rows:,} rows{split})"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(f"Export ready: {status.get('title') or status['report']}", 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(facts)}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(f"*{file_name}*\nThe link expires {expires_at}.")},
                # A button carries the URL verbatim: no mrkdwn escaping can mangle a signed query string.
                "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Download"}, "url": download_url, "action_id": "download"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"export `{escape(str(status['export_id']))}`"}]},
        ],
    }


def result_notes(status: Mapping[str, Any]) -> list[str]:
    """What a reader should know about the file's shape: split sheets, cut text, numbers as text."""
    notes = []
    sheets = [str(name) for name in status.get("sheets") or []]
    if len(sheets) > 1:
        names = escape(", ".join(sheets[:5]) + (", …" if len(sheets) > 5 else ""))
        notes.append(f"*Split:* the result is longer than one Excel sheet holds, so it continues over {len(sheets)} sheets ({names}).")
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
                "text": {"type": "mrkdwn", "text": _clip(f"*Parameters:* {params}\n*Error:* `{code}` {summary}")},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"export `{escape(str(status['export_id']))}`"}]},
        ],
    }


def post_message(webhook_url: str, payload: Mapping[str, Any], *, timeout: float = 10.0) -> None:
    """POST one message; raise DeliveryError (transient for 429/5xx/network) on failure."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
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
