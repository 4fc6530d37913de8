"""Service settings: read once from the stage's environment variables (.chalice/config.json)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """An environment variable is missing or malformed; raised when settings are first used."""


@dataclass(frozen=True)
class Settings:
    app_name: str
    stage: str
    bucket: str
    templates_prefix: str
    exports_prefix: str
    status_prefix: str
    db_secret_name: str
    slack_secret_name: str
    timezone: str
    dispatch_mode: str  # "lambda" in AWS, "thread" where no Lambda runs
    link_expiry_seconds: int
    cloudfront_domain: str  # set (by the stack) => links are CloudFront signed URLs
    cloudfront_key_pair_id: str
    cloudfront_key_secret_name: str
    presigned_max_seconds: int
    statement_timeout_seconds: int
    fetch_batch_rows: int
    tmp_dir: str
    # The defaults live in from_environment, once.
    state_prefix: str
    cache_ttl_seconds: int
    stale_seconds: int  # a running export whose heartbeat is older is its dead worker's
    heartbeat_seconds: int
    queued_stale_seconds: int  # a queued export no worker started within this is lost
    idempotency_ttl_seconds: int
    worker_attempts: int
    retry_base_ms: int
    retry_max_ms: int
    retention_days: int
    rows_log_seconds: int  # how often a running export logs rows so far and rows/s
    tmp_budget_mb: int  # 0: as much of /tmp as is free (Lambda's ephemeral storage)
    # The Slack app (/export): a secret with the bot token and signing secret; "" turns the app off.
    slack_app_secret_name: str = ""
    slack_team_id: str = ""  # the one workspace whose requests are served
    slack_api_url: str = "https://slack.com/api/"  # the Web API's base URL (the local stand-in's in devstack)

    @property
    def worker_function_name(self) -> str:
        # Chalice names a @app.lambda_function "<app>-<stage>-<function>".
        return f"{self.app_name}-{self.stage}-export_worker"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        reader = _EnvironmentReader(env)
        settings = cls(
            app_name=reader.text("APP_NAME", "excel-export"),
            stage=reader.text("STAGE", "local"),
            bucket=reader.text("EXPORT_BUCKET"),
            templates_prefix=reader.prefix("TEMPLATES_PREFIX", "templates/"),
            exports_prefix=reader.prefix("EXPORTS_PREFIX", "exports/"),
            status_prefix=reader.prefix("STATUS_PREFIX", "status/"),
            db_secret_name=reader.text("DB_SECRET_NAME"),
            slack_secret_name=reader.text("SLACK_SECRET_NAME"),
            timezone=reader.text("REPORT_TIMEZONE", "Asia/Seoul"),
            dispatch_mode=reader.choice("DISPATCH_MODE", "lambda", ("lambda", "thread")),
            link_expiry_seconds=reader.integer("LINK_EXPIRY_SECONDS", 3 * 24 * 3600, 60, 7 * 24 * 3600),
            cloudfront_domain=reader.text("CLOUDFRONT_DOMAIN", ""),
            cloudfront_key_pair_id=reader.text("CLOUDFRONT_KEY_PAIR_ID", ""),
            cloudfront_key_secret_name=reader.text("CLOUDFRONT_KEY_SECRET_NAME", ""),
            # Presigned URLs die with the signing session: Lambda's role credentials are temporary
            # (a session token is present), so a longer promise would be a lie.
            presigned_max_seconds=reader.integer("PRESIGNED_MAX_SECONDS", 3600 if env.get("AWS_SESSION_TOKEN") else 7 * 24 * 3600, 60, 7 * 24 * 3600),
            statement_timeout_seconds=reader.integer("STATEMENT_TIMEOUT_SECONDS", 600, 1, 3600),
            fetch_batch_rows=reader.integer("FETCH_BATCH_ROWS", 2000, 1, 100_000),
            tmp_dir=reader.text("EXPORT_TMP_DIR", "/tmp"),
            state_prefix=reader.prefix("STATE_PREFIX", "state/"),
            cache_ttl_seconds=reader.integer("CACHE_TTL_SECONDS", 3600, 0, 30 * 24 * 3600),
            # The heartbeat proves liveness, so silence of a few missed beats means death: 20 s
            # beats, 2 minutes of silence (six missed beats: a slow S3 write never looks like death).
            stale_seconds=reader.integer("STALE_SECONDS", 120, 3, 3600),
            heartbeat_seconds=reader.integer("HEARTBEAT_SECONDS", 20, 1, 1200),
            # Lambda starts an asynchronous invoke within seconds unless throttled; a quarter of an
            # hour of nothing means the event is lost (its failure record, if any, says so sooner).
            queued_stale_seconds=reader.integer("QUEUED_STALE_SECONDS", 900, 3, 6 * 3600),
            idempotency_ttl_seconds=reader.integer("IDEMPOTENCY_TTL_SECONDS", 24 * 3600, 60, 7 * 24 * 3600),
            worker_attempts=reader.integer("WORKER_ATTEMPTS", 3, 1, 10),
            retry_base_ms=reader.integer("RETRY_BASE_MS", 1000, 0, 60_000),
            retry_max_ms=reader.integer("RETRY_MAX_MS", 20_000, 0, 300_000),
            retention_days=reader.integer("EXPORT_RETENTION_DAYS", 30, 1, 3650),
            rows_log_seconds=reader.integer("ROWS_LOG_SECONDS", 10, 1, 3600),
            tmp_budget_mb=reader.integer("TMP_BUDGET_MB", 0, 0, 10_240),
            slack_app_secret_name=reader.text("SLACK_APP_SECRET_NAME", ""),
            slack_team_id=reader.text("SLACK_TEAM_ID", ""),
            slack_api_url=reader.text("SLACK_API_URL", "https://slack.com/api/"),
        )
        if settings.cloudfront_domain and not (settings.cloudfront_key_pair_id and settings.cloudfront_key_secret_name):
            # The distribution only serves signed URLs (trusted key group): an unsigned link would be a 403.
            raise SettingsError("CLOUDFRONT_DOMAIN needs CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_KEY_SECRET_NAME")
        if settings.heartbeat_seconds * 3 > settings.stale_seconds:
            # Fewer than three beats per window would make one slow write look like a dead worker.
            raise SettingsError(
                f"HEARTBEAT_SECONDS ({settings.heartbeat_seconds}) must be at most a third of STALE_SECONDS ({settings.stale_seconds})"
            )
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"REPORT_TIMEZONE: unknown time zone {settings.timezone!r}") from exc
        return settings


class _EnvironmentReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.get(name, default)
        if value is None or (default is None and not value.strip()):
            raise SettingsError(f"{name}: environment variable is required")
        return value.strip()

    def prefix(self, name: str, default: str) -> str:
        value = self.text(name, default).strip("/")
        return f"{value}/" if value else ""

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: must be an integer, got {raw!r}") from exc
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name}: must be between {minimum} and {maximum}, got {value}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, parsed on first use (never at import time)."""
    return Settings.from_environment(os.environ)
