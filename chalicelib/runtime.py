"""The one place that wires settings, AWS clients and the service objects together.

Everything is built on first use and cached for the life of the Lambda container; importing this
module creates nothing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib import aws
from chalicelib.errors import NotFoundError
from chalicelib.exports.ledger import ExportLedger
from chalicelib.exports.lifecycle import StaleWindows
from chalicelib.exports.service import Dispatcher, ExportJobs, JobPolicy, LambdaDispatcher, ThreadDispatcher
from chalicelib.exports.worker import ExportWorker, SlackNotifier
from chalicelib.files.pipeline import ExportPipeline
from chalicelib.links import CloudFrontLinkSigner, LinkMaker
from chalicelib.records import S3RecordStore
from chalicelib.retry import RetryPolicy
from chalicelib.secrets import SecretStore, SlackAppCredentials
from chalicelib.settings import Settings, get_settings
from chalicelib.storage import ExportStorage
from chalicelib.templating.sources import TemplateSource

if TYPE_CHECKING:
    from chalicelib.exports.slack_commands import SlackApp


def build_storage(settings: Settings) -> ExportStorage:
    return ExportStorage(
        aws.client("s3"),
        settings.bucket,
        templates_prefix=settings.templates_prefix,
        exports_prefix=settings.exports_prefix,
        status_prefix=settings.status_prefix,
        state_prefix=settings.state_prefix,
    )


def build_secrets() -> SecretStore:
    return SecretStore(aws.client("secretsmanager"))


def build_links(settings: Settings, storage: ExportStorage, secrets: SecretStore) -> LinkMaker:
    signer = None
    if settings.cloudfront_domain:
        secret_name = settings.cloudfront_key_secret_name
        signer = CloudFrontLinkSigner(settings.cloudfront_domain, settings.cloudfront_key_pair_id, lambda: secrets.signing_key_pem(secret_name))
    return LinkMaker(storage, expiry_seconds=settings.link_expiry_seconds, cloudfront=signer, presigned_max_seconds=settings.presigned_max_seconds)


def build_ledger(settings: Settings) -> ExportLedger:
    s3 = aws.client("s3")
    windows = StaleWindows(running=dt.timedelta(seconds=settings.stale_seconds), queued=dt.timedelta(seconds=settings.queued_stale_seconds))
    return ExportLedger(
        S3RecordStore(s3, settings.bucket, settings.status_prefix),
        S3RecordStore(s3, settings.bucket, settings.state_prefix),
        windows=windows,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
    )


def build_jobs(settings: Settings, *, templates: TemplateSource | None = None, ledger: ExportLedger | None = None) -> ExportJobs:
    """The service; ``templates`` replaces the S3 templates prefix (the command line's ``--source``),
    ``ledger`` the S3 status and state records (tests hand in the in-memory twin)."""
    storage = build_storage(settings)
    secrets = build_secrets()
    pipeline = ExportPipeline(settings, storage, secrets, templates)
    links = build_links(settings, storage, secrets)
    ledger = ledger or build_ledger(settings)
    policy = JobPolicy(
        cache_ttl_seconds=settings.cache_ttl_seconds,
        retention_days=settings.retention_days,
        heartbeat_seconds=settings.heartbeat_seconds,
        retry=RetryPolicy(settings.worker_attempts, settings.retry_base_ms / 1000, settings.retry_max_ms / 1000),
    )
    notifier = SlackNotifier(secrets, settings.slack_secret_name, policy.retry)
    worker = ExportWorker(pipeline, links, notifier, ledger, policy)
    dispatcher: Dispatcher = ThreadDispatcher(worker.run)
    if settings.dispatch_mode == "lambda":
        dispatcher = LambdaDispatcher(aws.client("lambda"), settings.worker_function_name)
    jobs = ExportJobs(pipeline, links, ledger, policy, dispatcher, worker)
    if settings.slack_app_secret_name:
        # The worker tells a Slack requester (and whoever joined) in their DMs, not the webhook.
        worker.message_hook = build_slack_app(settings, jobs, secrets).deliver
    return jobs


def build_slack_app(settings: Settings, jobs: ExportJobs, secrets: SecretStore) -> SlackApp:
    """The /export app over the same jobs; its modules load only where the Slack app is configured."""
    from chalicelib.exports.slack_commands import SlackApp  # on use: keeps `import app` as light as before
    from chalicelib.slack_web import SlackWebApi

    def credentials() -> SlackAppCredentials:
        return secrets.slack_app_credentials(settings.slack_app_secret_name)

    web = SlackWebApi(lambda: credentials().bot_token, settings.slack_api_url, jobs.policy.retry)
    return SlackApp(jobs, settings.slack_team_id, credentials, web)


@lru_cache(maxsize=1)
def export_jobs() -> ExportJobs:
    return build_jobs(get_settings())


@lru_cache(maxsize=1)
def slack_app() -> SlackApp:
    """The Slack app of this container's service; NotFoundError where none is configured."""
    settings = get_settings()
    if not settings.slack_app_secret_name:
        raise NotFoundError("the Slack app is not configured on this stage (SLACK_APP_SECRET_NAME)", code="slack_app_disabled")
    jobs = export_jobs()
    return build_slack_app(settings, jobs, jobs.pipeline.secrets)
