"""The lifecycle in-process (chalice.test.Client and the jobs object) against the test stack's real
endpoints: the on-failure queue handler, a dispatch that fails, the template an export was
accepted with, orphan claims, the configured template source, and the history read from one page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import aws, runtime
from chalicelib.exports import lifecycle
from chalicelib.exports.lifecycle import ExportRecord, ExportState, utc_now
from chalicelib.exports.service import ExportJobs, LambdaDispatcher, Requester, new_export_id
from chalicelib.settings import Settings
from chalicelib.templating.sources import FolderTemplateSource
from devstack import stack
from tests.e2e.test_jobs_and_faults import publish_probe
from tests.helpers import HeldDispatcher, download, local_chalice_client, local_stage_variables, sheet_rows, slack_messages_for

pytestmark = pytest.mark.stack


@pytest.fixture
def client(aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    with local_chalice_client(monkeypatch, tmp_path) as test_client:
        yield test_client


def held_jobs() -> ExportJobs:
    jobs = runtime.export_jobs()
    jobs.dispatcher = HeldDispatcher()
    return jobs


def destination_record(export_id: str, function: str = "excel-export-prod-export_worker") -> dict[str, Any]:
    """An on-failure invocation record as Lambda sends it to an SQS destination, shaped after the
    example in the Lambda developer guide, "Capturing records of Lambda asynchronous invocations"
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html): version,
    timestamp, requestContext (requestId, functionArn, condition, approximateInvokeCount), the
    original requestPayload, responseContext and responsePayload."""
    return {
        "version": "1.0",
        "timestamp": "2026-12-01T09:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": f"arn:aws:lambda:ap-northeast-2:123456789012:function:{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"export_id": export_id},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "RequestId: e4b46cbf-b738-xmpl-8880-a18cdf61200e Error: Runtime exited with error: signal: killed"},
    }


def test_the_failure_queue_handler_fails_the_export_once_and_tells_slack_once(client: Client, aws_environment: stack.StackConfig) -> None:
    jobs = held_jobs()
    submission = jobs.submit({"report": "customers", "params": {"since": "2025-05-01"}, "refresh": True})
    export_id = submission.body["export_id"]
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps(destination_record(export_id))], queue_name="excel-export-prod-worker-failures"
    )
    client.lambda_.invoke("worker_failures", event)
    client.lambda_.invoke("worker_failures", event)  # SQS delivers at least once: a second copy changes nothing
    status = client.http.get(f"/exports/{export_id}").json_body
    assert status["status"] == "failed" and status["error"]["code"] == "worker_lost"
    assert "Lambda gave up after 3 attempts (retries exhausted)" in status["error"]["message"]
    assert status["notified"] is True
    messages = slack_messages_for(aws_environment, export_id)
    assert len(messages) == 1 and messages[0]["text"].startswith("Export failed")
    # The identity is free: the same request runs a fresh export, not the dead one.
    again = jobs.submit({"report": "customers", "params": {"since": "2025-05-01"}})
    assert again.status_code == 202 and again.body["export_id"] != export_id and "deduplicated" not in again.body


def test_the_failure_queue_handler_leaves_a_finished_export_alone(client: Client, aws_environment: stack.StackConfig) -> None:
    jobs = held_jobs()
    export_id = jobs.submit({"report": "customers", "params": {"since": "2025-05-02"}, "refresh": True}).body["export_id"]
    assert jobs.worker.run(export_id).state is ExportState.SUCCEEDED
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(destination_record(export_id))])
    client.lambda_.invoke("worker_failures", event)
    assert client.http.get(f"/exports/{export_id}").json_body["status"] == "succeeded"
    assert len(slack_messages_for(aws_environment, export_id)) == 1


def create_worker_function_in_moto(config: stack.StackConfig, name: str) -> None:
    """moto accepts an asynchronous invoke of a function that exists (it cannot run it: no Docker)."""
    iam = stack.aws_client(config, "iam")
    try:
        role = iam.create_role(RoleName="export-worker-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="export-worker-test")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return None\n")
    lambda_client = stack.aws_client(config, "lambda")
    with contextlib.suppress(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": archive.getvalue()})


class InvokeThenRun:
    """The Lambda dispatcher over HTTP (through the fault proxy), then the worker in-process,
    standing in for the Lambda service, which moto cannot provide."""

    def __init__(self, jobs: ExportJobs, lambda_client: Any, function_name: str) -> None:
        self._invoke = LambdaDispatcher(lambda_client, function_name)
        self._jobs = jobs

    def dispatch(self, export_id: str) -> None:
        self._invoke.dispatch(export_id)
        self._jobs.worker.run(export_id)


def test_a_dispatch_that_fails_answers_503_frees_the_identity_and_the_retry_succeeds(client: Client, aws_environment: stack.StackConfig) -> None:
    import boto3

    jobs = held_jobs()
    name = jobs.pipeline.settings.worker_function_name
    create_worker_function_in_moto(aws_environment, name)
    proxy = f"http://127.0.0.1:{aws_environment.s3_fault_proxy_port}"
    lambda_client = boto3.client(
        "lambda", endpoint_url=proxy, region_name=stack.REGION, aws_access_key_id="local-fake-key", aws_secret_access_key="x"
    )
    jobs.dispatcher = InvokeThenRun(jobs, lambda_client, name)
    body = {"report": "customers", "params": {"since": "2025-05-03"}, "refresh": True}
    stack.http_json("POST", f"{proxy}/__faults__", {"fail_prefix": "functions/", "status": 503})  # POST /2015-03-31/functions/<name>/invocations
    try:
        response = client.http.post("/exports", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    finally:
        stack.http_json("POST", f"{proxy}/__faults__", {"fail_prefix": None})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json_body["error"]["code"] == "dispatch_failed" and response.json_body["error"]["retry"] is True
    assert jobs.ledger.claim_holder(jobs.parse_request(body).key) is None  # nothing left claimed
    retried = client.http.post("/exports", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    assert retried.status_code == 202 and "deduplicated" not in retried.json_body
    assert client.http.get(f"/exports/{retried.json_body['export_id']}").json_body["status"] == "succeeded"


def test_the_worker_runs_the_template_the_export_was_accepted_with(client: Client, aws_environment: stack.StackConfig) -> None:
    jobs = held_jobs()
    report, _ = publish_probe(aws_environment, rows=3, pause="0")
    export_id = jobs.submit({"report": report, "params": {"tag": "v1"}, "refresh": True}).body["export_id"]
    changed = (
        "{#---\ntitle: Probe report\nparams:\n  tag: {type: string, default: a}\n---#}\n"
        "SELECT o.id AS `Changed after submit` FROM orders o WHERE o.id <= 1\n"
    )
    stack.aws_client(aws_environment, "s3").put_object(Bucket=stack.BUCKET, Key=f"templates/{report}.sql", Body=changed.encode())
    assert jobs.worker.run(export_id).state is ExportState.SUCCEEDED
    view = jobs.public_status(export_id)
    rows = sheet_rows(download(view["download_url"]))
    assert rows[0] == ("Order", "Amount", "Tag") and len(rows) == 4


def test_a_claim_without_its_status_record_is_taken_over_not_answered_404(client: Client) -> None:
    jobs = held_jobs()
    body = {"report": "customers", "params": {"since": "2025-05-04"}}
    request = jobs.parse_request(body)
    orphan = new_export_id(utc_now())
    jobs.ledger.claim(request.key, orphan)  # as a crash between claim and status write used to leave it
    answer = jobs.submit(body)
    assert answer.status_code == 202 and answer.body["export_id"] != orphan and "deduplicated" not in answer.body
    assert jobs.ledger.claim_holder(request.key) == answer.body["export_id"]


def test_list_reports_lists_and_loads_from_the_same_source(aws_environment: stack.StackConfig, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "only_here.sql").write_text("{#---\ntitle: Only in the folder\n---#}\nSELECT 1 AS one\n", encoding="utf-8")
    settings = Settings.from_environment({**local_stage_variables(), "AWS_DEFAULT_REGION": stack.REGION, "EXPORT_TMP_DIR": str(tmp_path)})
    jobs = runtime.build_jobs(settings, templates=FolderTemplateSource(folder))
    assert jobs.list_reports() == [jobs.describe_report("only_here")]


def test_history_reads_one_page_of_the_index_not_every_status(client: Client) -> None:
    jobs = held_jobs()
    for _ in range(25):  # more status records than the page asked for, however many the bucket holds
        created = utc_now()
        record = ExportRecord(new_export_id(created), "k", "history_probe", "History probe", {}, "xlsx", ExportState.QUEUED, "api", created)
        jobs.ledger.index(jobs.ledger.create(record).record)
        time.sleep(0.002)
    listed: list[int] = []
    s3 = aws.client("s3")

    def count(parsed: dict[str, Any], **_: Any) -> None:
        listed.append(len(parsed.get("Contents", [])))

    s3.meta.events.register("after-call.s3.ListObjectsV2", count)
    try:
        recent = client.http.get("/exports?limit=5").json_body["exports"]
        by_report = client.http.get("/exports?report=history_probe&limit=3").json_body["exports"]
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectsV2", count)
    assert len(recent) == 5 and [entry["export_id"] for entry in recent] == sorted((entry["export_id"] for entry in recent), reverse=True)
    assert [entry["export_id"] for entry in by_report] == [entry["export_id"] for entry in recent[:3]]
    assert sum(listed) <= 5 + 3, listed  # one page each; listing every status object would be hundreds


def test_a_slack_requested_export_whose_worker_died_tells_the_requester_in_a_dm_not_the_webhook(
    client: Client, aws_environment: stack.StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devstack.slack_client import web_api_calls

    monkeypatch.setenv("SLACK_API_URL", f"{aws_environment.slack_url}/api/")  # the Web API stand-in
    jobs = held_jobs()
    assert jobs.worker.message_hook is not None  # the Slack app is configured on the local stage

    def dms(export_id: str, user: str) -> list[dict[str, Any]]:
        calls = web_api_calls(aws_environment, "chat.postMessage")
        return [call["args"] for call in calls if call["args"].get("channel") == user and export_id in str(call["args"])]

    # 1. Lambda gave up on the worker: the failure queue's handler fails it and DMs the requester.
    asker = Requester("slack:U0LOST001 (lost)", notify_slack_user="U0LOST001", slack_channel="C0LOST001")
    export_id = jobs.submit({"report": "customers", "params": {"since": "2024-02-27"}, "refresh": True}, requester=asker).body["export_id"]
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(destination_record(export_id))])
    client.lambda_.invoke("worker_failures", event)
    client.lambda_.invoke("worker_failures", event)  # a second copy sends nothing more
    status = client.http.get(f"/exports/{export_id}").json_body
    assert status["error"]["code"] == "worker_lost" and status["notified"] is True and status["notify_slack_user"] == "U0LOST001"
    [message] = dms(export_id, "U0LOST001")
    assert "Export failed" in str(message) and "run_again" in str(message)  # the DM with its buttons
    assert slack_messages_for(aws_environment, export_id) == []  # not the webhook

    # 2. A read finds the worker silent past the stale window: the worker it dispatches DMs the requester.
    export_id = jobs.submit({"report": "customers", "params": {"since": "2024-02-28"}, "refresh": True}, requester=asker).body["export_id"]
    handle = jobs.ledger.load(export_id)
    assert handle is not None
    long_ago = utc_now() - dt.timedelta(hours=1)
    jobs.ledger.commit(handle, lifecycle.start(handle.record, long_ago), "running")
    assert client.http.get(f"/exports/{export_id}").json_body["error"]["code"] == "worker_lost"
    assert export_id in jobs.dispatcher.dispatched  # type: ignore[attr-defined]
    jobs.worker.run(export_id)  # what the dispatched worker does with a finished, unnotified export
    [message] = dms(export_id, "U0LOST001")
    assert "Export failed" in str(message)
    assert slack_messages_for(aws_environment, export_id) == []
