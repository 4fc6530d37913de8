"""`schedules run` fires a schedule against the local stack exactly as its canary would."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from devstack import stack
from tools.cli.schedules import schedules

pytestmark = pytest.mark.stack


def schedule_file(tmp_path: Path, name: str, report: str = "orders_range", params: str | None = None) -> Path:
    # a random min_amount gives the export its own identity, so no cached export answers instead
    params = params or f"{{date_from: yesterday, date_to: today, min_amount: '0.{secrets.randbelow(10**6):06d}'}}"
    path = tmp_path / "schedules.yaml"
    path.write_text(f"schedules:\n  - {{name: {name}, report: {report}, params: {params}, cron: '0 9 * * *', timezone: Asia/Seoul}}\n")
    return path


def run(config: stack.StackConfig, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(schedules, ["run", *args, "--api-url", config.api_url])
    return result.exit_code, result.output


def test_run_at_a_seoul_morning_sends_seoul_dates_and_the_canary_key_and_a_second_run_replays(local_stack: stack.StackConfig, tmp_path: Path) -> None:
    name = f"cli-{secrets.token_hex(3)}"
    file = schedule_file(tmp_path, name)
    code, out = run(local_stack, name, "--file", str(file), "--at", "2026-11-30T00:00:20Z", "--wait")
    assert code == 0, out
    assert f"{name}: firing of 2026-11-30 09:00 KST (2026-11-30 00:00 UTC), Idempotency-Key {name}-2026-11-30" in out
    assert '"params": {"date_from": "2026-11-29", "date_to": "2026-11-30", "min_amount": "0.' in out
    assert f'"requested_by": "canary/{name}"' in out
    assert re.search(r"export \S+: succeeded, \d+ rows", out), out
    found = re.search(r'"export_id": "([^"]+)"', out)
    assert found is not None, out
    export_id = found.group(1)
    code, again = run(local_stack, name, "--file", str(file), "--at", "2026-11-30T09:04+09:00")
    assert code == 0, again
    assert f'"export_id": "{export_id}"' in again and '"idempotent_replay": true' in again
    _, history = stack.http_json("GET", f"{local_stack.api_url}/exports?report=orders_range&limit=100")
    assert [entry["export_id"] for entry in history["exports"] if entry["requested_by"] == f"canary/{name}"] == [export_id]


def test_run_due_fires_what_fell_in_the_window_only(local_stack: stack.StackConfig, tmp_path: Path) -> None:
    name = f"due-{secrets.token_hex(3)}"
    file = schedule_file(tmp_path, name)
    code, out = run(local_stack, "--due", "--file", str(file), "--at", "2026-11-30T09:10+09:00", "--window", "15")
    assert code == 0, out
    assert f"Idempotency-Key {name}-2026-11-30" in out
    assert re.search(r"-> 20[02] ", out), out  # queued, or served from the cache by an identical earlier export
    code, out = run(local_stack, "--due", "--file", str(file), "--at", "2026-11-30T09:30+09:00", "--window", "15")
    assert code == 0
    assert out == "nothing due in the 15 minutes before 2026-11-30 00:30 UTC\n"


def test_run_fails_with_the_api_answer_when_the_export_is_refused(local_stack: stack.StackConfig, tmp_path: Path) -> None:
    file = schedule_file(tmp_path, "refused", report="orders_by_day", params="{day: yesterday, colour: blue}")
    code, out = run(local_stack, "refused", "--file", str(file))
    assert code == 1
    assert '-> 400 {"error": {"code": "invalid_parameter", "message": "unknown parameter \'colour\'' in out
