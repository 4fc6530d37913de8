"""Slack messages: the Block Kit payloads built from an export's status (pure: no I/O).

Everything taken from a request is escaped for Slack mrkdwn (``&``, ``<``, ``>``) so a parameter
can neither mention ``<!channel>`` nor forge a link, its formatting characters are neutralised
(``value_text``), and every mrkdwn text is ``verbatim``: Slack then does not turn a bare
``@channel``, ``#channel`` or URL in a value into a mention or a link either. The facts (rows,
size, time, notes) come first; the parameters come last and alone are clipped to the section's
3,000 characters. Delivery is chalicelib/slack.py (webhook) and chalicelib/slack_web.py (Web API).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.templating.presentation import display_params, display_time

_SECTION_LIMIT = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn has no escape for its formatting characters, and `verbatim` only stops links and mentions:
# a value holding *bold*, _italic_, ~strike~ or `code` would restyle the message. Their full-width
# twins read the same and format nothing. Slack only formats at word boundaries, so `date_from`
# keeps its underscore; a backtick opens code anywhere.
_MRKDWN_TWINS = {"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"}
_MRKDWN_MARK = re.compile(r"`|(?<!\w)[*_~]|[*_~](?!\w)")


def value_text(text: str) -> str:
    """Text from a request or a result, safe inside mrkdwn: no link, mention or formatting."""
    return _MRKDWN_MARK.sub(lambda mark: _MRKDWN_TWINS[mark.group(0)], escape(text))


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def clip(text: str, limit: int = _SECTION_LIMIT) -> str:
    """Text cut to ``limit`` characters with an ellipsis (Slack refuses longer fields)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size_bytes} B"


def format_params(params: Mapping[str, Any]) -> str:
    """The people-facing form of parameter values (presentation.py), shared with the title row and file name."""
    return display_params(params) or "(none)"


def rows_text(status: Mapping[str, Any]) -> str:
    """``1,234``, or with several sheets ``1,234 (Summary: 30, Orders: 1,204)``."""
    rows = int(status.get("row_count") or 0)
    sheets = status.get("sheets") or []
    if len(sheets) < 2:
        return f"{rows:,}"
    parts = ", ".join(f"{value_text(str(sheet.get('name')))}: {int(sheet.get('row_count') or 0):,}" for sheet in sheets)
    return f"{rows:,} ({parts})"


def _with_parameters(facts: str, params: Mapping[str, Any]) -> str:
    """The facts whole, then the parameters last, clipped alone to what the section has left."""
    label = "\n*Parameters:* "
    room = _SECTION_LIMIT - len(facts) - len(label)
    return facts + label + clip(value_text(format_params(params)), max(room, 1))


def _expiry_text(expires_at: str, status: Mapping[str, Any]) -> str:
    """The link's expiry in the report's zone, the zone named (the API keeps ISO UTC)."""
    try:
        moment = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        zone = ZoneInfo(str(status.get("timezone") or "UTC"))
    except (ValueError, ZoneInfoNotFoundError):
        return expires_at
    return display_time(moment, zone) if moment.tzinfo else expires_at


def success_message(status: Mapping[str, Any], *, download_url: str, expires_at: str) -> dict[str, Any]:
    title = escape(str(status.get("title") or status["report"]))
    rows = int(status.get("row_count") or 0)
    facts = (
        f"*Rows:* {rows_text(status)}   *Size:* {human_size(int(status.get('size_bytes') or 0))}"
        f"   *Took:* {float(status.get('duration_seconds') or 0):.1f} s"
    )
    if rows == 0:
        facts += "\nThe query returned *0 rows* for these parameters: the file holds only the column headers."
    facts += "".join(f"\n{note}" for note in result_notes(status))
    split = ", split over several sheets" if _continued(status) else ""
    file_name = value_text(str(status.get("file_name") or "the file"))
    return {
        "text": clip(f"Export ready: {title} ({rows:,} {'row' if rows == 1 else 'rows'}{split})"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": clip(f"Export ready: {status.get('title') or status['report']}", 150)}},
            {"type": "section", "text": _mrkdwn(_with_parameters(facts, status.get("params") or {}))},
            {
                "type": "section",
                "text": _mrkdwn(clip(f"*{file_name}*\nThe link expires {_expiry_text(expires_at, status)}.")),
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
        names = value_text(", ".join(continued[:5]) + (", …" if len(continued) > 5 else ""))
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
    summary = value_text(str(error.get("message") or "unknown error"))
    code = escape(str(error.get("code") or "error"))  # ours, shown as code: no formatting applies inside
    return {
        "text": clip(f"Export failed: {title}: {escape(str(error.get('message') or 'unknown error'))}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": clip(f"Export failed: {status.get('title') or status['report']}", 150)}},
            {
                "type": "section",
                "text": _mrkdwn(_with_parameters(clip(f"*Error:* `{code}` {summary}", _SECTION_LIMIT // 2), status.get("params") or {})),
            },
            {"type": "context", "elements": [_mrkdwn(f"export `{escape(str(status['export_id']))}`")]},
        ],
    }
