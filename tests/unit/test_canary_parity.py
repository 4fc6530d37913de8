"""The canary script and `schedules run` send the same request: the same keys, dates and body."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chalicelib.templating.parameters import resolve_relative_date
from tools.schedules import canary_request, load_schedules

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

WORDS = ["today", "yesterday", "tomorrow", "month_start", "last_month_start", "last_month_end", "year_start",
         "today-7d", "today+2w", "today - 30d", " Yesterday ", "2026-01-02", "paid", "today-0d"]  # fmt: skip
DAYS = [dt.date(2024, 2, 29), dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.date(2026, 12, 31)]


def node(program: str, data: Any) -> Any:
    script = f"const canary = require({json.dumps(str(ROOT / 'canary' / 'export_canary.js'))});\nconst data = {json.dumps(data)};\n{program}"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_relative_dates_resolve_the_same_in_both_languages() -> None:
    cases = [[word, day.isoformat()] for word in WORDS for day in DAYS]
    from_node = node("console.log(JSON.stringify(data.map(([w, d]) => canary.resolveRelativeDate(w, d))));", cases)
    from_python = [(lambda r: r.isoformat() if r else None)(resolve_relative_date(word, dt.date.fromisoformat(day))) for word, day in cases]
    assert from_node == from_python


def test_the_canary_and_schedules_run_build_the_same_request_at_every_instant() -> None:
    loaded = load_schedules((ROOT / "schedules.yaml").read_text(), "schedules.yaml", now=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    twice = load_schedules(
        "schedules:\n  - {name: twice, report: r, params: {d: [today, yesterday]}, cron: '0 9,15 * * *', timezone: Asia/Kolkata}\n",
        "s.yaml",
        now=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )
    instants = ["2026-11-29T23:00:05Z", "2026-11-30T00:00:00Z", "2026-11-30T21:58:30Z", "2026-11-30T22:00:01Z", "2027-02-28T22:10:00Z"]
    instants.append("2026-06-01T03:31:00Z")
    cases = [(schedule.name, schedule.canary_config(), instant) for schedule in [*loaded, *twice] for instant in instants]
    program = (
        "const build = ([, s, t]) => { const r = canary.buildRequest(s, new Date(t)); return [r.idempotencyKey, r.body]; };\n"
        "console.log(JSON.stringify(data.map(build)));"
    )
    from_node = node(program, cases)
    by_name = {schedule.name: schedule for schedule in [*loaded, *twice]}
    from_python = []
    for name, _, instant in cases:
        request = canary_request(by_name[name], dt.datetime.fromisoformat(instant.replace("Z", "+00:00")))
        from_python.append([request.idempotency_key, request.body])
    assert from_node == from_python
