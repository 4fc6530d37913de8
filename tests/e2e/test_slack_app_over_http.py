"""The Slack app end to end: signed slash commands and interactions over HTTP to chalice local,
the export through the same jobs as POST /exports, and the Web API stand-in on the Slack port.

Request shapes follow Slack's docs (devstack/slack_client.py cites them); answers of the stand-in
follow the Web API method reference (devstack/slack_web_api.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

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


# Published for these tests only (and removed after): every parameter type the form generates, and
# a report restricted to Alice (by user) and to one channel.
FORM_TYPES = """{#---
title: Slack form types
description: One parameter of each type the Slack form knows.
params:
  day: {type: date, default: yesterday}
  top: {type: integer, min: 1, max: 500, default: 10}
  min_amount: {type: decimal, min: 0, required: false}
  only_paid: {type: boolean, default: true}
  name_contains: {type: string, max_length: 40, required: false}
  status: {type: string, choices: [paid, refunded, cancelled], required: false}
  statuses: {type: "list[string]", choices: [paid, refunded, cancelled], required: false}
  cities: {type: "list[string]", required: false}
format: csv
---#}
SELECT o.id AS `Order`, o.amount AS `Amount`
FROM orders o JOIN users u ON u.id = o.user_id
WHERE o.created_at >= {{ day }} AND o.created_at < {{ day }} + INTERVAL 1 DAY
{% if only_paid %}  AND o.status = 'paid'
{% endif %}{% if min_amount is not none %}  AND o.amount >= {{ min_amount }}
{% endif %}{% if name_contains %}  AND u.name LIKE CONCAT('%', {{ name_contains }}, '%')
{% endif %}{% if status %}  AND o.status = {{ status }}
{% endif %}{% if statuses %}  AND o.status IN ({{ statuses }})
{% endif %}{% if cities %}  AND u.city IN ({{ cities }})
{% endif %}ORDER BY o.id LIMIT {{ top }}
"""
RESTRICTED = """{#---
title: Restricted totals
description: Only Alice, or anyone in the finance channel, may run this from Slack.
params:
  day: {type: date, default: yesterday}
slack_users: [U0ALICE01]
slack_channels: [C0FINANCE]
---#}
SELECT COUNT(*) AS `Orders` FROM orders WHERE created_at >= {{ day }}
"""
# Quiet in the shared channel when empty; a person who asked from Slack still hears back.
QUIET_WHEN_EMPTY = """{#---
title: Quiet when empty
description: Orders of one day; the scheduled channel hears nothing when there are none.
params:
  day: {type: date, default: yesterday}
on_empty: skip
---#}
SELECT id AS `Order` FROM orders WHERE created_at >= {{ day }} AND created_at < {{ day }} + INTERVAL 1 DAY
"""
TEST_TEMPLATES = {"slack_form_types": FORM_TYPES, "slack_restricted": RESTRICTED, "slack_quiet_when_empty": QUIET_WHEN_EMPTY}


@pytest.fixture(scope="module")
def test_templates(local_stack: stack.StackConfig) -> Iterator[None]:
    s3 = stack.aws_client(local_stack, "s3")
    for name, source in TEST_TEMPLATES.items():
        s3.put_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql", Body=source.encode())
    yield
    for name in TEST_TEMPLATES:
        s3.delete_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql")


@pytest.fixture
def slack(local_stack: stack.StackConfig, test_templates: None) -> Iterator[stack.StackConfig]:
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


def unique_amount() -> str:
    return f"0.{time.time_ns() % 10**9:09d}"


def history_ids(config: stack.StackConfig) -> list[str]:
    code, body = stack.http_json("GET", f"{config.api_url}/exports?limit=100")
    assert code == 200
    return [entry["export_id"] for entry in body["exports"]]


def test_command_with_complete_parameters_exports_dms_the_file_with_buttons_and_run_again_runs_afresh(slack: stack.StackConfig) -> None:
    day = busiest_day(slack)
    next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    min_amount = unique_amount()  # parameters never asked for before: no cache answers
    code, answer, seconds = send_command(slack, f"orders_range date_from={day} date_to={next_day} statuses=paid min_amount={min_amount}", ALICE)
    assert code == 200 and seconds < 3.0, (code, answer, seconds)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Queued *Orders in a period* (date_from: ") and "direct messages" in answer["text"]
    export_id = export_id_in(answer["text"])
    status = wait_for_export(slack.api_url, export_id)
    assert status["status"] == "succeeded" and status["notified"] is True, status
    # Who asked is the verified Slack user, in the status and in the history.
    assert status["requested_by"] == "slack:U0ALICE01 (alice)"
    code, history = stack.http_json("GET", f"{slack.api_url}/exports?report=orders_range&limit=5")
    assert any(entry["export_id"] == export_id and entry["requested_by"] == "slack:U0ALICE01 (alice)" for entry in history["exports"])
    sql = "SELECT COUNT(*) FROM orders WHERE created_at >= %s AND created_at < %s AND status = 'paid' AND amount >= %s"
    expected = database_rows(slack, sql, (day, next_day, min_amount))[0][0]

    # The result is a DM to Alice through the bot (not the webhook): today's blocks plus two buttons.
    messages = direct_messages(slack, export_id, ALICE)
    assert len(messages) == 1
    message = messages[0]
    assert message["text"] == f"Export ready: Orders in a period ({expected:,} rows)"
    assert message["blocks"][0]["text"]["text"] == "Export ready: Orders in a period"
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
    assert again != export_id and notes[0]["text"].startswith("Queued *Orders in a period*")
    status = wait_for_export(slack.api_url, again)
    assert status["status"] == "succeeded"
    assert status["params"] == {"date_from": day, "date_to": next_day, "statuses": ["paid"], "min_amount": min_amount}
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


def report_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Seoul")).date()


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def test_modal_flow_picker_then_generated_form_then_field_error_then_export(slack: stack.StackConfig) -> None:
    code, answer, seconds = send_command(slack, "", ALICE)
    assert code == 200 and answer in ("", None) and seconds < 3.0, (code, answer)
    opened = wait_for(lambda: web_api_calls(slack, "views.open"))
    assert opened[0]["answer"]["ok"] is True
    picker = opened[0]["answer"]["view"]
    options = {option["value"]: option for option in picker["blocks"][0]["accessory"]["options"]}
    assert options["orders_by_day"]["text"]["text"] == "Orders by day"
    assert options["orders_by_day"]["description"]["text"] == "Every order created on one day, with its customer and product."

    # Picking a report replaces the view by that report's form, one block per declared parameter.
    code, answer, _ = send_interaction(slack, view_action(picker, "pick_report", "slack_form_types", ALICE))
    assert code == 200
    updated = wait_for(lambda: web_api_calls(slack, "views.update"))
    assert updated[0]["args"]["view_id"] == picker["id"] and updated[0]["args"]["hash"] == picker["hash"]
    form = updated[0]["answer"]["view"]
    blocks = blocks_by_id(form)
    yesterday = (report_today() - dt.timedelta(days=1)).isoformat()
    assert blocks["param:day"]["element"] == {"type": "datepicker", "action_id": "value", "initial_date": yesterday}
    assert blocks["param:day"]["optional"] is True  # it has a default
    assert blocks["param:top"]["element"] == {
        "type": "number_input",
        "action_id": "value",
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "500",
        "initial_value": "10",
    }
    assert blocks["param:min_amount"]["element"] == {"type": "number_input", "action_id": "value", "is_decimal_allowed": True, "min_value": "0"}
    assert blocks["param:min_amount"]["optional"] is True
    yes = {"text": {"type": "plain_text", "text": "Yes", "emoji": False}, "value": "true"}
    assert blocks["param:only_paid"]["element"] == {"type": "checkboxes", "action_id": "value", "options": [yes], "initial_options": [yes]}
    assert blocks["param:name_contains"]["element"] == {"type": "plain_text_input", "action_id": "value", "max_length": 40}
    assert blocks["param:status"]["element"]["type"] == "static_select"
    assert [option["value"] for option in blocks["param:status"]["element"]["options"]] == ["paid", "refunded", "cancelled"]
    assert blocks["param:statuses"]["element"]["type"] == "multi_static_select"
    assert blocks["param:cities"]["element"]["type"] == "plain_text_input" and "commas" in blocks["param:cities"]["hint"]["text"]
    assert blocks["format"]["element"]["initial_option"]["value"] == "csv"  # the report's format: default
    assert [option["value"] for option in blocks["format"]["element"]["options"]] == ["xlsx", "csv", "csv.gz"]

    day = busiest_day(slack)
    values: dict[str, dict[str, Any]] = {
        "param:day": {"value": {"type": "datepicker", "selected_date": day}},
        "param:top": {"value": {"type": "number_input", "value": "5"}},
        "param:min_amount": {"value": {"type": "number_input", "value": "-3"}},  # below the declared min: 0
        "param:only_paid": {"value": {"type": "checkboxes", "selected_options": []}},
        "param:name_contains": {"value": {"type": "plain_text_input", "value": None}},
        "param:status": {"value": {"type": "static_select", "selected_option": None}},
        "param:statuses": {"value": {"type": "multi_static_select", "selected_options": [{"value": "paid"}, {"value": "refunded"}]}},
        "param:cities": {"value": {"type": "plain_text_input", "value": None}},
        "format": {"value": {"type": "static_select", "selected_option": {"value": "xlsx"}}},
    }
    before = history_ids(slack)
    code, answer, seconds = send_interaction(slack, view_submission(form, values, ALICE))
    assert code == 200 and seconds < 3.0
    # The same validation as POST /exports, its message next to the field.
    assert answer == {"response_action": "errors", "errors": {"param:min_amount": "parameter 'min_amount' must be at least 0"}}
    assert history_ids(slack) == before

    min_amount = unique_amount()
    values["param:min_amount"] = {"value": {"type": "number_input", "value": min_amount}}
    code, answer, _ = send_interaction(slack, view_submission(form, values, ALICE))
    assert answer == {"response_action": "clear"}
    note = wait_for(lambda: web_api_calls(slack, "chat.postEphemeral"))[0]["args"]
    assert note["channel"] == ALICE.channel_id and note["user"] == ALICE.user_id
    status = wait_for_export(slack.api_url, export_id_in(note["text"]))
    assert status["status"] == "succeeded" and status["format"] == "xlsx"
    assert status["params"] == {
        "day": day,
        "top": 5,
        "min_amount": min_amount,
        "only_paid": False,
        "name_contains": None,
        "status": None,
        "statuses": ["paid", "refunded"],
        "cities": None,
    }
    assert len(direct_messages(slack, status["export_id"], ALICE)) == 1


def test_a_reversed_range_is_refused_next_to_its_field_by_the_check_post_exports_runs(slack: stack.StackConfig) -> None:
    # orders_range declares date_from {at_most: date_to}: resolve_parameters refuses a reversed range
    # (issue 13) for the API, the CLI and schedules; the command and the form reach the same check.
    reversed_range = "parameter 'date_from' (2026-11-20) must not be after 'date_to' (2026-11-01)"
    before = history_ids(slack)
    code, answer, seconds = send_command(slack, "orders_range date_from=2026-11-20 date_to=2026-11-01", ALICE)
    assert code == 200 and seconds < 3.0
    assert answer["response_type"] == "ephemeral" and reversed_range in answer["text"] and "params.date_from" in answer["text"]
    form = wait_for(lambda: web_api_calls(slack, "views.open"))[0]["args"]["view"]  # opened pre-filled, as typed
    blocks = blocks_by_id(form)
    assert blocks["param:date_from"]["element"]["initial_date"] == "2026-11-20"
    assert blocks["param:date_to"]["element"]["initial_date"] == "2026-11-01"

    values: dict[str, dict[str, Any]] = {
        "param:date_from": {"value": {"type": "datepicker", "selected_date": "2026-11-20"}},
        "param:date_to": {"value": {"type": "datepicker", "selected_date": "2026-11-01"}},
        "param:statuses": {"value": {"type": "multi_static_select", "selected_options": []}},
        "param:min_amount": {"value": {"type": "number_input", "value": None}},
        "format": {"value": {"type": "static_select", "selected_option": {"value": "xlsx"}}},
    }
    code, answer, seconds = send_interaction(slack, view_submission(form, values, ALICE))
    assert code == 200 and seconds < 3.0
    assert answer == {"response_action": "errors", "errors": {"param:date_from": reversed_range}}
    assert history_ids(slack) == before


def test_change_parameters_opens_the_form_prefilled_with_the_exports_parameters(slack: stack.StackConfig) -> None:
    code, answer, _ = send_command(slack, "slack_form_types day=2026-11-02 top=7 statuses=paid,cancelled 'name_contains=Kim Lee'", ALICE)
    export_id = export_id_in(answer["text"])
    wait_for_export(slack.api_url, export_id)
    code, answer, _ = send_interaction(slack, button_click("change_parameters", export_id, ALICE))
    assert code == 200
    blocks = blocks_by_id(wait_for(lambda: web_api_calls(slack, "views.open"))[0]["args"]["view"])
    assert blocks["param:day"]["element"]["initial_date"] == "2026-11-02"
    assert blocks["param:top"]["element"]["initial_value"] == "7"
    assert blocks["param:name_contains"]["element"]["initial_value"] == "Kim Lee"  # quoting kept the space
    assert [option["value"] for option in blocks["param:statuses"]["element"]["initial_options"]] == ["paid", "cancelled"]


def test_incomplete_or_invalid_command_opens_the_form_prefilled(slack: stack.StackConfig) -> None:
    code, answer, _ = send_command(slack, "customers name_contains=Kim", ALICE)  # `since` is required
    assert code == 200 and answer in ("", None)
    blocks = blocks_by_id(wait_for(lambda: web_api_calls(slack, "views.open"))[0]["args"]["view"])
    assert blocks["param:name_contains"]["element"]["initial_value"] == "Kim"
    assert "initial_date" not in blocks["param:since"]["element"] and blocks["param:since"]["optional"] is False
    code, answer, _ = send_command(slack, "slack_form_types top=9999", ALICE)
    assert answer["text"] == ":warning: parameter 'top' must be at most 500 (`params.top`)"
    assert len(web_api_calls(slack, "views.open")) == 2


def test_help_lists_only_the_reports_the_caller_may_run(slack: stack.StackConfig) -> None:
    _, alice, _ = send_command(slack, "help", ALICE)
    _, bob, _ = send_command(slack, "help", BOB)
    assert "`slack_restricted`" in alice["text"] and "`slack_restricted`" not in bob["text"]
    assert "`orders_by_day` Orders by day" in bob["text"]


def test_a_restricted_report_is_refused_for_another_user_and_runs_for_the_listed_ones(slack: stack.StackConfig) -> None:
    before = history_ids(slack)
    code, answer, _ = send_command(slack, "slack_restricted day=2026-11-01", BOB)
    assert code == 200 and answer["response_type"] == "ephemeral"
    why = "may only be run from Slack by its listed users or listed channels (the report's slack_users / slack_channels)."
    assert answer["text"] == f":no_entry: Restricted totals {why}"
    assert history_ids(slack) == before
    in_finance = FakeSlackUser(BOB.user_id, BOB.name, channel_id="C0FINANCE")
    for user in (ALICE, in_finance):
        code, answer, _ = send_command(slack, "slack_restricted day=2026-11-01", user)
        assert answer["text"].startswith("Queued *Restricted totals*") or "already being built" in answer["text"] or "cache" in answer["text"]
        export_id = export_id_in(answer["text"])
        wait_for_export(slack.api_url, export_id)
        wait_for(lambda export_id=export_id, user=user: direct_messages(slack, export_id, user))  # so no DM of this test lands in the next one


def test_an_empty_result_of_an_on_empty_skip_report_is_still_dmed_to_the_slack_requester(slack: stack.StackConfig) -> None:
    code, answer, _ = send_command(slack, "slack_quiet_when_empty day=1990-01-01", ALICE)  # no orders that day
    assert code == 200, answer
    export_id = export_id_in(answer["text"])
    status = wait_for_export(slack.api_url, export_id)
    assert status["status"] == "succeeded" and status["row_count"] == 0
    (dm,) = wait_for(lambda: direct_messages(slack, export_id, ALICE))
    assert "Quiet when empty" in json.dumps(dm)
    assert slack_messages_for(slack, export_id) == []  # the shared webhook stays quiet


def test_requests_from_another_workspace_are_refused(slack: stack.StackConfig) -> None:
    before = history_ids(slack)
    stranger = FakeSlackUser("U0ALICE01", "alice", team_id="T0FOREIGN")
    code, answer, _ = send_command(slack, f"orders_by_day day={busiest_day(slack)}", stranger)
    assert code == 200 and answer["response_type"] == "ephemeral" and "one Slack workspace only" in answer["text"]
    code, answer, _ = send_interaction(slack, button_click("run_again", before[0], stranger))
    assert code == 200 and answer in ("", None)
    time.sleep(0.3)
    assert history_ids(slack) == before and web_api_calls(slack) == []


def test_identical_requests_from_two_users_run_one_query_and_both_get_the_message(slack: stack.StackConfig) -> None:
    text = f"orders_range date_from=2000-01-01 date_to=2100-01-01 min_amount={unique_amount()}"
    before = history_ids(slack)
    answers = [send_command(slack, text, user)[1] for user in (ALICE, BOB)]
    ids = {export_id_in(answer["text"]) for answer in answers}
    assert len(ids) == 1, answers
    export_id = ids.pop()
    assert "already being built" in answers[1]["text"] or "from the cache" in answers[1]["text"]
    wait_for_export(slack.api_url, export_id)
    assert [entry for entry in history_ids(slack) if entry not in before] == [export_id]
    wait_for(lambda: direct_messages(slack, export_id, BOB))
    assert len(direct_messages(slack, export_id, ALICE)) == 1 and len(direct_messages(slack, export_id, BOB)) == 1


def test_a_modal_that_cannot_be_opened_in_time_is_reported_to_the_requester(slack: stack.StackConfig) -> None:
    script_web_api(slack, {"views.open": [{"error": "invalid_trigger_id"}]})
    code, answer, _ = send_command(slack, "", ALICE)
    assert code == 200 and answer["text"] == ":warning: The form could not be opened (invalid_trigger_id); run /export again."


def test_a_rate_limited_direct_message_is_retried_after_retry_after(slack: stack.StackConfig) -> None:
    script_web_api(slack, {"chat.postMessage": [{"status": 429, "retry_after": 1}]})
    _, answer, _ = send_command(slack, f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={unique_amount()}", ALICE)
    status = wait_for_export(slack.api_url, export_id_in(answer["text"]))
    assert status["notified"] is True, status
    calls = [call for call in web_api_calls(slack, "chat.postMessage") if status["export_id"] in str(call["args"])]
    assert [call["status"] for call in calls] == [429, 200]
    assert calls[1]["at"] - calls[0]["at"] >= 0.95  # Retry-After: 1 was honoured


@pytest.mark.parametrize("error", ["channel_not_found", "token_revoked"])
def test_a_refused_direct_message_is_recorded_and_the_file_is_kept(slack: stack.StackConfig, error: str) -> None:
    script_web_api(slack, {"chat.postMessage": [{"error": error}]})
    _, answer, _ = send_command(slack, f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={unique_amount()}", ALICE)
    status = wait_for_export(slack.api_url, export_id_in(answer["text"]))
    assert status["status"] == "succeeded" and status["notified"] is False
    assert status["notify_error"] == f"Slack chat.postMessage answered {error}"
    assert len(direct_messages(slack, status["export_id"])) == 1  # a permanent error is not retried
    assert sheet_rows(download(status["download_url"]))[0][0] == "Order"


def test_a_cached_answer_is_delivered_at_once_as_a_dm_with_buttons(slack: stack.StackConfig) -> None:
    text = f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={unique_amount()}"
    _, first, _ = send_command(slack, text, ALICE)
    export_id = export_id_in(first["text"])
    wait_for_export(slack.api_url, export_id)
    code, again, seconds = send_command(slack, text, BOB)
    assert code == 200 and seconds < 3.0
    assert "ready from the cache" in again["text"] and export_id_in(again["text"]) == export_id
    (message,) = direct_messages(slack, export_id, BOB)
    assert message["text"].startswith("Export ready: Orders in a period")
    assert [button["action_id"] for button in message["blocks"][-1]["elements"]] == ["run_again", "change_parameters"]
    assert len(direct_messages(slack, export_id, ALICE)) == 1


def test_run_again_in_the_dm_of_an_export_asked_for_in_an_allowed_channel_is_allowed(slack: stack.StackConfig) -> None:
    in_finance = FakeSlackUser(BOB.user_id, BOB.name, channel_id="C0FINANCE")
    day = dt.date(2000, 1, 1) + dt.timedelta(days=time.time_ns() // 1000 % 20000)  # never asked before: not cached
    _, answer, _ = send_command(slack, f"slack_restricted day={day}", in_finance)
    assert answer["text"].startswith("Queued"), answer
    export_id = export_id_in(answer["text"])
    wait_for(lambda: direct_messages(slack, export_id, BOB))
    code, _, _ = send_interaction(slack, button_click("run_again", export_id, BOB))  # pressed in Bob's DM
    assert code == 200
    note = wait_for(lambda: web_api_calls(slack, "chat.postEphemeral"))[0]["args"]
    assert note["channel"] == "D0BOB0001" and note["text"].startswith("Queued *Restricted totals*"), note
    wait_for_export(slack.api_url, export_id_in(note["text"]))
    stranger = FakeSlackUser("U0CAROL01", "carol")  # never sent this export: the channel does not count for her
    send_interaction(slack, button_click("run_again", export_id, stranger))
    refusals = wait_for(lambda: [call for call in web_api_calls(slack, "chat.postEphemeral") if call["args"]["user"] == "U0CAROL01"])
    assert refusals[0]["args"]["text"].startswith(":warning: Restricted totals may only be run from Slack by its listed users")


def test_neither_the_bot_token_nor_the_signing_secret_reaches_the_api_log(slack: stack.StackConfig) -> None:
    send_command(slack, f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={unique_amount()}", ALICE)
    send_command(slack, "help", ALICE, secret="not-the-signing-secret")
    wait_for(lambda: web_api_calls(slack, "chat.postMessage"))
    log = slack.api_log.read_text(errors="replace")  # the API runs at DEBUG in the test stack
    assert "slack_requested" in log
    assert stack.SLACK_BOT_TOKEN not in log and stack.SLACK_SIGNING_SECRET not in log
