"""The Slack app end to end: signed slash commands and interactions over HTTP to chalice local,
the export through the same jobs as POST /exports, and the Web API stand-in on the Slack port.

Request shapes follow Slack's docs (devstack/slack_client.py cites them); answers of the stand-in
follow the Web API method reference (devstack/slack_web_api.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import stack
from devstack.slack_client import (
    FakeSlackUser,
    button_click,
    script_web_api,
    send_command,
    send_interaction,
    view_action,
    view_submission,
    web_api_calls,
)
from tests.helpers import database_rows, download, sheet_rows, slack_messages_for, wait_for_export

pytestmark = pytest.mark.stack

ALICE = FakeSlackUser("U0ALICE01", "alice")
BOB = FakeSlackUser("U0BOB0001", "bob", channel_id="C0OTHER01")
_EXPORT_ID = re.compile(r"Export `(\d{8}-\d{6}-[0-9a-f]{10})`")


@pytest.fixture
def slack(local_stack: stack.StackConfig) -> Iterator[stack.StackConfig]:
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")  # also forgets Web API calls and scripts
    yield local_stack


def busiest_day(config: stack.StackConfig) -> str:
    rows = database_rows(config, "SELECT DATE(created_at) AS d FROM orders GROUP BY d ORDER BY COUNT(*) DESC, d LIMIT 1")
    return str(rows[0][0])


def export_id_in(text: str) -> str:
    match = _EXPORT_ID.search(text)
    assert match, text
    return match.group(1)


def direct_messages(config: stack.StackConfig, export_id: str, user: FakeSlackUser | None = None) -> list[dict[str, Any]]:
    calls = web_api_calls(config, "chat.postMessage")
    return [call["args"] for call in calls if export_id in str(call["args"]) and (user is None or call["args"]["channel"] == user.user_id)]


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def history_ids(config: stack.StackConfig) -> list[str]:
    code, body = stack.http_json("GET", f"{config.api_url}/exports?limit=100")
    assert code == 200
    return [entry["export_id"] for entry in body["exports"]]


def test_command_with_complete_parameters_exports_dms_the_file_with_buttons_and_run_again_runs_afresh(slack: stack.StackConfig) -> None:
    day = busiest_day(slack)
    code, answer, seconds = send_command(slack, f"orders_by_day day={day} status=paid", ALICE)
    assert code == 200 and seconds < 3.0, (code, answer, seconds)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Queued *Orders by day* (day=") and "direct messages" in answer["text"]
    export_id = export_id_in(answer["text"])
    status = wait_for_export(slack.api_url, export_id)
    assert status["status"] == "succeeded" and status["notified"] is True, status
    # Who asked is the verified Slack user, in the status and in the history.
    assert status["requested_by"] == "slack:U0ALICE01 (alice)"
    code, history = stack.http_json("GET", f"{slack.api_url}/exports?report=orders_by_day&limit=5")
    assert any(entry["export_id"] == export_id and entry["requested_by"] == "slack:U0ALICE01 (alice)" for entry in history["exports"])
    expected = database_rows(slack, "SELECT COUNT(*) FROM orders WHERE DATE(created_at) = %s AND status = 'paid'", (day,))[0][0]

    # The result is a DM to Alice through the bot (not the webhook): today's blocks plus two buttons.
    messages = direct_messages(slack, export_id, ALICE)
    assert len(messages) == 1
    message = messages[0]
    assert message["text"] == f"Export ready: Orders by day ({expected:,} rows)"
    assert message["blocks"][0]["text"]["text"] == "Export ready: Orders by day"
    actions = message["blocks"][-1]
    assert actions["type"] == "actions"
    assert [(button["action_id"], button["text"]["text"], button["value"]) for button in actions["elements"]] == [
        ("run_again", "Run again", export_id),
        ("change_parameters", "Change parameters", export_id),
    ]
    rows = sheet_rows(download(message["blocks"][2]["accessory"]["url"]))
    assert len(rows) - 1 == expected
    assert slack_messages_for(slack, export_id) == []

    # Run again: same parameters, a fresh export (not the cache), its own DM.
    code, answer, seconds = send_interaction(slack, button_click("run_again", export_id, ALICE))
    assert code == 200 and answer in ("", None) and seconds < 3.0
    notes = wait_for(lambda: [call["args"] for call in web_api_calls(slack, "chat.postEphemeral")])
    assert notes[0]["channel"] == "D0ALICE01" and notes[0]["user"] == "U0ALICE01"
    again = export_id_in(notes[0]["text"])
    assert again != export_id and notes[0]["text"].startswith("Queued *Orders by day*")
    status = wait_for_export(slack.api_url, again)
    assert status["status"] == "succeeded" and status["params"] == {"day": day, "status": "paid"}
    assert status["requested_by"] == "slack:U0ALICE01 (alice)"
    assert len(direct_messages(slack, again, ALICE)) == 1


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"secret": "not-the-signing-secret"}, id="wrong-secret"),
        pytest.param({"timestamp": int(time.time()) - 301}, id="stale-timestamp"),
        pytest.param({"signature": "v0=" + "0" * 64}, id="forged-signature"),
        pytest.param({"signature": ""}, id="no-signature"),
    ],
)
def test_bad_or_stale_signatures_are_refused_with_401_and_run_nothing(slack: stack.StackConfig, signing: dict[str, Any]) -> None:
    before = history_ids(slack)
    code, answer, _ = send_command(slack, f"orders_by_day day={busiest_day(slack)}", ALICE, **signing)
    assert code == 401 and answer["error"]["code"] == "invalid_signature", answer
    code, answer, _ = send_interaction(slack, button_click("run_again", before[0] if before else "x", ALICE), **signing)
    assert code == 401 and answer["error"]["code"] == "invalid_signature", answer
    time.sleep(0.3)
    assert history_ids(slack) == before
    assert web_api_calls(slack) == []


def test_requested_by_cannot_be_claimed_through_the_rest_body(slack: stack.StackConfig) -> None:
    body = {"report": "orders_by_day", "requested_by": "slack:U0ALICE01 (alice)"}
    code, answer = stack.http_json("POST", f"{slack.api_url}/exports", body)
    assert code == 400 and answer["error"]["code"] == "reserved_requester" and answer["error"]["field"] == "requested_by"
