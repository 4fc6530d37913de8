"""Hostile and careless requests, each with the answer a client must get: one table, sent twice
(in-process through chalice.test.Client and over HTTP to chalice local)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

JSON = {"Content-Type": "application/json"}
SLACK_CONTROL = "<!channel> <!here> <@U024BE7LH> <#C024BE7LR> <https://evil.example|click me> &amp; *bold*"


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    data: bytes | None
    status: int
    code: str | None  # None: not refused
    field: str | None = None
    message: str = ""  # a part of the message the client must see
    headers: dict[str, str] = dataclasses.field(default_factory=lambda: dict(JSON))


def _export(params: dict[str, Any], **extra: Any) -> bytes:
    return body({"report": "customers", "params": {"since": "2099-01-01", **params}, **extra})


CASES = [
    Hostile(
        "oversized body", "POST", "/exports", _export({"name_contains": "x" * 70_000}), 413, "body_too_large", "body", "at most 65,536 are accepted"
    ),
    Hostile(
        "deep JSON",
        "POST",
        "/exports",
        b'{"report": "customers", "params": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        400,
        "too_deep",
        "body",
        "nested 10,001",
    ),
    Hostile("six levels of JSON", "POST", "/exports", _export({"cities": [[[["x"]]]]}), 400, "too_deep", "body", "at most 5 are accepted"),
    Hostile(
        "text/plain", "POST", "/exports", _export({}), 415, "unsupported_media_type", "Content-Type", "got text/plain", {"Content-Type": "text/plain"}
    ),
    Hostile(
        "form encoded",
        "POST",
        "/exports",
        b"report=customers",
        415,
        "unsupported_media_type",
        "Content-Type",
        "got application/x-www-form-urlencoded",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Hostile("no content type", "POST", "/exports", _export({}), 415, "unsupported_media_type", "Content-Type", "got none", {}),
    Hostile(
        "latin-1 JSON",
        "POST",
        "/exports",
        '{"report": "customers", "requested_by": "Zoë"}'.encode("latin-1"),
        415,
        "unsupported_media_type",
        "Content-Type",
        "charset=latin-1",
        {"Content-Type": "application/json; charset=latin-1"},
    ),
    Hostile("invalid UTF-8", "POST", "/exports", b'{"report": "\xff\xfe"}', 400, "malformed_json", "body", "not UTF-8"),
    Hostile("truncated JSON", "POST", "/exports", b'{"report": ', 400, "malformed_json", "body", "not valid JSON"),
    Hostile(
        "NaN",
        "POST",
        "/exports",
        b'{"report": "orders_range", "params": {"min_amount": NaN}}',
        400,
        "malformed_json",
        "body",
        "NaN is not a JSON number",
    ),
    Hostile(
        "5,000-digit number",
        "POST",
        "/exports",
        b'{"report": "orders_range", "params": {"min_amount": ' + b"9" * 5000 + b"}}",
        400,
        "malformed_json",
        "body",
        "digits",
    ),
    Hostile("a JSON array", "POST", "/exports", body(["customers"]), 400, "bad_request", "body", "must be a JSON object"),
    Hostile("unknown field", "POST", "/exports", _export({}, priority="high"), 400, "unknown_field", "priority", "unknown field 'priority'"),
    Hostile(
        "unknown parameter", "POST", "/exports", _export({"colour": "red"}), 400, "invalid_parameter", "params.colour", "unknown parameter 'colour'"
    ),
    Hostile(
        "1,000 parameters",
        "POST",
        "/exports",
        _export({f"p{n}": n for n in range(1000)}),
        400,
        "too_many_parameters",
        "params",
        "at most 50 are accepted",
    ),
    Hostile(
        "10,000-element list (declared max 20)",
        "POST",
        "/exports",
        _export({"cities": ["a"] * 10_000}),
        400,
        "invalid_parameter",
        "params.cities",
        "has 10000 items; at most 20 allowed",
    ),
    Hostile(
        "10,000-element list (default cap)",
        "POST",
        "/exports",
        body({"report": "orders_overview", "params": {"statuses": [""] * 10_000}}),
        400,
        "invalid_parameter",
        "params.statuses",
        "at most 1000 allowed",
    ),
    Hostile(
        "over-long string",
        "POST",
        "/exports",
        _export({"name_contains": "x" * 101}),
        400,
        "invalid_parameter",
        "params.name_contains",
        "longer than 100",
    ),
    Hostile(
        "decimal past DECIMAL(65)",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"min_amount": "1e999999"}}),
        400,
        "invalid_parameter",
        "params.min_amount",
        "at most 65 digits",
    ),
    Hostile(
        "number below its min",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"min_amount": -1}}),
        400,
        "invalid_parameter",
        "params.min_amount",
        "at least 0",
    ),
    Hostile(
        "report path traversal", "POST", "/exports", body({"report": "../templates/customers"}), 400, "invalid_report_name", "report", "a-z, 0-9"
    ),
    Hostile("report name with NUL", "POST", "/exports", body({"report": "customers\u0000.sql"}), 400, "invalid_report_name", "report", "a-z, 0-9"),
    Hostile("report name not a string", "POST", "/exports", body({"report": {"$ne": ""}}), 400, "invalid_report_name", "report", "a-z, 0-9"),
    Hostile("encoded traversal in a report path", "GET", "/reports/..%2F..%2Fetc%2Fpasswd", None, 400, "invalid_report_name", "report", "a-z, 0-9"),
    Hostile("encoded traversal in an export id", "GET", "/exports/..%2Fstatus%2Fx", None, 400, "invalid_export_id", "export_id", "YYYYMMDD-HHMMSS"),
    Hostile("unknown export id", "GET", "/exports/20990101-000000-0000000000", None, 404, "not_found", "export_id", "does not exist"),
    Hostile("traversal in a history filter", "GET", "/exports?report=..%2Fstatus", None, 400, "invalid_report_name", "report", "a-z, 0-9"),
    Hostile("history limit out of range", "GET", "/exports?limit=100000", None, 400, "bad_request", "limit", "from 1 to 100"),
    Hostile(
        "control characters in requested_by",
        "POST",
        "/exports",
        _export({}, requested_by="alice\n[ERROR] forged log line"),
        400,
        "bad_request",
        "requested_by",
        "printable",
    ),
    Hostile(
        "idempotency key with spaces",
        "POST",
        "/exports",
        _export({}),
        400,
        "invalid_idempotency_key",
        "Idempotency-Key",
        "visible ASCII",
        {**JSON, "Idempotency-Key": "a b"},
    ),
    Hostile("Slack control sequences in a parameter", "POST", "/exports", _export({"name_contains": SLACK_CONTROL}, refresh=True), 202, None),
    Hostile("a GET with an odd Content-Type", "GET", "/reports/customers", None, 200, None, headers={"Content-Type": "text/xml"}),
    # Strict input (issue 13): full matches, ASCII digits, one meaning per body, our own 405 shape.
    Hostile("the comma shorthand for a list of strings", "POST", "/exports", _export({"cities": "Seoul, Busan"}, refresh=True), 202, None),
    Hostile(
        "a reversed date range",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"date_from": "2026-12-01", "date_to": "2026-11-01"}}),
        400,
        "invalid_parameter",
        "params.date_from",
        "parameter 'date_from' (2026-12-01) must not be after 'date_to' (2026-11-01)",
    ),
    Hostile("report name with a trailing newline", "POST", "/exports", body({"report": "customers\n"}), 400, "invalid_report_name", "report", "a-z"),
    Hostile("report path with a trailing newline", "GET", "/reports/customers%0A", None, 400, "invalid_report_name", "report", "a-z"),
    Hostile("unknown report by path", "GET", "/reports/no_such_report", None, 404, "unknown_report", "report", "does not exist"),
    Hostile(
        "export id with a trailing newline", "GET", "/exports/20990101-000000-0000000000%0A", None, 400, "invalid_export_id", "export_id", "YYYYMMDD"
    ),
    Hostile("Arabic-Indic digits as a history limit", "GET", "/exports?limit=%D9%A1%D9%A0", None, 400, "bad_request", "limit", "from 1 to 100"),
    Hostile(
        "idempotency key with a trailing newline",
        "POST",
        "/exports",
        _export({}, idempotency_key="daily-2026-11-30\n"),
        400,
        "invalid_idempotency_key",
        "idempotency_key",
        "visible ASCII",
    ),
    Hostile(
        "Arabic-Indic digits as a date", "POST", "/exports", _export({"since": "٢٠٢٦-٠١-٠١"}), 400, "invalid_parameter", "params.since", "a date"
    ),
    Hostile(
        "Arabic-Indic digits as a decimal",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"min_amount": "١٢٣"}}),
        400,
        "invalid_parameter",
        "params.min_amount",
        "a decimal",
    ),
    Hostile(
        "full-width digits as a decimal",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"min_amount": "１２"}}),
        400,
        "invalid_parameter",
        "params.min_amount",
        "a decimal",
    ),
    Hostile(
        "underscore in a number",
        "POST",
        "/exports",
        body({"report": "orders_range", "params": {"min_amount": "1_000"}}),
        400,
        "invalid_parameter",
        "params.min_amount",
        "a decimal",
    ),
    Hostile(
        "a duplicate key",
        "POST",
        "/exports",
        b'{"report": "customers", "report": "orders_range", "params": {"since": "2099-01-01"}}',
        400,
        "duplicate_key",
        "body",
        "'report' appears twice",
    ),
    Hostile(
        "a duplicate parameter",
        "POST",
        "/exports",
        b'{"report": "customers", "params": {"since": "2099-01-01", "since": "2000-01-01"}}',
        400,
        "duplicate_key",
        "body",
        "'since' appears twice",
    ),
    Hostile("a byte order mark", "POST", "/exports", b"\xef\xbb\xbf" + _export({}), 400, "malformed_json", "body", "without one"),
    Hostile(
        "an integer of 5,000 digits",
        "POST",
        "/exports",
        b'{"report": "customers", "n": ' + b"9" * 5000 + b"}",
        400,
        "malformed_json",
        "body",
        "at most 4,300",
    ),
    Hostile("DELETE on the exports collection", "DELETE", "/exports", None, 405, "method_not_allowed", "method", "GET, POST"),
    Hostile("PUT on a report", "PUT", "/reports/customers", _export({}), 405, "method_not_allowed", "method", "GET"),
    Hostile("POST on an export", "POST", "/exports/20990101-000000-0000000000", _export({}), 405, "method_not_allowed", "method", "GET"),
    # Slack's URLs are real routes registered before the 405s: a GET (a browser, a probe) gets ours too.
    Hostile("GET on the Slack command URL", "GET", "/slack/commands", None, 405, "method_not_allowed", "method", "allowed: POST"),
    Hostile("PUT on the Slack interaction URL", "PUT", "/slack/interactions", b"payload=x", 405, "method_not_allowed", "method", "allowed: POST"),
]

# No message may carry a Python hint instead of what the client should send.
PYTHON_HINTS = ("sys.set_int_max_str_digits", "utf-8-sig", "Traceback")


def describe(case: Hostile) -> str:
    return case.name


def check_answer(case: Hostile, status: int, answer: Any) -> None:
    assert status == case.status, (status, answer)
    if case.code is None:
        assert "error" not in answer
        return
    assert answer["error"]["code"] == case.code
    assert answer["error"].get("field") == case.field
    assert case.message in answer["error"]["message"]
    assert not any(hint in answer["error"]["message"] for hint in PYTHON_HINTS), answer
