"""The local Slack Web API stand-in refuses what Slack refuses, so the over-HTTP tests can fail.

Limits from Slack's modal view reference (docs.slack.dev/reference/views/modal-views) and the
chat.postMessage reference (``blocks``: at most 50); answers are HTTP 200 with ``ok: false``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from chalicelib.exports.slack_forms import form_view
from chalicelib.templating.template import parse_template
from devstack.slack_web_api import WebApiStandIn

TOKEN = "xoxb-local-fake-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def call(method: str, arguments: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, body, _ = WebApiStandIn(TOKEN).answer(method, HEADERS, json.dumps(arguments).encode())
    return status, body


def modal(**fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Export"}, "blocks": [], **fields}


def test_views_past_the_modal_limits_are_refused_as_slack_does() -> None:
    trigger = "1234.5678.abcdef"
    assert call("views.open", {"trigger_id": trigger, "view": modal()})[1]["ok"] is True
    too_long = {"type": "plain_text", "text": "x" * 25}
    for view in (modal(title=too_long), modal(submit=too_long), modal(blocks=[{"type": "divider"}] * 101), modal(private_metadata="x" * 3001)):
        assert call("views.open", {"trigger_id": trigger, "view": view}) == (200, {"ok": False, "error": "invalid_arguments"})


def test_a_message_of_more_than_fifty_blocks_is_refused() -> None:
    blocks = [{"type": "divider"}]
    assert call("chat.postMessage", {"channel": "U0TEST01", "blocks": blocks * 50})[1]["ok"] is True
    assert call("chat.postMessage", {"channel": "U0TEST01", "blocks": blocks * 51}) == (200, {"ok": False, "error": "invalid_blocks"})


def test_the_form_of_a_report_with_a_long_title_and_many_parameters_is_accepted() -> None:
    # 97 parameters is the most a form holds: picker, description and format take the other 3 blocks.
    params = "\n".join(f"  p{number}: {{type: string, required: false}}" for number in range(97))
    uses = " ".join(f"{{{{ p{number} }}}}" for number in range(97))
    template = parse_template("wide", f"{{#---\ntitle: A report title far longer than a modal title may be\nparams:\n{params}\n---#}}\nSELECT {uses}")
    view = form_view([template], template, today=dt.date(2026, 1, 1), prefill={}, export_format="xlsx", channel_id="C0TEST01")
    assert call("views.open", {"trigger_id": "1234.5678.abcdef", "view": view})[1]["ok"] is True
