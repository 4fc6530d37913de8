"""Caching, single-flight, idempotency, retries and failure handling, against real processes.

Each fault is real: MariaDB is stopped or killed, the S3 endpoint answers 503 through a proxy,
the Slack receiver answers 429/500. Nothing of the service is mocked.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import stack
from tests.helpers import download, export_objects, sheet_rows, slack_messages_for, wait_for_export, wait_until_running

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def general_log(local_stack: stack.StackConfig) -> Iterator[stack.StackConfig]:
    """MariaDB's general query log, in a table, so a test can count how often a query ran."""
    stack.root_sql(local_stack, "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1;")
    yield local_stack
    stack.root_sql(local_stack, "SET GLOBAL general_log = 0; TRUNCATE TABLE mysql.general_log;")


def query_count(config: stack.StackConfig, marker: str) -> int:
    head, tail = marker[:6], marker[6:]  # split so this counting query does not match itself
    sql = f"SELECT COUNT(*) FROM mysql.general_log WHERE command_type = 'Query' AND argument LIKE CONCAT('%', '{head}', '{tail}', '%')"
    return int(stack.root_sql(config, sql).strip())


def publish_probe(config: stack.StackConfig, *, rows: int = 300, pause: str = "0.004") -> tuple[str, str]:
    """A report whose query carries a unique marker and takes about rows x pause seconds."""
    marker = f"probe{secrets.token_hex(6)}"
    source = (
        "{#---\ntitle: Probe report\ncache_ttl: 1h\nparams:\n  tag: {type: string, default: a}\n---#}\n"
        f"SELECT /* {marker} */ o.id AS `Order`, o.amount AS `Amount`, {{{{ tag }}}} AS `Tag`\n"
        f"FROM orders o WHERE o.id <= {rows} AND SLEEP({pause}) = 0 ORDER BY o.id\n"
    )
    stack.aws_client(config, "s3").put_object(Bucket=stack.BUCKET, Key=f"templates/{marker}.sql", Body=source.encode())
    return marker, marker


def post(config: stack.StackConfig, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return stack.http_json("POST", f"{config.api_url}/exports", body, headers=headers)


def test_ten_identical_requests_run_one_query_and_later_ones_hit_the_cache(general_log: stack.StackConfig) -> None:
    config = general_log
    report, marker = publish_probe(config)
    answers: list[tuple[int, Any]] = []
    barrier = threading.Barrier(10)

    def ask() -> None:
        barrier.wait()
        answers.append(post(config, {"report": report, "params": {"tag": "x"}}))

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    export_ids = {body["export_id"] for _, body in answers}
    assert len(export_ids) == 1, answers
    assert {code for code, _ in answers} <= {200, 202}
    export_id = export_ids.pop()
    status = wait_for_export(config.api_url, export_id)
    assert status["status"] == "succeeded"
    assert query_count(config, marker) == 1
    assert len(export_objects(config, export_id)) == 1
    assert len(slack_messages_for(config, export_id)) == 1

    # Inside the TTL the stored file is reused; "yesterday"-style normalisation gives the same key.
    code, cached = post(config, {"report": report, "params": {"tag": "x"}})
    assert code == 200 and cached["cached"] is True and cached["export_id"] == export_id
    assert cached["download_url"] and sheet_rows(download(cached["download_url"]))[1][2] == "x"
    assert query_count(config, marker) == 1

    code, fresh = post(config, {"report": report, "params": {"tag": "x"}, "refresh": True})
    assert code == 202 and fresh["export_id"] != export_id
    assert wait_for_export(config.api_url, fresh["export_id"])["status"] == "succeeded"
    assert query_count(config, marker) == 2


def test_an_idempotency_key_returns_the_first_answer_even_with_refresh(general_log: stack.StackConfig) -> None:
    config = general_log
    report, marker = publish_probe(config, rows=50)
    key = f"daily-orders-2026-11-30-{secrets.token_hex(4)}"
    code, first = post(config, {"report": report, "params": {"tag": "i"}}, headers={"Idempotency-Key": key})
    assert code == 202
    code, again = post(config, {"report": report, "params": {"tag": "i"}, "refresh": True}, headers={"Idempotency-Key": key})
    assert code == 202 and again["export_id"] == first["export_id"] and again["idempotent_replay"] is True
    code, by_field = post(config, {"report": report, "params": {"tag": "i"}, "refresh": True, "idempotency_key": key})
    assert by_field["export_id"] == first["export_id"]
    wait_for_export(config.api_url, first["export_id"])
    assert query_count(config, marker) == 1
    code, answer = post(config, {"report": report}, headers={"Idempotency-Key": "bad key with spaces"})
    assert code == 400 and answer["error"]["field"] == "Idempotency-Key"


def test_database_down_fails_with_db_unavailable_after_retries_then_recovers(local_stack: stack.StackConfig) -> None:
    stack.stop_process(local_stack, "mariadb")
    try:
        code, accepted = post(local_stack, {"report": "sales_by_product", "refresh": True})
        assert code == 202
        status = wait_for_export(local_stack.api_url, accepted["export_id"])
    finally:
        stack.start_mariadb(local_stack)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "db_unavailable" and status["error"]["attempts"] == 3
    assert status["attempts"] == 3
    messages = slack_messages_for(local_stack, accepted["export_id"])
    assert len(messages) == 1 and messages[0]["text"].startswith("Export failed")
    code, accepted = post(local_stack, {"report": "sales_by_product", "refresh": True})
    assert wait_for_export(local_stack.api_url, accepted["export_id"])["status"] == "succeeded"


def test_database_killed_while_streaming_never_yields_a_partial_success(local_stack: stack.StackConfig) -> None:
    report, _ = publish_probe(local_stack, rows=2000, pause="0.005")
    code, accepted = post(local_stack, {"report": report})
    assert code == 202
    wait_until_running(local_stack.api_url, accepted['export_id'])
    time.sleep(1.5)
    stack.stop_process(local_stack, "mariadb", kill=True)
    try:
        status = wait_for_export(local_stack.api_url, accepted["export_id"], timeout=90)
    finally:
        stack.start_mariadb(local_stack)
    assert status["status"] == "failed" and status["error"]["code"] == "db_unavailable"
    assert status["download_url"] is None and status["row_count"] is None
    assert export_objects(local_stack, accepted["export_id"]) == []
    assert len(slack_messages_for(local_stack, accepted["export_id"])) == 1


def test_slack_failing_for_good_leaves_the_export_succeeded_and_unnotified(local_stack: stack.StackConfig) -> None:
    stack.http_json("POST", f"{local_stack.slack_url}/script", {"repeat": {"status": 500, "body": "internal_error"}})
    try:
        _code, accepted = post(local_stack, {"report": "sales_by_product", "refresh": True})
        status = wait_for_export(local_stack.api_url, accepted["export_id"])
    finally:
        stack.http_json("POST", f"{local_stack.slack_url}/script", [])
    assert status["status"] == "succeeded" and status["download_url"]
    assert status["notified"] is False and status["notify_error"] == "Slack answered 500 internal_error"
    _, attempts = stack.http_json("GET", f"{local_stack.slack_url}/attempts")
    assert attempts["attempts"] >= 3


def test_s3_failing_during_upload_fails_the_export_without_claiming_success(local_stack: stack.StackConfig) -> None:
    proxy = f"http://127.0.0.1:{local_stack.s3_fault_proxy_port}/__faults__"
    stack.http_json("POST", proxy, {"fail_prefix": "exports/", "status": 503})
    try:
        _code, accepted = post(local_stack, {"report": "sales_by_product", "refresh": True})
        status = wait_for_export(local_stack.api_url, accepted["export_id"], timeout=120)
    finally:
        _, faults = stack.http_json("POST", proxy, {"fail_prefix": None})
    assert status["status"] == "failed" and status["error"]["code"] == "storage_error"
    assert status["attempts"] == 3 and faults["failed_requests"] >= 3
    assert status["download_url"] is None
    assert export_objects(local_stack, accepted["export_id"]) == []


def test_history_lists_recent_exports_newest_first(local_stack: stack.StackConfig) -> None:
    first = post(local_stack, {"report": "customers", "params": {"since": "2025-01-01"}, "refresh": True, "requested_by": "alice"})[1]
    second = post(local_stack, {"report": "customers", "params": {"since": "2025-06-01"}, "refresh": True, "requested_by": "canary/daily"})[1]
    wait_for_export(local_stack.api_url, first["export_id"])
    wait_for_export(local_stack.api_url, second["export_id"])
    code, body = stack.http_json("GET", f"{local_stack.api_url}/exports?report=customers&limit=2")
    assert code == 200
    assert [entry["export_id"] for entry in body["exports"]] == [second["export_id"], first["export_id"]]
    assert body["exports"][0]["requested_by"] == "canary/daily" and body["exports"][0]["row_count"] > 0
    assert body["exports"][0]["duration_seconds"] > 0
    code, body = stack.http_json("GET", f"{local_stack.api_url}/exports?limit=1")
    assert code == 200 and len(body["exports"]) == 1
    for query, field in (("limit=0", "limit"), ("limit=abc", "limit"), ("report=../x", "report"), ("colour=red", "colour")):
        code, body = stack.http_json("GET", f"{local_stack.api_url}/exports?{query}")
        assert code == 400 and body["error"]["field"] == field


def test_an_export_whose_file_is_gone_says_expired(local_stack: stack.StackConfig) -> None:
    code, accepted = post(local_stack, {"report": "customers", "params": {"since": "2024-03-01"}, "refresh": True})
    status = wait_for_export(local_stack.api_url, accepted["export_id"])
    (key,) = export_objects(local_stack, accepted["export_id"])
    stack.aws_client(local_stack, "s3").delete_object(Bucket=stack.BUCKET, Key=key)
    code, view = stack.http_json("GET", f"{local_stack.api_url}/exports/{status['export_id']}")
    assert code == 200 and view["status"] == "expired" and view["download_url"] is None
    assert view["error"]["code"] == "expired"
    # An expired export is not served from the cache: the same request builds a new file.
    code, again = post(local_stack, {"report": "customers", "params": {"since": "2024-03-01"}})
    assert code == 202 and again["export_id"] != status["export_id"]
    wait_for_export(local_stack.api_url, again["export_id"])
