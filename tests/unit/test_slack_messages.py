from __future__ import annotations

import json

from chalicelib import slack

STATUS = {
    "export_id": "20261130-090000-0123456789",
    "report": "orders_by_day",
    "title": "Orders <by> day",
    "params": {"day": "2026-11-29", "note": "<!channel> & <http://evil|click>"},
    "row_count": 12345,
    "size_bytes": 3 * 1024 * 1024,
    "duration_seconds": 4.2,
    "file_name": "Orders by day 2026-11-29.xlsx",
}


def test_success_message_has_link_rows_size_and_expiry() -> None:
    message = slack.success_message(STATUS, download_url="https://files.example.invalid/x?a=1&b=2", expires_at="2026-12-03T00:00:00Z")
    text = json.dumps(message)
    assert message["text"] == "Export ready: Orders &lt;by&gt; day (12,345 rows)"
    assert "*Rows:* 12,345" in text and "3.0 MB" in text and "4.2 s" in text
    assert "2026-12-03T00:00:00Z" in text
    button = message["blocks"][2]["accessory"]
    assert button["url"] == "https://files.example.invalid/x?a=1&b=2"


def test_request_values_cannot_mention_or_link() -> None:
    message = slack.success_message(STATUS, download_url="https://x.invalid", expires_at="soon")
    facts = message["blocks"][1]["text"]["text"]
    assert "<!channel>" not in facts
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in facts


def test_failure_message_carries_code_and_summary() -> None:
    failed = {**STATUS, "error": {"code": "db_unavailable", "message": "the database is unavailable"}}
    message = slack.failure_message(failed)
    assert message["text"].startswith("Export failed: Orders &lt;by&gt; day")
    assert "`db_unavailable` the database is unavailable" in message["blocks"][1]["text"]["text"]
    assert "20261130-090000-0123456789" in message["blocks"][2]["elements"][0]["text"]


def test_human_sizes() -> None:
    assert slack.human_size(512) == "512 B"
    assert slack.human_size(2048) == "2.0 KB"
    assert slack.human_size(5 * 1024**3) == "5.0 GB"


def every_text_object(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("mrkdwn", "plain_text") else []
        return found + [item for value in node.values() for item in every_text_object(value)]
    if isinstance(node, list):
        return [item for value in node for item in every_text_object(value)]
    return []


def test_no_request_value_can_become_a_mention_or_a_link_anywhere_in_a_message() -> None:
    hostile = "<!channel> <!here|here> <@U024BE7LH> <#C024BE7LR> <https://evil.example|click> @channel"
    status = {
        **STATUS,
        "title": hostile,
        "params": {"a": hostile, "b": [hostile]},
        "file_name": hostile,
        "sheets": [{"name": hostile, "row_count": 1}] * 2,
    }
    failed = {**status, "error": {"code": hostile, "message": hostile}}
    for message in (slack.success_message(status, download_url="https://x.invalid", expires_at="soon"), slack.failure_message(failed)):
        for text in [message["text"], *(str(item["text"]) for item in every_text_object(message["blocks"]) if item["type"] == "mrkdwn")]:
            assert "<" not in text and ">" not in text, text
        # Slack does not parse plain_text for mentions; mrkdwn texts are verbatim so a bare @channel stays text.
        assert all(item.get("verbatim") is True for item in every_text_object(message["blocks"]) if item["type"] == "mrkdwn")


def test_a_split_result_and_cut_cells_are_announced() -> None:
    status = {
        **STATUS,
        "sheets": [{"name": "Orders", "row_count": 12345, "continued_on": ["Orders (2)"]}],
        "truncated_cells": 3,
        "numbers_as_text": 2,
    }
    message = slack.success_message(status, download_url="https://x.invalid", expires_at="soon")
    assert message["text"] == "Export ready: Orders &lt;by&gt; day (12,345 rows, split over several sheets)"
    facts = message["blocks"][1]["text"]["text"]
    assert "continues on further sheets: Orders (2 sheets)" in facts
    assert "*Truncated:* 3 cells" in facts
    assert "*Numbers as text:* 2 values" in facts


def test_a_one_sheet_result_says_nothing_about_splitting() -> None:
    message = slack.success_message(
        {**STATUS, "sheets": [{"name": "Orders", "row_count": 12345}]}, download_url="https://x.invalid", expires_at="soon"
    )
    assert "Split" not in json.dumps(message) and "split" not in message["text"]
