"""Submit, cache, single flight, idempotency keys and the worker's retries, in-process in seconds.

No stack: S3 and Secrets Manager are moto's in-process ``mock_aws`` (pinned in requirements-dev),
the status and state records are the in-memory twin of the record store (chalicelib/records.py,
the twin tests/functional/test_record_stores.py holds to S3's semantics) or the S3 store itself
over ``mock_aws``, and the report templates are the repository's own reports/ folder. The service
objects are the ones runtime.build_jobs wires for Lambda: ExportJobs (the API side), ExportWorker,
ExportLedger, the real upload and download links.

Only the database read is stood in for: ``ExportPipeline.write_file`` (its signature and its
``WrittenFile`` answer) writes a small file instead of streaming a query from MariaDB, and can be
told to fail the way the database edge fails (``DatabaseUnavailableError`` is transient,
``QueryError`` is not: chalicelib/errors.py). Slack delivery is recorded, not sent. The same paths
run against the real stack in tests/e2e/test_export_lifecycle.py and tests/e2e/test_jobs_and_faults.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib import aws, runtime
from chalicelib.errors import DatabaseUnavailableError, ExportServiceError, QueryError, UnprocessableError
from chalicelib.exports.ledger import ExportLedger
from chalicelib.exports.service import ExportJobs
from chalicelib.files.pipeline import WrittenFile
from chalicelib.files.workbook import SheetSummary
from chalicelib.records import InMemoryRecordStore
from chalicelib.settings import Settings
from chalicelib.templating.sources import FolderTemplateSource
from tests.helpers import HeldDispatcher
from tools.stage_config import local_stage_environment

ROOT = Path(__file__).resolve().parents[2]
BODY = {"report": "orders_by_day", "params": {"day": "2026-11-30"}}


class RecordedSlack:
    """SlackNotifier's one method (worker.py): what would have been posted."""

    def __init__(self) -> None:
        self.payloads: list[Mapping[str, Any]] = []

    def send(self, payload: Mapping[str, Any], *, secret_name: str | None = None) -> None:
        self.payloads.append(payload)


class DatabaseStandIn:
    """``ExportPipeline.write_file`` without MariaDB: each call first raises the next planned failure."""

    def __init__(self) -> None:
        self.failures: list[ExportServiceError] = []
        self.calls = 0

    def __call__(self, template: Any, values: Mapping[str, Any], path: str, **_options: Any) -> WrittenFile:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        Path(path).write_text("Order,Amount\n1,10.00\n2,20.00\n", encoding="utf-8")
        return WrittenFile(sheets=(SheetSummary(name=template.title, row_count=2),), truncated_cells=0, query_seconds=0.0, writer="csv")


class Service:
    def __init__(self, jobs: ExportJobs, dispatcher: HeldDispatcher, database: DatabaseStandIn, slack: RecordedSlack) -> None:
        self.jobs, self.dispatcher, self.database, self.slack = jobs, dispatcher, database, slack

    def run_worker(self, export_id: str) -> dict[str, Any]:
        self.jobs.worker.run(export_id)
        return self.jobs.public_status(export_id)


@pytest.fixture
def aws_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    caches = (aws._session, aws._client_config, aws.client, aws._created_client)
    for cache in caches:
        cache.cache_clear()  # the container's clients must be made inside the mock
    with mock_aws():
        yield
    for cache in caches:
        cache.cache_clear()


@pytest.fixture(params=["in-memory twin", "S3 records (mock_aws)"])
def service(request: pytest.FixtureRequest, aws_in_process: None, tmp_path: Path) -> Service:
    environment = local_stage_environment() | {"EXPORT_TMP_DIR": str(tmp_path), "RETRY_BASE_MS": "0", "RETRY_MAX_MS": "0"}
    settings = Settings.from_environment(environment)
    aws.client("s3").create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    ledger = runtime.build_ledger(settings)  # the S3 records, wired as in Lambda
    if request.param == "in-memory twin":
        ledger = ExportLedger(InMemoryRecordStore(), InMemoryRecordStore(), windows=ledger.windows, idempotency_ttl_seconds=3600)
    jobs = runtime.build_jobs(settings, templates=FolderTemplateSource(ROOT / "reports"), ledger=ledger)
    dispatcher, database, slack = HeldDispatcher(), DatabaseStandIn(), RecordedSlack()
    jobs.dispatcher = dispatcher
    jobs.pipeline.write_file = database  # type: ignore[method-assign]
    jobs.worker.notifier = slack  # type: ignore[assignment]
    return Service(jobs, dispatcher, database, slack)


def test_a_submitted_export_is_queued_dispatched_once_and_finished_by_the_worker(service: Service) -> None:
    submission = service.jobs.submit(dict(BODY))
    assert submission.status_code == 202 and submission.body["status"] == "queued"
    export_id = submission.body["export_id"]
    assert service.dispatcher.dispatched == [export_id]
    status = service.run_worker(export_id)
    assert status["status"] == "succeeded" and status["row_count"] == 2
    assert status["download_url"] and len(service.slack.payloads) == 1
    key = service.jobs.record(export_id).outcome.s3_key  # type: ignore[union-attr]
    stored = aws.client("s3").get_object(Bucket=service.jobs.pipeline.settings.bucket, Key=key)["Body"].read()
    assert stored.decode("utf-8").startswith("Order,Amount")


def test_an_identical_request_is_answered_from_the_cache_and_refresh_runs_again(service: Service) -> None:
    first = service.jobs.submit(dict(BODY)).body["export_id"]
    service.run_worker(first)
    again = service.jobs.submit(dict(BODY))
    assert again.status_code == 200 and again.body["cached"] is True and again.body["export_id"] == first
    assert service.dispatcher.dispatched == [first] and service.database.calls == 1
    refreshed = service.jobs.submit({**BODY, "refresh": True})
    assert refreshed.status_code == 202 and refreshed.body["export_id"] != first


def test_a_request_while_the_same_export_is_in_flight_joins_it(service: Service) -> None:
    first = service.jobs.submit(dict(BODY)).body["export_id"]
    second = service.jobs.submit(dict(BODY))
    assert second.status_code == 202 and second.body == {**second.body, "export_id": first, "deduplicated": True}
    other_day = service.jobs.submit({**BODY, "params": {"day": "2026-11-29"}})
    assert other_day.body["export_id"] != first
    assert service.dispatcher.dispatched == [first, other_day.body["export_id"]]


def test_an_idempotency_key_replays_its_first_answer_and_refuses_another_request(service: Service) -> None:
    first = service.jobs.submit({**BODY, "refresh": True}, idempotency_key="canary-2026-11-30")
    replay = service.jobs.submit({**BODY, "refresh": True}, idempotency_key="canary-2026-11-30")
    assert replay.body["export_id"] == first.body["export_id"] and replay.body["idempotent_replay"] is True
    assert service.dispatcher.dispatched == [first.body["export_id"]]  # a refresh, and still one export
    with pytest.raises(UnprocessableError) as refused:
        service.jobs.submit({**BODY, "params": {"day": "2026-11-29"}}, idempotency_key="canary-2026-11-30")
    assert refused.value.code == "idempotency_key_reused" and refused.value.field == "idempotency_key"


def test_a_transient_database_failure_is_retried_and_the_export_succeeds(service: Service) -> None:
    service.database.failures = [DatabaseUnavailableError("connect failed"), DatabaseUnavailableError("connect failed")]
    export_id = service.jobs.submit(dict(BODY)).body["export_id"]
    status = service.run_worker(export_id)
    assert status["status"] == "succeeded" and service.database.calls == 3


def test_a_query_error_is_not_retried_and_fails_the_export_with_its_code(service: Service) -> None:
    service.database.failures = [QueryError("MySQL error 1054: Unknown column")]
    export_id = service.jobs.submit(dict(BODY)).body["export_id"]
    status = service.run_worker(export_id)
    assert status["status"] == "failed" and status["error"]["code"] == "query_failed"
    assert service.database.calls == 1 and len(service.slack.payloads) == 1


def test_retries_stop_at_the_configured_attempts(service: Service) -> None:
    attempts = service.jobs.policy.retry.attempts
    service.database.failures = [DatabaseUnavailableError("connect failed") for _ in range(attempts)]
    export_id = service.jobs.submit(dict(BODY)).body["export_id"]
    status = service.run_worker(export_id)
    assert status["status"] == "failed" and status["error"]["code"] == "db_unavailable" and service.database.calls == attempts


def test_lambda_retrying_a_finished_invocation_makes_no_second_file_or_message(service: Service) -> None:
    export_id = service.jobs.submit(dict(BODY)).body["export_id"]
    service.run_worker(export_id)
    service.run_worker(export_id)
    assert service.database.calls == 1 and len(service.slack.payloads) == 1
