"""Secrets Manager: database credentials and Slack webhook URLs, cached per container, never logged.

Secret values are kept out of reprs, log lines and exception text: errors name the secret, not
its content.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import SecretError
from chalicelib.observability import register_secret

logger = logging.getLogger(__name__)

# Fields of a JSON secret whose values are secret themselves (host, port and user names are not).
_PLACEHOLDER = "FILL-ME"  # what the deployment template writes into a secret the owner fills in
_SENSITIVE_FIELDS = ("password", "url", "token", "secret", "key")


@dataclass(frozen=True)
class DatabaseCredentials:
    host: str
    port: int
    user: str
    database: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SlackAppCredentials:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)


class SecretStore:
    def __init__(self, secretsmanager_client: Any) -> None:
        self._client = secretsmanager_client
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def _value(self, name: str) -> str:
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        logger.debug("reading a secret", extra={"secret_name": name})
        try:
            response = self._client.get_secret_value(SecretId=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SecretError(f"secret {name!r} could not be read ({code})") from None
        except BotoCoreError as exc:
            raise SecretError(f"secret {name!r} could not be read ({type(exc).__name__})") from None
        value = response.get("SecretString")
        if not value:
            raise SecretError(f"secret {name!r} has no string value")
        _register(str(value))
        with self._lock:
            self._cache[name] = value
        return str(value)

    def _json(self, name: str) -> dict[str, Any]:
        try:
            parsed = json.loads(self._value(name))
        except json.JSONDecodeError:
            raise SecretError(f"secret {name!r} is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise SecretError(f"secret {name!r} is not a JSON object")
        return parsed

    def database_credentials(self, name: str) -> DatabaseCredentials:
        """RDS-style secret: {"host", "port", "username", "password", "dbname"}."""
        secret = self._json(name)
        try:
            return DatabaseCredentials(
                host=str(secret["host"]),
                port=int(secret.get("port", 3306)),
                user=str(secret.get("username") or secret["user"]),
                password=str(secret["password"]),
                database=str(secret.get("dbname") or secret["database"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            missing = exc.args[0] if isinstance(exc, KeyError) else "port"
            raise SecretError(f"secret {name!r} lacks a valid {missing!r} field") from None

    def webhook_url(self, name: str) -> str:
        """A Slack webhook secret: a JSON object with "url", or the URL itself."""
        raw = self._value(name).strip()
        url = raw
        if raw.startswith("{"):
            url = str(self._json(name).get("url", ""))
        if not url.startswith(("https://", "http://")):
            raise SecretError(f"secret {name!r} does not hold a webhook URL")
        return url

    def slack_app_credentials(self, name: str) -> SlackAppCredentials:
        """The Slack app's secret: {"bot_token": "xoxb-...", "signing_secret": "..."} (docs/slack-app.md)."""
        secret = self._json(name)
        token, signing_secret = str(secret.get("bot_token") or ""), str(secret.get("signing_secret") or "")
        if not token.startswith("xoxb-") or signing_secret in ("", _PLACEHOLDER):
            message = f"secret {name!r} lacks a bot_token (xoxb-...) or a signing_secret (still the placeholder?)"
            raise SecretError(message, code="slack_app_secret_invalid")
        return SlackAppCredentials(bot_token=token, signing_secret=signing_secret)

    def signing_key_pem(self, name: str) -> str:
        """The CloudFront signing key: a PEM private key stored as the secret's plain string."""
        value = self._value(name)
        if "PRIVATE KEY-----" not in value:
            raise SecretError(f"secret {name!r} does not hold a PEM private key (still the placeholder?)", code="signing_key_invalid")
        return value


def _register(value: str) -> None:
    """Tell the log formatter about a secret, and about each sensitive field of a JSON one."""
    register_secret(value)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        register_secret(value.strip())
        return
    if isinstance(parsed, dict):
        for field_name, field_value in parsed.items():
            if isinstance(field_value, str) and any(marker in str(field_name).lower() for marker in _SENSITIVE_FIELDS):
                register_secret(field_value)
