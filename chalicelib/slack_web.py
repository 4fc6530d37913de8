"""Slack Web API calls the Slack app makes (views.open, views.update, chat.postMessage, chat.postEphemeral).

The calls go through slack_sdk's ``WebClient``, imported on first use: the API function's cold
start pays for it only when a Slack request arrives (about 0.06 s, docs/slack-app.md). The client's
own retry handlers are turned off so every retry goes through the service's one retry loop
(``chalicelib.retry``), which honours Slack's ``Retry-After``; Slack's ``ok: false`` answers become
``DeliveryError`` with the Slack error code, transient only for rate limits and server errors
(https://docs.slack.dev/apis/web-api/rate-limits, https://docs.slack.dev/reference/methods/chat.postMessage).
The bot token never appears in an error or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import DeliveryError
from chalicelib.retry import RetryPolicy, run_with_retries
from chalicelib.slack import retry_after_seconds

logger = logging.getLogger(__name__)
# slack_sdk logs request bodies at DEBUG; they hold download links, so its logger stays quieter.
_SDK_LOGGER = "chalicelib.slack_web.sdk"
# Slack errors that a retry cannot fix: the user, channel, trigger or token is wrong or gone.
PERMANENT_ERRORS = ("invalid_trigger_id", "expired_trigger_id", "channel_not_found", "token_revoked", "invalid_auth", "not_in_channel")


class SlackWebApi:
    """One bot token, one base URL (Slack's, or the local stand-in's); a call raises DeliveryError."""

    def __init__(self, token_source: Callable[[], str], base_url: str, retry: RetryPolicy, *, timeout: float = 2.5) -> None:
        self._token_source = token_source
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._retry = retry
        self._timeout = timeout
        self._client: Any = None

    def _web_client(self) -> Any:
        if self._client is None:
            from slack_sdk.web import WebClient  # on first use only (cold start)

            sdk_logger = logging.getLogger(_SDK_LOGGER)
            sdk_logger.setLevel(max(logging.WARNING, sdk_logger.level))
            self._client = WebClient(
                token=self._token_source(), base_url=self._base_url, timeout=int(max(1, self._timeout)), retry_handlers=[], logger=sdk_logger
            )
        return self._client

    def call(self, method: str, arguments: Mapping[str, Any], *, retry: bool = False) -> dict[str, Any]:
        """POST one Web API method with a JSON body; with ``retry``, transient failures are retried."""
        policy = self._retry if retry else RetryPolicy(1, 0, 0)
        return run_with_retries(lambda _attempt: self._call_once(method, arguments), policy)

    def _call_once(self, method: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackRequestError

        try:
            response = self._web_client().api_call(method, json=dict(arguments))
        except SlackApiError as exc:
            raise _delivery_error(method, exc.response.status_code, exc.response.data, exc.response.headers) from None
        except (SlackRequestError, OSError) as exc:
            raise DeliveryError(f"Slack {method} could not be reached ({type(exc).__name__})", transient=True) from None
        data = response.data
        return dict(data) if isinstance(data, Mapping) else {}

    # the methods the app uses ------------------------------------------------------------------
    def open_view(self, trigger_id: str, view: Mapping[str, Any]) -> dict[str, Any]:
        # A trigger id lives 3 seconds: never retried, the user asks again.
        return self.call("views.open", {"trigger_id": trigger_id, "view": dict(view)})

    def update_view(self, view_id: str, view: Mapping[str, Any], view_hash: str | None = None) -> dict[str, Any]:
        arguments: dict[str, Any] = {"view_id": view_id, "view": dict(view)}
        if view_hash:
            arguments["hash"] = view_hash  # Slack refuses the update if the view changed meanwhile
        return self.call("views.update", arguments)

    def post_direct_message(self, user_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A message in the bot's DM with the user: chat.postMessage takes a user id as the channel."""
        return self.call("chat.postMessage", {"channel": user_id, **payload}, retry=True)

    def post_ephemeral(self, channel_id: str, user_id: str, text: str) -> dict[str, Any]:
        return self.call("chat.postEphemeral", {"channel": channel_id, "user": user_id, "text": text})


def _delivery_error(method: str, status_code: int, data: Any, headers: Mapping[str, Any]) -> DeliveryError:
    error = str(data.get("error") or "unknown_error") if isinstance(data, Mapping) else f"HTTP {status_code}"
    retry_after = _retry_after(headers)
    transient = status_code == 429 or status_code >= 500 or error in ("ratelimited", "rate_limited", "service_unavailable", "internal_error")
    delivery = DeliveryError(f"Slack {method} answered {error}", transient=transient and error not in PERMANENT_ERRORS, retry_after=retry_after)
    delivery.code = f"slack_{error}" if error.replace("_", "").isalnum() else "slack_failed"
    return delivery


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name) if headers else None
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return retry_after_seconds(str(value))
    return None
