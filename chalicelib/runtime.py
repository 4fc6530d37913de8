"""The one place that wires settings, AWS clients and the service objects together.

Everything is built on first use and cached for the life of the Lambda container; importing this
module creates nothing.
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws
from chalicelib.export import ExportPipeline
from chalicelib.jobs import Dispatcher, ExportJobs, LambdaDispatcher, SlackNotifier
from chalicelib.links import LinkMaker
from chalicelib.secrets import SecretStore
from chalicelib.settings import Settings, get_settings
from chalicelib.sources import TemplateSource
from chalicelib.storage import ExportStorage


def build_storage(settings: Settings) -> ExportStorage:
    return ExportStorage(
        aws.client("s3"),
        settings.bucket,
        templates_prefix=settings.templates_prefix,
        exports_prefix=settings.exports_prefix,
        status_prefix=settings.status_prefix,
    )


def build_secrets() -> SecretStore:
    return SecretStore(aws.client("secretsmanager"))


def build_jobs(settings: Settings, *, templates: TemplateSource | None = None) -> ExportJobs:
    """The service; ``templates`` replaces the S3 templates prefix (the command line's ``--source``)."""
    storage = build_storage(settings)
    secrets = build_secrets()
    pipeline = ExportPipeline(settings, storage, secrets, templates)
    links = LinkMaker(storage, expiry_seconds=settings.link_expiry_seconds, cloudfront_domain=settings.cloudfront_domain)
    dispatcher: Dispatcher | None = None
    if settings.dispatch_mode == "lambda":
        dispatcher = LambdaDispatcher(aws.client("lambda"), settings.worker_function_name)
    return ExportJobs(pipeline, links, SlackNotifier(secrets, settings.slack_secret_name), dispatcher)


@lru_cache(maxsize=1)
def export_jobs() -> ExportJobs:
    return build_jobs(get_settings())
