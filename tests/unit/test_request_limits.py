"""Request bodies: JSON only, bounded in size and depth, refused with a field-naming 4xx otherwise."""

from __future__ import annotations

import json

import pytest

from chalicelib.errors import ExportServiceError
from chalicelib.exports.requests import MAX_BODY_BYTES, MAX_DEPTH, nesting_depth, parse_json_body


def refusal(raw: bytes | str | None, content_type: str | None = "application/json") -> tuple[int, str, str | None]:
    with pytest.raises(ExportServiceError) as caught:
        parse_json_body(raw, content_type)
    return caught.value.status_code, caught.value.code, caught.value.field


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"])
def test_json_bodies_are_read(content_type: str) -> None:
    assert parse_json_body(b'{"report": "customers"}', content_type) == {"report": "customers"}


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_anything_but_json_is_415(content_type: str | None) -> None:
    assert refusal(b'{"report": "customers"}', content_type) == (415, "unsupported_media_type", "Content-Type")


def test_a_json_body_in_another_charset_is_415() -> None:
    assert refusal('{"report": "é"}'.encode("latin-1"), "application/json; charset=latin-1") == (415, "unsupported_media_type", "Content-Type")


def test_the_size_cap_is_checked_before_parsing() -> None:
    body = json.dumps({"report": "x", "params": {"a": "x" * MAX_BODY_BYTES}})
    assert refusal(body) == (413, "body_too_large", "body")
    just_fits = json.dumps({"report": "x", "params": {"a": "x" * (MAX_BODY_BYTES - 100)}})
    assert parse_json_body(just_fits, "application/json")["report"] == "x"


def test_depth_is_measured_without_recursion() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[\\"{{"}]}') == 3
    assert nesting_depth("[" * 100_000) == 100_000
    assert refusal("[" * 20_000 + "]" * 20_000) == (400, "too_deep", "body")
    assert refusal(json.dumps({"params": {"a": [[[[1]]]]}})) == (400, "too_deep", "body")
    assert parse_json_body(json.dumps({"params": {"a": [[1]]}}), "application/json") is not None
    assert MAX_DEPTH == 5


@pytest.mark.parametrize(
    "raw",
    [b'{"report": ', b"\xff\xfe{}", b'{"params": {"n": NaN}}', b'{"params": {"n": -Infinity}}', ('{"n": ' + "9" * 5000 + "}").encode()],
)
def test_malformed_or_non_standard_json_is_400(raw: bytes) -> None:
    assert refusal(raw) == (400, "malformed_json", "body")


def test_the_error_message_does_not_repeat_the_body() -> None:
    with pytest.raises(ExportServiceError) as caught:
        parse_json_body(b'{"report": "<!channel> secret-ish text', "application/json")
    assert "<!channel>" not in caught.value.message and "line 1 column" in caught.value.message


def test_an_empty_body_is_none() -> None:
    assert parse_json_body(b"", "application/json") is None
    assert parse_json_body(None, "application/json") is None
