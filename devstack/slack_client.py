"""Act as Slack towards the local API: sign and send a slash command or an interaction.

Slack signs ``v0:<timestamp>:<raw body>`` with the app's signing secret (HMAC-SHA256, header
``X-Slack-Signature: v0=<hex>``, https://docs.slack.dev/authentication/verifying-requests-from-slack);
a slash command is a form body (https://docs.slack.dev/interactivity/implementing-slash-commands),
an interaction a form body with one ``payload`` field holding JSON
(https://docs.slack.dev/reference/interaction-payloads). ``python -m devstack slack-command`` uses
this so a person can try ``/export`` without a workspace.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from devstack import stack


@dataclass(frozen=True)
class FakeSlackUser:
    user_id: str = "U0LOCAL01"
    name: str = "local.operator"
    team_id: str = stack.SLACK_TEAM_ID
    channel_id: str = "C0LOCAL01"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def trigger_id() -> str:
    """Shaped like Slack's (``<digits>.<digits>.<hex>``); valid for 3 seconds in real Slack."""
    return f"{int(time.time() * 1000)}.{int(time.time())}.{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:32]}"


def post_signed(
    url: str, body: bytes, *, secret: str = stack.SLACK_SIGNING_SECRET, timestamp: int | None = None, signature: str | None = None
) -> tuple[int, Any, float]:
    """POST a form body as Slack would; the status, the decoded answer, and the seconds it took."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature if signature is not None else sign(secret, stamp, body),
    }
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _decode(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read()), time.monotonic() - started


def command_body(text: str, user: FakeSlackUser, *, trigger: str | None = None) -> bytes:
    fields = {
        "token": "deprecated-verification-token",
        "team_id": user.team_id,
        "team_domain": "local",
        "channel_id": user.channel_id,
        "channel_name": "exports",
        "user_id": user.user_id,
        "user_name": user.name,
        "command": "/export",
        "text": text,
        "api_app_id": "A0LOCAL01",
        "response_url": "https://hooks.slack.com/commands/T0LOCAL01/1/local-fake",
        "trigger_id": trigger or trigger_id(),
    }
    return urllib.parse.urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def send_command(config: stack.StackConfig, text: str, user: FakeSlackUser | None = None, **signing: Any) -> tuple[int, Any, float]:
    return post_signed(f"{config.api_url}/slack/commands", command_body(text, user or FakeSlackUser()), **signing)


def send_interaction(config: stack.StackConfig, payload: dict[str, Any], **signing: Any) -> tuple[int, Any, float]:
    return post_signed(f"{config.api_url}/slack/interactions", interaction_body(payload), **signing)


def button_click(action_id: str, value: str, user: FakeSlackUser, *, dm_channel: str | None = None) -> dict[str, Any]:
    """A block_actions payload for a button of a message in the bot's DM."""
    return {
        "type": "block_actions",
        "team": {"id": user.team_id, "domain": "local"},
        "user": {"id": user.user_id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "api_app_id": "A0LOCAL01",
        "trigger_id": trigger_id(),
        "channel": {"id": dm_channel or "D" + user.user_id[1:], "name": "directmessage"},
        "container": {"type": "message", "is_ephemeral": False},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "export_actions", "value": value, "action_ts": f"{time.time():.6f}"}],
    }


def view_action(view: dict[str, Any], action_id: str, selected: str, user: FakeSlackUser) -> dict[str, Any]:
    """A block_actions payload from a select inside an open modal."""
    return {
        "type": "block_actions",
        "team": {"id": user.team_id, "domain": "local"},
        "user": {"id": user.user_id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "trigger_id": trigger_id(),
        "container": {"type": "view", "view_id": view["id"]},
        "view": view,
        "actions": [{"type": "static_select", "action_id": action_id, "selected_option": {"value": selected}, "action_ts": f"{time.time():.6f}"}],
    }


def view_submission(view: dict[str, Any], values: dict[str, dict[str, Any]], user: FakeSlackUser) -> dict[str, Any]:
    """A view_submission payload: ``values`` is the view's state.values (block id -> action id -> element state)."""
    return {
        "type": "view_submission",
        "team": {"id": user.team_id, "domain": "local"},
        "user": {"id": user.user_id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "trigger_id": trigger_id(),
        "view": {**view, "state": {"values": values}},
    }


def web_api_calls(config: stack.StackConfig, method: str | None = None) -> list[dict[str, Any]]:
    _, calls = stack.http_json("GET", f"{config.slack_url}/api/calls")
    return [call for call in calls if method is None or call["method"] == method]


def script_web_api(config: stack.StackConfig, script: dict[str, list[dict[str, Any]]]) -> None:
    stack.http_json("POST", f"{config.slack_url}/api/script", script)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode("utf-8", "replace")
