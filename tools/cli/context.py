"""What every command shares: settings for a stage, the service objects, template sources, ``-p``
parameters, and turning the service's errors into exit statuses (0 ok, 1 failed, 2 usage).

Settings come from the same environment variables as the app. ``--stage NAME`` first reads that
stage's variables from ``.chalice/config.json`` (over the process environment, as ``chalice local``
does); for the ``local`` stage it also points AWS clients at the local stack's endpoint unless
``AWS_ENDPOINT_URL`` is already set.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from chalicelib import aws, runtime
from chalicelib.errors import BadRequestError, ExportServiceError, ParameterError
from chalicelib.exports.service import ExportJobs
from chalicelib.secrets import SecretStore
from chalicelib.settings import Settings, SettingsError
from chalicelib.storage import ExportStorage
from chalicelib.templating.parameters import ParameterSpec, parse_param_pairs
from chalicelib.templating.sources import FolderTemplateSource, S3TemplateSource, TemplateSource
from chalicelib.templating.template import ReportTemplate
from tools import stage_config

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_REPORTS = PROJECT_DIR / "reports"
# The local stack's defaults (devstack): moto_server on S3_PORT, any credentials, one region.
_LOCAL_AWS = {"AWS_ACCESS_KEY_ID": "local-fake-key", "AWS_SECRET_ACCESS_KEY": "local-fake-secret", "AWS_DEFAULT_REGION": "ap-northeast-2"}

P = ParamSpec("P")
R = TypeVar("R")


class Failure(click.ClickException):
    """The command ran and failed (exit status 1); usage mistakes are click.UsageError (status 2)."""

    exit_code = 1


def stage_environment(config_path: Path, stage: str) -> dict[str, str]:
    """The API function's environment variables in a stage, as Chalice merges .chalice/config.json."""
    try:
        config = stage_config.read_chalice_config(config_path)
    except (OSError, json.JSONDecodeError) as exc:
        raise Failure(f"cannot read {config_path.name}: {exc}") from None
    stages = config.get("stages", {})
    if stage not in stages:
        raise click.BadParameter(f"no stage {stage!r} in .chalice/config.json (stages: {', '.join(stages)})", param_hint="--stage")
    return stage_config.stage_environment(config, stage)


class CliContext:
    def __init__(self, stage: str | None, project_dir: Path = PROJECT_DIR) -> None:
        self.stage = stage
        self.project_dir = project_dir

    @cached_property
    def environment(self) -> dict[str, str]:
        """The process environment, under the stage's variables from .chalice/config.json if --stage is given."""
        env = dict(os.environ)
        if self.stage:
            env.update(stage_environment(self.project_dir / ".chalice" / "config.json", self.stage))
            if self.stage == "local" and "AWS_ENDPOINT_URL" not in os.environ:
                # boto3 reads these from the process environment, so they are set there.
                os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{os.environ.get('S3_PORT', '5000')}"
                for name, value in _LOCAL_AWS.items():
                    os.environ.setdefault(name, value)
        return env

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings.from_environment(self.environment)
        except SettingsError as exc:
            raise Failure(f"{exc} (set the environment variables, or pass --stage local|dev|prod to read .chalice/config.json)") from None

    def today(self, template: ReportTemplate) -> dt.date:
        """Today in the report's time zone; rendering a local template needs no other setting."""
        zone = template.timezone or self.environment.get("REPORT_TIMEZONE") or "Asia/Seoul"
        try:
            return dt.datetime.now(ZoneInfo(zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            raise Failure(f"REPORT_TIMEZONE: unknown time zone {zone!r}") from None

    @cached_property
    def secrets(self) -> SecretStore:
        _ = self.settings  # first: with --stage local this also points the clients at the local endpoint
        return runtime.build_secrets()

    @cached_property
    def storage(self) -> ExportStorage:
        return runtime.build_storage(self.settings)

    def jobs(self, templates: TemplateSource) -> ExportJobs:
        return runtime.build_jobs(self.settings, templates=templates)

    def source(self, value: str | None) -> TemplateSource:
        """``--source``: a folder, ``s3`` (the stage's templates prefix) or ``s3://bucket/prefix/``."""
        if value is None:
            return FolderTemplateSource(DEFAULT_REPORTS, shown_as=shown_path(DEFAULT_REPORTS))
        if value == "s3":
            return S3TemplateSource(self.storage)
        if value.startswith("s3://"):
            bucket, _, prefix = value.removeprefix("s3://").partition("/")
            prefix = prefix.strip("/")
            # Only the templates prefix is read, so no stage settings are needed for an explicit address.
            storage = ExportStorage(aws.client("s3"), bucket, templates_prefix=f"{prefix}/" if prefix else "", exports_prefix="", status_prefix="")
            return S3TemplateSource(storage)
        folder = Path(value)
        if not folder.is_dir():
            raise click.BadParameter(f"{value!r} is neither a folder nor s3 / s3://bucket/prefix", param_hint="--source")
        return FolderTemplateSource(folder, shown_as=value.rstrip("/") or value)


def shown_path(path: Path) -> str:
    """A path as a person wants it in a message: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def fails_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """The service's errors become a one-line message and exit status 1 (2 for a bad parameter)."""

    @functools.wraps(command)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BadRequestError as exc:
            raise click.UsageError(exc.message) from None
        except ExportServiceError as exc:
            raise Failure(exc.message) from None

    return wrapped


def parse_param_options(pairs: tuple[str, ...], specs: Mapping[str, ParameterSpec]) -> dict[str, Any]:
    """``-p name=value`` pairs; a list parameter takes repeated pairs or comma-separated values."""
    try:
        return parse_param_pairs(pairs, specs)
    except ParameterError as exc:
        raise click.BadParameter(exc.message, param_hint="-p/--param") from None


def source_option(command: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--source",
        metavar="FOLDER|s3|s3://BUCKET/PREFIX",
        help="Where templates are read from: a folder (default: the repository's reports/), "
        "'s3' for the stage's templates prefix, or an s3:// address.",
    )(command)


def params_option(command: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A report parameter (repeat for several; lists: a,b,c)."
    )(command)
