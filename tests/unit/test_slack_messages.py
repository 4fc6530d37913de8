from __future__ import annotations

import json

from chalicelib.exports import messages

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
    message = messages.success_message(STATUS, download_url="https://files.example.invalid/x?a=1&b=2", expires_at="2026-12-03T00:00:00Z")
    text = json.dumps(message)
    assert message["text"] == "Export ready: Orders &lt;by&gt; day (12,345 rows)"
    assert "*Rows:* 12,345" in text and "3.0 MB" in text and "4.2 s" in text
    assert "The link expires 2026-12-03 00:00 UTC." in text  # no report zone recorded: UTC, named
    button = message["blocks"][2]["accessory"]
    assert button["url"] == "https://files.example.invalid/x?a=1&b=2"


def test_request_values_cannot_mention_or_link() -> None:
    message = messages.success_message(STATUS, download_url="https://x.invalid", expires_at="soon")
    facts = message["blocks"][1]["text"]["text"]
    assert "<!channel>" not in facts
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in facts


def test_failure_message_carries_code_and_summary() -> None:
    failed = {**STATUS, "error": {"code": "db_unavailable", "message": "the database is unavailable"}}
    message = messages.failure_message(failed)
    assert message["text"].startswith("Export failed: Orders &lt;by&gt; day")
    assert "`db_unavailable` the database is unavailable" in message["blocks"][1]["text"]["text"]
    assert "20261130-090000-0123456789" in message["blocks"][2]["elements"][0]["text"]


def test_human_sizes() -> None:
    assert messages.human_size(512) == "512 B"
    assert messages.human_size(2048) == "2.0 KB"
    assert messages.human_size(5 * 1024**3) == "5.0 GB"


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
    for message in (messages.success_message(status, download_url="https://x.invalid", expires_at="soon"), messages.failure_message(failed)):
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
    message = messages.success_message(status, download_url="https://x.invalid", expires_at="soon")
    assert message["text"] == "Export ready: Orders &lt;by&gt; day (12,345 rows, split over several sheets)"
    facts = message["blocks"][1]["text"]["text"]
    assert "continues on further sheets: Orders (2 sheets)" in facts
    assert "*Truncated:* 3 cells" in facts
    assert "*Numbers as text:* 2 values" in facts


def test_a_one_sheet_result_says_nothing_about_splitting() -> None:
    message = messages.success_message(
        {**STATUS, "sheets": [{"name": "Orders", "row_count": 12345}]}, download_url="https://x.invalid", expires_at="soon"
    )
    assert "Split" not in json.dumps(message) and "split" not in message["text"]


def test_the_expiry_is_shown_in_the_report_zone_with_the_zone_named() -> None:
    message = messages.success_message({**STATUS, "timezone": "Asia/Seoul"}, download_url="https://x.invalid", expires_at="2026-12-03T00:00:00Z")
    assert "The link expires 2026-12-03 09:00 KST." in message["blocks"][2]["text"]["text"]


def test_facts_come_first_and_only_the_parameters_are_clipped() -> None:
    # Notes that used to be pushed out by long parameters: truncation and numbers as text.
    status = {**STATUS, "params": {"ids": [str(n) for n in range(2000)]}, "truncated_cells": 3, "numbers_as_text": 2}
    facts = messages.success_message(status, download_url="https://x.invalid", expires_at="soon")["blocks"][1]["text"]["text"]
    assert len(facts) <= 3000  # Slack's limit for a section's text
    assert facts.startswith("*Rows:* 12,345   *Size:* 3.0 MB   *Took:* 4.2 s\n*Truncated:* 3 cells")
    assert "*Numbers as text:* 2 values" in facts
    parameters = facts.split("\n*Parameters:* ")[1]
    assert parameters.startswith("ids: 0, 1, 2, 3") and parameters.endswith("…")


def test_mrkdwn_formatting_in_values_is_neutralised() -> None:
    status = {**STATUS, "params": {"note": "*bold* _italic_ ~strike~ `code` ```block```"}, "file_name": "_a *b*.xlsx"}
    message = messages.success_message(status, download_url="https://x.invalid", expires_at="soon")
    texts = [str(block["text"]["text"]) for block in message["blocks"][1:3]]
    for text in texts:
        # Only our own labels use mrkdwn: "*Rows:*", "*Parameters:*", the file name's "*...*".
        values = text.replace("*Rows:*", "").replace("*Size:*", "").replace("*Took:*", "").replace("*Parameters:*", "")
        values = values.removeprefix("*").replace("*\nThe link", "\nThe link")
        assert not any(mark in values for mark in "*_~`"), values
    assert "＊bold＊ ＿italic＿ ～strike～ ｀code｀ ｀｀｀block｀｀｀" in texts[0]
    # Inside a word Slack formats nothing, so names keep their underscores.
    assert "date_from: 2026-11-01" in messages.success_message(
        {**STATUS, "params": {"date_from": "2026-11-01"}}, download_url="https://x.invalid", expires_at="soon"
    )["blocks"][1]["text"]["text"]


def test_one_formatting_of_values_in_slack_the_title_row_and_the_file_name() -> None:
    import datetime as dt
    from decimal import Decimal

    from chalicelib.files.pipeline import export_file_name

    values = {"priorities": ["high", "urgent"], "day": dt.date(2026, 11, 29), "rate": Decimal("1E-7")}
    facts = messages.success_message({**STATUS, "params": values}, download_url="https://x.invalid", expires_at="soon")["blocks"][1]["text"]["text"]
    assert facts.endswith("*Parameters:* priorities: high, urgent; day: 2026-11-29; rate: 0.0000001")
    name = export_file_name("Orders", values, dt.datetime(2026, 11, 30, 9, 5, tzinfo=dt.UTC))
    assert name == "Orders high, urgent 2026-11-29 0.0000001 20261130-0905 UTC.xlsx"
