"""The hostile-request table over HTTP to chalice local: what a real client sees, Chalice's own checks included."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest

from devstack import stack
from tests.helpers import wait_for_export
from tests.hostile_requests import CASES, SLACK_CONTROL, Hostile, check_answer, describe

pytestmark = pytest.mark.stack


def send(config: stack.StackConfig, case: Hostile) -> tuple[int, dict[str, str], Any]:
    # http.client, not urllib: urllib would add a Content-Type of its own to a body sent without one.
    connection = http.client.HTTPConnection("127.0.0.1", config.api_port, timeout=30)
    try:
        connection.request(case.method, case.path, body=case.data, headers=case.headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read() or b"null")
    finally:
        connection.close()


@pytest.mark.parametrize("case", CASES, ids=describe)
def test_hostile_request_over_http(local_stack: stack.StackConfig, case: Hostile) -> None:
    status, headers, answer = send(local_stack, case)
    check_answer(case, status, answer)
    assert headers["Content-Type"].startswith("application/json")


def test_slack_control_sequences_in_parameters_reach_slack_as_plain_text(local_stack: stack.StackConfig) -> None:
    case = next(case for case in CASES if case.name == "Slack control sequences in a parameter")
    _, _, accepted = send(local_stack, case)
    status = wait_for_export(local_stack.api_url, accepted["export_id"])
    assert status["status"] == "succeeded" and status["notified"] is True
    assert status["params"]["name_contains"] == SLACK_CONTROL  # stored as sent: escaping is Slack's concern only
    deadline = time.monotonic() + 10
    messages: list[Any] = []
    while not messages and time.monotonic() < deadline:
        _, received = stack.http_json("GET", f"{local_stack.slack_url}/messages")
        messages = [message for message in received if accepted["export_id"] in json.dumps(message)]
    [message] = messages
    wire = json.dumps(message, ensure_ascii=False)
    for control in ("<!channel>", "<!here>", "<@U024BE7LH>", "<#C024BE7LR>", "<https://evil.example|click me>"):
        assert control not in wire
    facts = message["blocks"][1]["text"]
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt;" in facts["text"]
    assert "&amp;amp;" in facts["text"]  # an already-escaped entity is escaped again, so it shows as typed
