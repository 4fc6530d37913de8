"""A stand-in for the four Slack Web API methods the app calls, answering the way Slack documents.

Shapes, from Slack's method reference (docs.slack.dev/reference/methods/<method>) and its rate
limit page (docs.slack.dev/apis/web-api/rate-limits):
- every answer is HTTP 200 JSON with ``ok``; a failure is ``{"ok": false, "error": "<code>"}``;
- a rate limit is HTTP 429 with a ``Retry-After`` header (seconds) and ``error: ratelimited``;
- the token comes as ``Authorization: Bearer xoxb-...``; a wrong one is ``invalid_auth``;
- ``views.open`` / ``views.update`` answer ``{"ok": true, "view": {...}}`` with the view's ``id``,
  ``hash`` and an empty ``state``; a malformed trigger id is ``invalid_trigger_id``; a view past
  the modal's limits (docs.slack.dev/reference/views/modal-views: title, close and submit at most
  24 characters, at most 100 blocks, private_metadata at most 3,000) is ``invalid_arguments``;
- ``chat.postMessage`` answers ``{"ok": true, "channel": "D...", "ts": "...", "message": {...}}``
  (a user id as channel posts into the bot's DM, whose id starts with D); a channel id that is
  not one is ``channel_not_found``; no text and no blocks is ``no_text``; more than 50 blocks is
  ``invalid_blocks`` (the method's ``blocks`` argument);
- ``chat.postEphemeral`` answers ``{"ok": true, "message_ts": "..."}``.

Failures on purpose: ``POST /api/script`` with ``{"chat.postMessage": [{"error": "channel_not_found"},
{"status": 429, "retry_after": 1}]}`` answers the next calls of that method so, once each, in order;
``{"error": "token_revoked"}`` works for any method.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.parse
from typing import Any

METHODS = ("views.open", "views.update", "chat.postMessage", "chat.postEphemeral")
_TRIGGER_ID = re.compile(r"[0-9]+\.[0-9]+\.[0-9a-f]+")  # used with fullmatch, like the service's patterns
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{2,20}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")

Answer = tuple[int, dict[str, Any], dict[str, str]]
_MODAL_TEXT, _MODAL_BLOCKS, _METADATA, _MESSAGE_BLOCKS = 24, 100, 3000, 50


class WebApiStandIn:
    def __init__(self, bot_token: str) -> None:
        self._token = bot_token
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._script: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._script.clear()

    def recorded_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls)

    def answer(self, method: str, headers: dict[str, str], raw: bytes) -> Answer:
        if method == "script":
            with self._lock:
                self._script = {name: list(steps) for name, steps in json.loads(raw or b"{}").items()}
            return 200, {"ok": True}, {}
        arguments = _arguments(headers, raw)
        call: dict[str, Any] = {"method": method, "args": arguments, "at": time.time()}
        with self._lock:
            self._calls.append(call)
            scripted = self._script.get(method, [])
            step = scripted.pop(0) if scripted else None
        answer = self._answer(method, headers, arguments, step)
        call["status"], call["answer"] = answer[0], answer[1]
        return answer

    def _answer(self, method: str, headers: dict[str, str], arguments: dict[str, Any], step: dict[str, Any] | None) -> Answer:
        authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
        if method not in METHODS:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if authorization != f"Bearer {self._token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if step is not None:
            return _scripted(step)
        return _HANDLERS[method](self, arguments)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _view(self, arguments: dict[str, Any], view_id: str | None = None) -> Answer:
        view = arguments.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("title") or _past_modal_limits(view):
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        answered = {**view, "id": view_id or self._id("V"), "hash": f"{time.time():.6f}.{next(self._ids)}", "state": {"values": {}}}
        return 200, {"ok": True, "view": answered}, {}

    def views_open(self, arguments: dict[str, Any]) -> Answer:
        if not _TRIGGER_ID.fullmatch(str(arguments.get("trigger_id") or "")):
            return 200, {"ok": False, "error": "invalid_trigger_id"}, {}
        return self._view(arguments)

    def views_update(self, arguments: dict[str, Any]) -> Answer:
        view_id = str(arguments.get("view_id") or "")
        if not view_id.startswith("V"):
            return 200, {"ok": False, "error": "not_found"}, {}
        return self._view(arguments, view_id)

    def post_message(self, arguments: dict[str, Any]) -> Answer:
        channel = str(arguments.get("channel") or "")
        if _USER_ID.match(channel):
            channel = "D" + channel[1:]  # the bot's DM with that user
        elif not _CONVERSATION_ID.match(channel):
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if not arguments.get("text") and not arguments.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, {}
        if len(arguments.get("blocks") or []) > _MESSAGE_BLOCKS:
            return 200, {"ok": False, "error": "invalid_blocks"}, {}
        ts = f"{time.time():.6f}"
        message = {"type": "message", "text": arguments.get("text", ""), "blocks": arguments.get("blocks", []), "ts": ts}
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}, {}

    def post_ephemeral(self, arguments: dict[str, Any]) -> Answer:
        if not _CONVERSATION_ID.match(str(arguments.get("channel") or "")):
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if not _USER_ID.match(str(arguments.get("user") or "")):
            return 200, {"ok": False, "error": "user_not_in_channel"}, {}
        if not arguments.get("text") and not arguments.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, {}
        return 200, {"ok": True, "message_ts": f"{time.time():.6f}"}, {}


_HANDLERS = {
    "views.open": WebApiStandIn.views_open,
    "views.update": WebApiStandIn.views_update,
    "chat.postMessage": WebApiStandIn.post_message,
    "chat.postEphemeral": WebApiStandIn.post_ephemeral,
}


def _past_modal_limits(view: dict[str, Any]) -> bool:
    texts = [(view.get(name) or {}).get("text", "") for name in ("title", "close", "submit")]
    too_long = any(len(str(text)) > _MODAL_TEXT for text in texts) or len(str(view.get("private_metadata") or "")) > _METADATA
    return too_long or len(view.get("blocks") or []) > _MODAL_BLOCKS


def _scripted(step: dict[str, Any]) -> Answer:
    status = int(step.get("status", 200))
    if status == 429:
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(step.get("retry_after", 1))}
    if status >= 500:
        return status, {"ok": False, "error": "internal_error"}, {}
    return 200, {"ok": False, "error": str(step.get("error", "internal_error"))}, {}


def _arguments(headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    text = raw.decode("utf-8") if raw else ""
    if "json" in content_type:
        parsed = json.loads(text or "{}")
        return parsed if isinstance(parsed, dict) else {}
    return {name: values[0] for name, values in urllib.parse.parse_qs(text).items()}
