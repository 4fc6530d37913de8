"""Limits on what a request may send, checked before any of it is used (pure, no I/O).

The API is reachable by anyone holding an API key, and a careless script is as likely as a hostile
one: every request body is JSON (415 otherwise), at most ``MAX_BODY_BYTES`` (413), nested at most
``MAX_DEPTH`` levels, and free of the non-standard constants (``NaN``, ``Infinity``) Python's
parser would otherwise accept. Per-parameter limits (string length, list size, number ranges) are in
chalicelib/templating/parameters.py, next to the declarations they refine. Every refusal names the field it is about.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

MAX_BODY_BYTES = 64 * 1024
# A request body is an object holding ``params``, which holds values or lists of values: three
# levels suffice; a little room is left so the answer names the field rather than the depth.
MAX_DEPTH = 5
_JSON_MEDIA_TYPES = ("application/json",)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_UTF8_BOM = b"\xef\xbb\xbf"
# Python's default limit on int() of a string (sys.get_int_max_str_digits()); far above BIGINT anyway.
_MAX_INTEGER_DIGITS = 4300


def require_json_content_type(content_type: str | None) -> None:
    """415 unless the Content-Type is JSON (``application/json``, with or without a charset)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    charset = _charset(content_type or "")
    if media_type not in _JSON_MEDIA_TYPES:
        shown = media_type or "none"
        raise UnsupportedMediaTypeError(f"send the body as JSON with Content-Type: application/json (got {shown})", field="Content-Type")
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaTypeError(f"JSON bodies are UTF-8 (got charset={charset})", field="Content-Type")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def parse_json_body(raw: bytes | str | None, content_type: str | None) -> Any:
    """The request body as JSON, or a 4xx error naming what is wrong with it; None when empty."""
    require_json_content_type(content_type)
    data = raw.encode("utf-8") if isinstance(raw, str) else (raw or b"")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the request body is {len(data):,} bytes; at most {MAX_BODY_BYTES:,} are accepted", field="body")
    if not data.strip():
        return None
    if data.startswith(_UTF8_BOM):
        # Python's own message here suggests a codec ("decode using utf-8-sig"): say what to send instead.
        raise BadRequestError("the request body starts with a byte order mark: send UTF-8 JSON without one", field="body", code="malformed_json")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError("the request body is not UTF-8", field="body", code="malformed_json") from None
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise BadRequestError(f"the JSON is nested {depth:,} levels deep; at most {MAX_DEPTH} are accepted", field="body", code="too_deep")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_ascii_int, object_pairs_hook=_unique_keys)
    except DuplicateKeyError as exc:
        raise BadRequestError(
            f"the key {exc.key!r} appears twice in one JSON object: send each key once", field="body", code="duplicate_key"
        ) from None
    except json.JSONDecodeError as exc:
        # The position says where; the document itself is not repeated back.
        message = f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise BadRequestError(message, field="body", code="malformed_json") from None
    except ValueError as exc:  # NaN/Infinity and over-long integers (below); the text is ours, not Python's
        raise BadRequestError(f"the request body is not valid JSON: {exc}", field="body", code="malformed_json") from None


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse an object naming a key twice: Python keeps the last, other readers the first, so the
    request could mean different things to the gateway, a log reader and us."""
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise DuplicateKeyError(key)
        body[key] = value
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _ascii_int(text: str) -> int:
    # Python's own error for a long integer advises sys.set_int_max_str_digits(); a client needs the limit.
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS:
        raise ValueError(f"a number has {len(text.lstrip('-')):,} digits; at most {_MAX_INTEGER_DIGITS:,} are accepted")
    return int(text)


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings, found without parsing (so without recursion:
    Python's parser raises RecursionError, not a JSON error, past about a thousand levels)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
