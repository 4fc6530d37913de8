"""The Chalice app in-process (chalice.test.Client) against the test stack's real endpoints."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.local import LambdaContext
from chalice.test import Client

import app as export_app
from chalicelib import runtime
from chalicelib.exports import lifecycle
from chalicelib.exports.identity import export_key
from chalicelib.exports.ledger import Won
from chalicelib.exports.lifecycle import ExportRecord, ExportState, utc_now
from chalicelib.exports.service import new_export_id
from chalicelib.templating.parameters import to_json_params
from devstack import stack
from tests.helpers import HeldDispatcher, export_objects, local_chalice_client, slack_messages_for

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def client(aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    with local_chalice_client(monkeypatch, tmp_path) as test_client:
        yield test_client


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


def invoke_worker(export_id: str) -> Any:
    """The worker's Lambda handler with a context as in AWS: chalice.test.Client's own context
    always reports 3 seconds left, which the worker's time guard rightly refuses to start with."""
    context = LambdaContext("export_worker", memory_size=1769, max_runtime_ms=900_000)
    return export_app.export_worker({"export_id": export_id}, context)


def test_a_worker_invoked_twice_for_one_export_makes_one_file_and_one_message(client: Client, aws_environment: stack.StackConfig) -> None:
    jobs = runtime.export_jobs()
    jobs.dispatcher = HeldDispatcher()
    submission = jobs.submit({"report": "customers", "params": {"since": "2025-02-01"}, "refresh": True})
    export_id = submission.body["export_id"]
    # As if a first invocation had crashed after starting: Lambda's async retry runs it again.
    handle = jobs.ledger.load(export_id)
    assert handle is not None
    started = lifecycle.begin_attempt(lifecycle.start(handle.record, utc_now()), utc_now())
    jobs.ledger.commit(handle, started, "running")
    first = invoke_worker(export_id)
    second = invoke_worker(export_id)
    assert first == second == {"export_id": export_id, "status": "succeeded"}
    assert len(export_objects(aws_environment, export_id)) == 1
    assert len(slack_messages_for(aws_environment, export_id)) == 1
    assert jobs.public_status(export_id)["attempts"] == 2


def test_a_claim_whose_worker_died_is_taken_over(client: Client) -> None:
    jobs = runtime.export_jobs()
    template = jobs.pipeline.load_template("customers")
    params = to_json_params(jobs.pipeline.resolve(template, {"since": "2025-03-01"}))
    key = export_key("customers", template.body, params, "xlsx")
    long_ago = utc_now() - dt.timedelta(hours=2)
    dead_id = new_export_id(long_ago)
    dead = ExportRecord(dead_id, key, "customers", "Customers", params, "xlsx", ExportState.RUNNING, "api", long_ago, heartbeat_at=long_ago)
    jobs.ledger.create(dead)
    assert isinstance(jobs.ledger.claim(key, dead_id), Won)  # a worker that then went silent for two hours

    response = post(client, {"report": "customers", "params": {"since": "2025-03-01"}, "refresh": True})
    assert response.status_code == 202
    assert response.json_body["export_id"] != dead_id
    lost = client.http.get(f"/exports/{dead_id}").json_body
    assert lost["status"] == "failed" and lost["error"]["code"] == "worker_lost"
    deadline = time.monotonic() + 30
    while client.http.get(f"/exports/{response.json_body['export_id']}").json_body["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_live_claim_is_joined_not_duplicated(client: Client) -> None:
    jobs = runtime.export_jobs()
    jobs.dispatcher = HeldDispatcher()
    body = {"report": "customers", "params": {"since": "2025-04-01"}, "refresh": True}
    first = jobs.submit(body)
    second = post(client, body)
    assert second.status_code == 202
    assert second.json_body == {**first.body, "deduplicated": True}
    invoke_worker(first.body["export_id"])
    assert client.http.get(f"/exports/{first.body['export_id']}").json_body["status"] == "succeeded"
