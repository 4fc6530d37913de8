"""Helpers for tests that read exports back the way a user would."""

from __future__ import annotations

import datetime as dt
import io
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from chalice.test import Client

from devstack import stack
from tools.stage_config import local_stage_environment

ROOT = Path(__file__).resolve().parent.parent


def expected_cell(value: Any) -> Any:
    """What openpyxl reads back for a database value written by the service."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return value


def read_workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_rows(data: bytes) -> list[tuple[Any, ...]]:
    workbook = read_workbook(data)
    return [tuple(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def wait_for_export(api_url: str, export_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: Any = None
    while time.monotonic() < deadline:
        code, status = stack.http_json("GET", f"{api_url}/exports/{export_id}")
        assert code == 200, status
        if status["status"] in ("succeeded", "failed") and status.get("notified") is not None:
            return dict(status)
        time.sleep(0.2)
    raise AssertionError(f"export {export_id} did not finish: {status}")


def wait_until_running(api_url: str, export_id: str, timeout: float = 20.0) -> None:
    """Until the export's worker has started (its status says ``running``)."""
    deadline = time.monotonic() + timeout
    while stack.http_json("GET", f"{api_url}/exports/{export_id}")[1]["status"] != "running":
        assert time.monotonic() < deadline, f"export {export_id} did not start within {timeout:.0f} s"
        time.sleep(0.1)


class HeldDispatcher:
    """A dispatcher that starts nothing (the Dispatcher protocol of chalicelib/exports/service.py),
    so the test decides when, and how often, the worker runs."""

    def __init__(self) -> None:
        self.dispatched: list[str] = []

    def dispatch(self, export_id: str) -> None:
        self.dispatched.append(export_id)


def database_rows(config: stack.StackConfig, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with stack.admin_connection(config) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return [tuple(row) for row in cursor.fetchall()]


def run_cli(args: list[str], env: dict[str, str] | None = None) -> Any:
    """Run the real command line in-process (click's runner); the result has exit_code, stdout, stderr."""
    from click.testing import CliRunner

    from tools.cli import main

    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def column_width(sheet: Any, letter: str) -> float | None:
    """A column's width as openpyxl reads it (it merges neighbouring columns of equal width into one range)."""
    from openpyxl.utils import column_index_from_string

    index = column_index_from_string(letter)
    for dimension in sheet.column_dimensions.values():
        if dimension.min is not None and dimension.min <= index <= dimension.max:
            return float(dimension.width)
    return None


def column_hidden(sheet: Any, letter: str) -> bool:
    from openpyxl.utils import column_index_from_string

    index = column_index_from_string(letter)
    return any(dimension.min <= index <= dimension.max and dimension.hidden for dimension in sheet.column_dimensions.values() if dimension.min)


def slack_messages_for(config: stack.StackConfig, export_id: str) -> list[Any]:
    """What the Slack receiver recorded about one export."""
    _, messages = stack.http_json("GET", f"{config.slack_url}/messages")
    return [message for message in messages if export_id in str(message)]


def export_objects(config: stack.StackConfig, export_id: str) -> list[str]:
    """The S3 keys of one export's stored files."""
    listing = stack.aws_client(config, "s3").list_objects_v2(Bucket=stack.BUCKET, Prefix="exports/")
    return [item["Key"] for item in listing.get("Contents", []) if export_id in item["Key"]]


def local_stage_variables() -> dict[str, str]:
    """The environment variables Chalice gives the ``local`` stage's API function (.chalice/config.json)."""
    return local_stage_environment()


@contextmanager
def local_chalice_client(patch: pytest.MonkeyPatch, tmp_dir: Path) -> Iterator[Client]:
    """The app in-process (chalice.test.Client) on the local stage, its settings read afresh."""
    import app as export_app
    from chalicelib import runtime, settings

    patch.setenv("EXPORT_TMP_DIR", str(tmp_dir))
    for name, value in local_stage_variables().items():
        patch.setenv(name, value)
    settings.get_settings.cache_clear()
    runtime.export_jobs.cache_clear()
    try:
        with Client(export_app.app, stage_name="local", project_dir=str(ROOT)) as test_client:
            yield test_client
    finally:
        settings.get_settings.cache_clear()
        runtime.export_jobs.cache_clear()
