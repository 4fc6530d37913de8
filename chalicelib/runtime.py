"""The one place that wires settings, AWS clients and the service objects together.

Everything is built on first use and cached for the life of the Lambda container; importing this
module creates nothing.
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws
from chalicelib.export import ExportPipeline
from chalicelib.jobs import Dispatcher, ExportJobs, LambdaDispatcher, SlackNotifier
from chalicelib.links import CloudFrontLinkSigner, LinkMaker
from chalicelib.secrets import SecretStore
from chalicelib.settings import Settings, get_settings
from chalicelib.storage import ExportStorage


def build_storage(settings: Settings) -> ExportStorage:
    return ExportStorage(
        aws.client("s3"),
        settings.bucket,
        templates_prefix=settings.templates_prefix,
        exports_prefix=settings.exports_prefix,
        status_prefix=settings.status_prefix,
    )


def build_links(settings: Settings, storage: ExportStorage, secrets: SecretStore) -> LinkMaker:
    signer = None
    if settings.cloudfront_domain:
        secret_name = settings.cloudfront_key_secret_name
        signer = CloudFrontLinkSigner(settings.cloudfront_domain, settings.cloudfront_key_pair_id, lambda: secrets.signing_key_pem(secret_name))
    return LinkMaker(storage, expiry_seconds=settings.link_expiry_seconds, cloudfront=signer, presigned_max_seconds=settings.presigned_max_seconds)


def build_jobs(settings: Settings) -> ExportJobs:
    storage = build_storage(settings)
    secrets = SecretStore(aws.client("secretsmanager"))
    pipeline = ExportPipeline(settings, storage, secrets)
    links = build_links(settings, storage, secrets)
    dispatcher: Dispatcher | None = None
    if settings.dispatch_mode == "lambda":
        dispatcher = LambdaDispatcher(aws.client("lambda"), settings.worker_function_name)
    return ExportJobs(pipeline, links, SlackNotifier(secrets, settings.slack_secret_name), dispatcher)


@lru_cache(maxsize=1)
def export_jobs() -> ExportJobs:
    return build_jobs(get_settings())
