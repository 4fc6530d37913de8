"""Attacks on the export lifecycle over HTTP, against the real stack: bursts, a fault at each step
of submit, a worker killed mid-export, idempotency keys reused for other requests, input that
cannot be stored, broken templates.

Nothing of the service is mocked: the API is `chalice local` (its worker threads die with it when
it is killed), S3 is moto_server behind the fault proxy, queries are counted in MariaDB's general
log, Slack messages in the local receiver. The test stack runs with HEARTBEAT_SECONDS=2 and
STALE_SECONDS=10 (tests/conftest.py) so a dead worker is found in seconds.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import pytest

from devstack import stack
from tests.e2e.test_jobs_and_faults import general_log, publish_probe, query_count
from tests.helpers import export_objects, slack_messages_for, wait_for_export, wait_until_running

pytestmark = pytest.mark.stack
__all__ = ["general_log"]  # the fixture, shared with test_jobs_and_faults

BURST = 50
ROUNDS = 20


def post(config: stack.StackConfig, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return stack.http_json("POST", f"{config.api_url}/exports", body, headers=headers, timeout=60)


def claims(config: stack.StackConfig) -> list[str]:
    listing = stack.aws_client(config, "s3").list_objects_v2(Bucket=stack.BUCKET, Prefix="state/claims/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def faults(config: stack.StackConfig, prefix: str | None) -> dict[str, Any]:
    _, answer = stack.http_json("POST", f"http://127.0.0.1:{config.s3_fault_proxy_port}/__faults__", {"fail_prefix": prefix, "status": 503})
    return dict(answer)


def burst(config: stack.StackConfig, body: dict[str, Any]) -> list[tuple[int, Any]]:
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(BURST)

    def ask() -> None:
        barrier.wait()
        for _ in range(5):
            try:
                answer = post(config, body)
                break
            except (ConnectionError, OSError):
                # chalice local's HTTPServer listens with a backlog of 5: a burst of 50 overflows
                # it and the kernel resets some connections, which a client retries.
                time.sleep(0.2)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=ask) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == BURST
    return answers


def test_bursts_of_identical_requests_run_each_export_exactly_once(general_log: stack.StackConfig) -> None:
    config = general_log
    report, marker = publish_probe(config, rows=20, pause="0.001")  # a fast export: it finishes during the burst
    stack.http_json("DELETE", f"{config.slack_url}/messages")
    before = claims(config)
    for round_number in range(1, ROUNDS + 1):
        answers = burst(config, {"report": report, "params": {"tag": f"round{round_number}"}})
        assert {code for code, _ in answers} <= {200, 202}, answers
        export_ids = {body["export_id"] for _, body in answers}
        finished = [wait_for_export(config.api_url, export_id) for export_id in sorted(export_ids)]
        assert all(status["status"] == "succeeded" for status in finished), finished
        assert query_count(config, marker) == round_number, f"round {round_number}: the query ran twice"
        files = {key for export_id in export_ids for key in export_objects(config, export_id)}
        assert len(files) == 1, files
        messages = [message for export_id in export_ids for message in slack_messages_for(config, export_id)]
        assert len(messages) == 1, messages
    assert set(claims(config)) - set(before) == set()  # (an earlier test's export may still be finishing)


@pytest.mark.parametrize("step", ["status/", "state/claims/", "state/history/"], ids=["status write", "claim", "history index"])
def test_a_fault_at_each_step_of_submit_answers_503_and_leaves_nothing_claimed(local_stack: stack.StackConfig, step: str) -> None:
    report, _ = publish_probe(local_stack, rows=5, pause="0")
    body = {"report": report, "params": {"tag": secrets.token_hex(4)}}
    before = claims(local_stack)
    faults(local_stack, step)
    try:
        code, answer = post(local_stack, body)
    finally:
        failed = faults(local_stack, None)["failed_requests"]
    assert failed > 0
    assert code == 503, answer
    assert answer["error"]["retry"] is True and "retry" in answer["error"]["message"]
    assert set(claims(local_stack)) - set(before) == set()  # nothing left behind: the identity is free again
    code, answer = post(local_stack, body)
    assert code == 202 and "deduplicated" not in answer, answer
    assert wait_for_export(local_stack.api_url, answer["export_id"])["status"] == "succeeded"


def test_a_worker_killed_mid_export_reads_as_lost_within_the_stale_window(local_stack: stack.StackConfig) -> None:
    report, _ = publish_probe(local_stack, rows=100, pause="0.1")  # about ten seconds of query
    body = {"report": report, "params": {"tag": "killed"}}
    code, accepted = post(local_stack, body)
    assert code == 202
    export_id = accepted["export_id"]
    wait_until_running(local_stack.api_url, export_id)
    time.sleep(1)
    stack.stop_process(local_stack, "api", kill=True)  # the worker thread dies with its process
    killed_at = time.monotonic()
    stack.start_api(local_stack)
    status: Any = None
    while time.monotonic() - killed_at < 30:
        _, status = stack.http_json("GET", f"{local_stack.api_url}/exports/{export_id}")
        if status["status"] != "running":
            break
        time.sleep(0.25)
    detected = time.monotonic() - killed_at
    assert status["status"] == "failed" and status["error"]["code"] == "worker_lost", status
    assert detected <= 10 + 2 + 3, f"found after {detected:.1f} s"  # the stale window, a heartbeat, slack for the restart
    print(f"dead worker found {detected:.1f} s after the kill (HEARTBEAT_SECONDS=2, STALE_SECONDS=10)")
    lost = wait_for_export(local_stack.api_url, export_id)
    assert lost["notified"] is True
    messages = slack_messages_for(local_stack, export_id)
    assert len(messages) == 1 and messages[0]["text"].startswith("Export failed") and "stopped without finishing" in messages[0]["text"]
    # A new identical request runs a fresh export instead of joining the dead one.
    code, fresh = post(local_stack, body)
    assert code == 202 and fresh["export_id"] != export_id and "deduplicated" not in fresh
    assert wait_for_export(local_stack.api_url, fresh["export_id"], timeout=60)["status"] == "succeeded"
    assert len(slack_messages_for(local_stack, export_id)) == 1


def test_an_idempotency_key_is_bound_to_its_request(local_stack: stack.StackConfig) -> None:
    report, _ = publish_probe(local_stack, rows=5, pause="0")
    key = f"daily-{secrets.token_hex(6)}"
    headers = {"Idempotency-Key": key}
    code, first = post(local_stack, {"report": report, "params": {"tag": "a"}}, headers)
    assert code == 202
    for other in (
        {"report": "customers", "params": {"since": "2025-01-01"}},
        {"report": report, "params": {"tag": "b"}},
        {"report": report, "params": {"tag": "a"}, "format": "csv"},
    ):
        code, answer = post(local_stack, other, headers)
        assert code == 422, answer
        assert answer["error"]["code"] == "idempotency_key_reused" and answer["error"]["field"] == "idempotency_key"
        assert key in answer["error"]["message"]
    done = wait_for_export(local_stack.api_url, first["export_id"])
    # The same request again: the same export and status code, its state now, a fresh link.
    code, replay = post(local_stack, {"report": report, "params": {"tag": "a"}, "refresh": True}, headers)
    assert code == 202 and replay["export_id"] == first["export_id"] and replay["idempotent_replay"] is True
    assert replay["status"] == "succeeded" and replay["download_url"] and replay["row_count"] == done["row_count"]
    code, answer = post(local_stack, {"report": report, "params": {"tag": "a"}, "idempotency_key": "another"}, headers)
    assert code == 400 and answer["error"]["field"] == "idempotency_key"


def test_a_string_that_cannot_be_stored_is_refused_and_leaves_no_claim(local_stack: stack.StackConfig) -> None:
    report, _ = publish_probe(local_stack, rows=5, pause="0")
    before = claims(local_stack)
    raw = b'{"report": "' + report.encode() + b'", "params": {"tag": "\\ud800"}}'
    request_headers = {"Content-Type": "application/json"}
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{local_stack.api_url}/exports", data=raw, method="POST", headers=request_headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    error = stack._decode(caught.value.read())["error"]
    assert error["code"] == "invalid_parameter" and error["field"] == "params.tag"
    assert set(claims(local_stack)) - set(before) == set()
    code, answer = post(local_stack, {"report": report, "params": {"tag": "fine"}})
    assert code == 202, answer


BROKEN_TEMPLATES = {
    "broken_yaml": b"{#---\ntitle: [unclosed\n---#}\nSELECT 1 AS one\n",
    "broken_jinja": b"{#---\ntitle: Broken\n---#}\nSELECT {{ 1 + }} AS one\n",
    "not_utf8": "{#---\ntitle: Caf\u00e9\n---#}\nSELECT 1 AS one\n".encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_TEMPLATES))
def test_a_broken_template_is_a_4xx_naming_the_template_never_a_500(local_stack: stack.StackConfig, name: str) -> None:
    s3 = stack.aws_client(local_stack, "s3")
    s3.put_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql", Body=BROKEN_TEMPLATES[name])
    try:
        post_code, posted = post(local_stack, {"report": name})
        get_code, described = stack.http_json("GET", f"{local_stack.api_url}/reports/{name}")
    finally:
        s3.delete_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql")
    assert (post_code, get_code) == (422, 422), (posted, described)
    for answer in (posted, described):
        assert answer["error"]["code"] == "template_error" and f"{name}.sql" in answer["error"]["message"]


def test_a_template_that_overflows_when_rendered_fails_the_export_as_a_template_error(local_stack: stack.StackConfig) -> None:
    source = b"{#---\ntitle: Overflow\n---#}\nSELECT {{ range(100000000) | length }} AS n\n"
    s3 = stack.aws_client(local_stack, "s3")
    s3.put_object(Bucket=stack.BUCKET, Key="templates/overflowing.sql", Body=source)
    try:
        code, accepted = post(local_stack, {"report": "overflowing", "refresh": True})
        assert code == 202, accepted
        status = wait_for_export(local_stack.api_url, accepted["export_id"])
    finally:
        s3.delete_object(Bucket=stack.BUCKET, Key="templates/overflowing.sql")
    assert status["status"] == "failed" and status["error"]["code"] == "template_error", status
    assert status["attempts"] == 1  # an author's mistake is not retried
    assert len(slack_messages_for(local_stack, accepted["export_id"])) == 1


def test_csv_for_a_report_of_several_sheets_is_refused_at_submit(local_stack: stack.StackConfig) -> None:
    code, answer = post(local_stack, {"report": "orders_overview", "format": "csv"})
    assert code == 400 and answer["error"]["field"] == "format" and "xlsx" in answer["error"]["message"]
