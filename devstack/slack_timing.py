"""How fast the Slack endpoints answer: warm (the running local API) and from a cold process.

Slack gives a slash command or an interaction 3 seconds. ``python -m devstack slack-timing``
measures, in interleaved rounds (medians, so one slow round on a shared machine does not decide):
- warm: signed requests over HTTP to the running API (``/export`` with complete parameters,
  ``/export help``, ``/export`` alone (the picker, views.open), an incomplete command (the
  form, pre-filled), a Run again click);
- cold: a fresh interpreter that imports the app and answers its first signed command in-process
  (chalice.test.Client): settings, AWS clients, the secret read, the template read and the claim
  all happen inside the measured time, as in a Lambda cold start.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from devstack import stack
from devstack.slack_client import FakeSlackUser, button_click, command_body, send_command, send_interaction, sign
from tools.stage_config import local_stage_environment

_COLD_PROBE = r"""
import json, sys, time
started = time.perf_counter()
import app
imported = time.perf_counter()
from chalice.test import Client
body, headers = json.loads(sys.argv[1])
with Client(app.app, stage_name="local") as client:
    before = time.perf_counter()
    response = client.http.post("/slack/commands", body=body.encode(), headers=headers)
    answered = time.perf_counter()
import threading
for thread in threading.enumerate():
    if thread.name.startswith("export-"):
        thread.join(60)  # let the export finish: a killed worker would leave a claim behind
print(json.dumps({"status": response.status_code, "import_s": imported - started, "first_answer_s": answered - before,
                  "total_s": answered - started, "slack_sdk_loaded": "slack_sdk" in sys.modules}))
"""


def _amount() -> str:
    return f"0.{time.time_ns() % 10**9:09d}"


def warm_round(config: stack.StackConfig, user: FakeSlackUser, export_id: str) -> dict[str, float]:
    text = f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={_amount()}"
    timings = {}
    status, _, timings["command_run"] = send_command(config, text, user)
    assert status == 200
    status, _, timings["command_help"] = send_command(config, "help", user)
    status, _, timings["command_form_views_open"] = send_command(config, "", user)
    status, _, timings["command_incomplete_form_prefilled"] = send_command(config, "customers name_contains=Kim", user)
    status, _, timings["interaction_run_again"] = send_interaction(config, button_click("run_again", export_id, user))
    assert status == 200
    return timings


def cold_round(config: stack.StackConfig, user: FakeSlackUser) -> dict[str, Any]:
    body = command_body(f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={_amount()}", user).decode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp}
    headers["X-Slack-Signature"] = sign(stack.SLACK_SIGNING_SECRET, stamp, body.encode())
    env = {**os.environ, **stack.api_environment(config), **_local_stage(config)}
    result = subprocess.run(
        [sys.executable, "-c", _COLD_PROBE, json.dumps([body, headers])], cwd=stack.ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise stack.StackError(f"cold probe failed: {result.stderr[-2000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _local_stage(config: stack.StackConfig) -> dict[str, str]:
    environment = local_stage_environment()
    # The in-process client runs the worker in a thread; the probe exits after the answer.
    return {**environment, "EXPORT_TMP_DIR": str(config.directory / "tmp")}


def measure(config: stack.StackConfig, rounds: int = 5) -> dict[str, Any]:
    user = FakeSlackUser()
    status, answer, _ = send_command(config, f"orders_range date_from=2026-11-01 date_to=2026-11-02 min_amount={_amount()}", user)
    export_id = str(answer["text"]).rsplit("`", 2)[-2] if status == 200 else ""
    warm: dict[str, list[float]] = {}
    cold: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, seconds in warm_round(config, user, export_id).items():
            warm.setdefault(name, []).append(seconds)
        measured = cold_round(config, user)
        for name in ("import_s", "first_answer_s", "total_s"):
            cold.setdefault(name, []).append(float(measured[name]))
    return {
        "rounds": rounds,
        "warm_median_ms": {name: round(statistics.median(values) * 1000, 1) for name, values in warm.items()},
        "warm_max_ms": {name: round(max(values) * 1000, 1) for name, values in warm.items()},
        "cold_median_ms": {name: round(statistics.median(values) * 1000, 1) for name, values in cold.items()},
        "cold_max_ms": {name: round(max(values) * 1000, 1) for name, values in cold.items()},
    }
