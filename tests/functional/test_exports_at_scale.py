"""Large-result behaviour through the real jobs: sheet splitting, the Lambda guards, the upload.

The worker is started by hand (a dispatcher that only records) so a test can shrink the sheet
limit or the /tmp budget first, or invoke the Lambda handler with Chalice's short test context.
Everything else is real: MariaDB, S3 and Secrets Manager in moto_server, the Slack receiver.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from chalice.test import Client

import app as export_app
from chalicelib import runtime, settings
from chalicelib.exports.service import ExportJobs
from chalicelib.settings import Settings
from chalicelib.storage import ExportStorage
from devstack import stack
from tests.helpers import download, local_stage_variables, read_workbook

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


class HeldDispatcher:
    """Records the export instead of starting the worker, so the test decides how it runs."""

    def __init__(self) -> None:
        self.export_ids: list[str] = []

    def dispatch(self, export_id: str) -> None:
        self.export_ids.append(export_id)


def local_stage_environment(**overrides: str) -> dict[str, str]:
    return {**os.environ, **local_stage_variables(), **overrides}


@pytest.fixture
def held_jobs(aws_environment: stack.StackConfig, tmp_path: Path) -> Iterator[ExportJobs]:
    jobs = runtime.build_jobs(Settings.from_environment(local_stage_environment(EXPORT_TMP_DIR=str(tmp_path))))
    jobs.dispatcher = HeldDispatcher()
    stack.http_json("DELETE", f"{aws_environment.slack_url}/messages")
    yield jobs


def slack_messages(config: stack.StackConfig, export_id: str) -> list[dict[str, Any]]:
    _, messages = stack.http_json("GET", f"{config.slack_url}/messages")
    return [message for message in messages if export_id in json.dumps(message)]


def whole_range() -> dict[str, Any]:
    return {"report": "orders_range", "params": {"date_from": "today-90d", "date_to": "tomorrow"}, "refresh": True}


def test_a_result_longer_than_a_sheet_continues_on_numbered_sheets_and_slack_says_so(
    held_jobs: ExportJobs, aws_environment: stack.StackConfig
) -> None:
    held_jobs.pipeline.rows_per_sheet = 1000  # the real limit is 1,048,575; the logic is the same
    status = held_jobs.run(held_jobs.submit(whole_range()).body["export_id"]).to_json()
    assert status["status"] == "succeeded", status
    view = held_jobs.public_status(status["export_id"])
    assert view["row_count"] == 3000
    assert view["writer"] == "xlsxwriter"  # the fast writer's sheet list is fixed: past the limit the reference writes the file
    continued = ["Orders in a period (2)", "Orders in a period (3)"]
    assert view["sheets"] == [{"name": "Orders in a period", "row_count": 3000, "continued_on": continued}]
    workbook = read_workbook(download(view["download_url"]))
    assert workbook.sheetnames == ["Orders in a period", *continued]
    headers = [[cell.value for cell in sheet[1]] for sheet in workbook.worksheets]
    assert headers[0][0] == "Order" and headers[0] == headers[1] == headers[2]
    order_ids = [row[0] for sheet in workbook.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert order_ids == sorted(order_ids) and len(set(order_ids)) == 3000  # nothing dropped, nothing repeated
    (message,) = slack_messages(aws_environment, status["export_id"])
    assert message["text"] == "Export ready: Orders in a period (3,000 rows, split over several sheets)"
    assert "continues on further sheets: Orders in a period (3 sheets)" in message["blocks"][1]["text"]["text"]


def test_a_result_too_large_for_tmp_fails_cleanly_and_slack_hears_why(
    aws_environment: stack.StackConfig, tmp_path: Path, held_jobs: ExportJobs
) -> None:
    small = runtime.build_jobs(Settings.from_environment(local_stage_environment(EXPORT_TMP_DIR=str(tmp_path), TMP_BUDGET_MB="1")))
    small.dispatcher = HeldDispatcher()
    status = small.run(small.submit(whole_range()).body["export_id"]).to_json()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "tmp_space_exhausted"
    assert status["error"]["message"].startswith("result too large for 1 MB /tmp: raise ephemeral storage or use csv.gz")
    assert list(tmp_path.iterdir()) == []  # the partial file is gone
    (message,) = slack_messages(aws_environment, status["export_id"])
    assert message["text"].startswith("Export failed: Orders in a period: result too large for 1 MB /tmp")
    # The advice works: the same export as csv.gz fits the same budget.
    status = small.run(small.submit({**whole_range(), "format": "csv.gz"}).body["export_id"]).to_json()
    assert status["status"] == "succeeded", status
    assert status["row_count"] == 3000 and status["format"] == "csv.gz"


def test_the_lambda_worker_with_too_little_time_left_fails_cleanly(
    held_jobs: ExportJobs, aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_id = held_jobs.submit(whole_range()).body["export_id"]
    monkeypatch.setenv("EXPORT_TMP_DIR", str(tmp_path))
    settings.get_settings.cache_clear()
    runtime.export_jobs.cache_clear()
    try:
        with Client(export_app.app, stage_name="local", project_dir=str(ROOT)) as client:
            # Chalice's test context gives a Lambda 3 s; the worker needs more than that to finish.
            result = client.lambda_.invoke("export_worker", {"export_id": export_id})
            assert result.payload == {"export_id": export_id, "status": "failed"}
            status = client.http.get(f"/exports/{export_id}").json_body
    finally:
        settings.get_settings.cache_clear()
        runtime.export_jobs.cache_clear()
    assert status["error"]["code"] == "time_limit"
    assert "worker's time left" in status["error"]["message"]
    assert len(slack_messages(aws_environment, export_id)) == 1


def test_large_files_go_up_in_parts_with_size_and_checksum_recorded(aws_environment: stack.StackConfig, tmp_path: Path) -> None:
    five_mb = 5 * 1024 * 1024  # S3's smallest part
    storage = ExportStorage(
        stack.aws_client(aws_environment, "s3"),
        stack.BUCKET,
        templates_prefix="templates/",
        exports_prefix="exports/",
        status_prefix="status/",
        upload_config=TransferConfig(multipart_threshold=five_mb, multipart_chunksize=five_mb, max_concurrency=2),
    )
    path = tmp_path / "big.csv.gz"
    path.write_bytes(os.urandom(2 * five_mb + 1234))
    stored = storage.files.upload(str(path), "exports/test/big.csv.gz", file_name="큰 파일.csv.gz", content_type="application/gzip")
    assert stored.size_bytes == path.stat().st_size
    assert stored.etag.endswith("-3")  # a multipart upload's ETag counts its parts
    assert stored.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    head = stack.aws_client(aws_environment, "s3").head_object(Bucket=stack.BUCKET, Key="exports/test/big.csv.gz")
    assert head["Metadata"]["sha256"] == stored.sha256


def test_status_records_size_and_checksum_of_the_stored_file(held_jobs: ExportJobs) -> None:
    status = held_jobs.run(held_jobs.submit({**whole_range(), "format": "csv"}).body["export_id"]).to_json()
    view = held_jobs.public_status(status["export_id"])
    data = download(view["download_url"])
    assert view["size_bytes"] == len(data)
    assert view["sha256"] == hashlib.sha256(data).hexdigest()
    assert view["file_name"].endswith(".csv") and data.startswith(b"\xef\xbb\xbfOrder,Created,")
