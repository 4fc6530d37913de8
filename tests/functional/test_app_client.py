"""The Chalice app in-process (chalice.test.Client) against the test stack's real endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

import app as export_app
from chalicelib import runtime, settings
from devstack import stack

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def client(aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("EXPORT_TMP_DIR", str(tmp_path))
    settings.get_settings.cache_clear()
    runtime.export_jobs.cache_clear()
    with Client(export_app.app, stage_name="local", project_dir=str(ROOT)) as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    runtime.export_jobs.cache_clear()


def post(client: Client, body: Any) -> Any:
    return client.http.post("/exports", headers={"Content-Type": "application/json"}, body=json.dumps(body))


def test_post_answers_202_at_once_and_the_worker_lambda_finishes_the_export(client: Client) -> None:
    started = time.monotonic()
    response = post(client, {"report": "sales_by_product", "params": {"date_from": "today-90d"}, "refresh": True})
    assert response.status_code == 202
    assert time.monotonic() - started < 1.0
    export_id = response.json_body["export_id"]
    # Invoking the worker again, as a Lambda retry would, is harmless once the export has finished.
    deadline = time.monotonic() + 30
    while client.http.get(f"/exports/{export_id}").json_body["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result = client.lambda_.invoke("export_worker", {"export_id": export_id})
    assert result.payload == {"export_id": export_id, "status": "succeeded"}
    status = client.http.get(f"/exports/{export_id}").json_body
    assert status["status"] == "succeeded" and status["row_count"] > 0
    assert status["download_url"].startswith(local_endpoint(client))


def local_endpoint(_client: Client) -> str:
    import os

    return os.environ["AWS_ENDPOINT_URL"]


def test_errors_are_json_with_the_field(client: Client) -> None:
    response = post(client, {"report": "customers", "params": {"since": "soon"}})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "params.since"
    assert client.http.get("/reports/nope").status_code == 404


def test_worker_for_an_unknown_export_reports_not_found(client: Client) -> None:
    with pytest.raises(Exception, match="does not exist"):
        client.lambda_.invoke("export_worker", {"export_id": "20990101-000000-0000000000"})
