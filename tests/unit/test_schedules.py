"""The schedules file: validation messages, parameter checks, and the request a canary sends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from chalicelib.templating.template import ReportTemplate, parse_template
from tools.schedules import ScheduleFileError, canary_request, check_parameters, due_runs, load_schedules

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def templates() -> dict[str, ReportTemplate]:
    return {path.stem: parse_template(path.stem, path.read_text()) for path in (ROOT / "reports").glob("*.sql")}


def one(body: str) -> str:
    return "schedules:\n  - name: daily\n    report: orders_by_day\n" + body


def problems(text: str) -> list[str]:
    with pytest.raises(ScheduleFileError) as caught:
        load_schedules(text, "schedules.yaml", now=NOW)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_schedules_are_valid_against_the_shipped_reports() -> None:
    loaded = load_schedules((ROOT / "schedules.yaml").read_text(), "schedules.yaml", now=NOW)
    assert {schedule.name for schedule in loaded} >= {"daily-orders", "weekday-sales", "monthly-orders"}
    assert check_parameters(loaded, templates(), "schedules.yaml") == []


def test_errors_name_the_file_line_schedule_and_field() -> None:
    found = problems(one("    cron: '0 9 * * *'\n    timezone: Asia/Seol\n"))
    assert found == ["schedules.yaml:5: schedule 'daily' field 'timezone': unknown time zone 'Asia/Seol'; use an IANA name such as Asia/Seoul or UTC"]


def test_every_problem_in_the_file_is_reported_at_once() -> None:
    text = (
        "schedules:\n"
        "  - name: a\n    report: orders_by_day\n    cron: '0 9 * *'\n    timezone: Asia/Seoul\n"
        "  - name: b\n    report: orders_by_day\n    timezone: Asia/Seoul\n    colour: blue\n"
        "  - name: a\n    report: orders_by_day\n    cron: '0 9 * * *'\n    timezone: Asia/Seoul\n    enabled: 'yes'\n"
    )
    found = problems(text)  # in line order, each at its field's line (a missing field: the item's line)
    assert found[0].startswith("schedules.yaml:4: schedule 'a' field 'cron': '0 9 * *' has 4 fields")
    assert "schedules.yaml:6: schedule 'b' field 'cron': is required" in found[1]
    assert "schedules.yaml:9: schedule 'b' field 'colour': unknown field; allowed: name, report, params" in found[2]
    assert "schedules.yaml:10: schedule 'a' field 'name': the name is used by an earlier schedule" in found[3]
    assert "schedules.yaml:14: schedule 'a' field 'enabled': must be true or false" in found[4]
    assert len(found) == 5


def test_duplicate_names_are_refused() -> None:
    text = "schedules:\n" + "  - {name: a, report: orders_by_day, cron: '0 9 * * *', timezone: UTC}\n" * 2
    assert problems(text) == ["schedules.yaml:3: schedule 'a' field 'name': the name is used by an earlier schedule"]


def test_a_name_that_cannot_name_a_canary_is_refused() -> None:
    text = "schedules:\n  - {name: Daily Orders, report: orders_by_day, cron: '0 9 * * *', timezone: UTC}\n"
    assert "field 'name': must be 1-21 characters of a-z" in problems(text)[0]


def test_a_daylight_saving_zone_is_refused_with_an_explanation_on_the_cron_field() -> None:
    found = problems(one("    cron: '0 9 * * MON-FRI'\n    timezone: America/New_York\n"))
    assert "field 'cron': cannot run as a Synthetics canary (America/New_York): America/New_York observes daylight saving time" in found[0]
    assert "cron(0 14 ? * MON-FRI *)" in found[0] and "cron(0 13 ? * MON-FRI *)" in found[0]


def test_bad_yaml_and_a_wrong_shape_say_so() -> None:
    assert problems("schedules: [\n")[0].startswith("schedules.yaml:2: not valid YAML")
    assert problems("- name: a\n") == ["schedules.yaml:1: the file must be a mapping with a 'schedules:' list"]


def test_parameters_are_checked_against_the_report_declarations() -> None:
    text = (
        "schedules:\n"
        "  - {name: a, report: no_such, cron: '0 9 * * *', timezone: Asia/Seoul}\n"
        "  - {name: b, report: orders_by_day, params: {days: yesterday}, cron: '0 9 * * *', timezone: Asia/Seoul}\n"
        "  - {name: c, report: customers, params: {since: yesterday, name_contains: today}, cron: '0 9 * * *', timezone: Asia/Seoul}\n"
        "  - {name: d, report: orders_by_day, params: {day: not-a-date}, cron: '0 9 * * *', timezone: Asia/Seoul}\n"
    )
    found = [str(problem) for problem in check_parameters(load_schedules(text, "s.yaml", now=NOW), templates(), "s.yaml")]
    assert found[0].startswith("s.yaml:2: schedule 'a' field 'report': unknown report 'no_such' (known: customers, orders_by_day")
    assert found[1] == "s.yaml:3: schedule 'b' field 'params.days': unknown parameter 'days' (declared: day, status)"
    assert found[2] == (
        "s.yaml:4: schedule 'c' field 'params.name_contains': 'today' would be sent as a date, but 'name_contains' is a string parameter"
    )
    assert found[3].startswith("s.yaml:5: schedule 'd' field 'params.day': parameter 'day' must be a date")
    assert len(found) == 4


def seoul(cron: str, params: str) -> str:
    return f"schedules:\n  - {{name: s, report: orders_range, params: {params}, cron: '{cron}', timezone: Asia/Seoul}}\n"


def request_at(text: str, moment: dt.datetime) -> tuple[str, dict[str, object]]:
    request = canary_request(load_schedules(text, "s.yaml", now=NOW)[0], moment)
    return request.idempotency_key, request.body


def test_a_nine_oclock_seoul_run_firing_at_midnight_utc_asks_for_seoul_yesterday() -> None:
    key, body = request_at(seoul("0 9 * * *", "{date_from: yesterday, date_to: today}"), dt.datetime(2026, 11, 30, 0, 0, 3, tzinfo=dt.UTC))
    assert key == "s-2026-11-30"
    assert body == {"report": "orders_range", "params": {"date_from": "2026-11-29", "date_to": "2026-11-30"}, "requested_by": "canary/s"}


def test_a_run_on_the_previous_utc_day_still_uses_the_seoul_date() -> None:
    # 08:00 Monday in Seoul is 23:00 Sunday UTC: "yesterday" must be Sunday, not Saturday
    key, body = request_at(seoul("0 8 * * MON-FRI", "{date_from: yesterday}"), dt.datetime(2026, 11, 29, 23, 0, 5, tzinfo=dt.UTC))
    assert key == "s-2026-11-30"
    assert body["params"] == {"date_from": "2026-11-29"}


def test_the_monthly_run_on_the_last_utc_day_asks_for_the_seoul_previous_month() -> None:
    text = seoul("0 7 1 * *", "{date_from: last_month_start, date_to: month_start}")
    key, body = request_at(text, dt.datetime(2026, 11, 30, 22, 0, 1, tzinfo=dt.UTC))  # 1 December, 07:00 in Seoul
    assert key == "s-2026-12-01"
    assert body["params"] == {"date_from": "2026-11-01", "date_to": "2026-12-01"}


def test_a_retry_minutes_later_sends_the_same_request() -> None:
    text = seoul("0 9 * * *", "{date_from: today-7d}")
    assert request_at(text, dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)) == request_at(text, dt.datetime(2026, 11, 30, 0, 9, tzinfo=dt.UTC))


def test_two_firings_a_day_have_a_key_each() -> None:
    text = seoul("0 9,15 * * *", "{}")
    assert request_at(text, dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC))[0] == "s-2026-11-30T0900"
    assert request_at(text, dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC))[0] == "s-2026-11-30T1500"


def test_due_runs_are_the_enabled_firings_inside_the_window() -> None:
    text = (
        "schedules:\n"
        "  - {name: a, report: r, cron: '0 9 * * *', timezone: Asia/Seoul}\n"
        "  - {name: b, report: r, cron: '0 9 * * *', timezone: Asia/Seoul, enabled: false}\n"
        "  - {name: c, report: r, cron: '30 8 * * *', timezone: Asia/Seoul}\n"
    )
    loaded = load_schedules(text, "s.yaml", now=NOW)
    due = due_runs(loaded, dt.datetime(2026, 11, 30, 0, 10, tzinfo=dt.UTC), dt.timedelta(minutes=60))
    assert [(schedule.name, f"{moment:%H:%M}") for schedule, moment in due] == [("c", "08:30"), ("a", "09:00")]
    assert due_runs(loaded, dt.datetime(2026, 11, 30, 1, 10, tzinfo=dt.UTC), dt.timedelta(minutes=60)) == []


def test_seven_mistakes_of_a_file_are_reported_in_one_run_each_at_its_field() -> None:
    from tools.schedules import read_schedules

    text = (
        "schedules:\n"  # 1
        "  - name: Daily Orders\n"  # 2  not a canary name
        "    report: orders_by_day\n"  # 3
        "    params:\n"  # 4
        "      day: not-a-date\n"  # 5  not a date
        "      days: 3\n"  # 6  undeclared
        "    cron: '0 9 * *'\n"  # 7  four fields
        "    timezone: Asia/Seol\n"  # 8  unknown zone
        "    enabled: 'yes'\n"  # 9  not a boolean
        "    slack_channel_secret: excel-export/prod/slack-finance\n"  # 10 refused: the API routes by the report header
    )
    read = read_schedules(text, "s.yaml", now=NOW)
    found = read.problems + check_parameters(read.parameters, templates(), "s.yaml")
    where = sorted((problem.line, problem.field) for problem in found)
    assert where == [
        (2, "name"),
        (5, "params.day"),
        (6, "params.days"),
        (7, "cron"),
        (8, "timezone"),
        (9, "enabled"),
        (10, "slack_channel_secret"),
    ]
    assert "set slack_channel_secret in the report's header" in next(str(p) for p in found if p.field == "slack_channel_secret")


def test_a_schedule_with_a_reversed_range_fails_the_check_at_the_parameter() -> None:
    text = (
        "schedules:\n  - name: s\n    report: orders_range\n    params:\n      date_from: today\n      date_to: yesterday\n"
        "    cron: '0 9 * * *'\n    timezone: UTC\n"
    )
    found = [str(problem) for problem in check_parameters(load_schedules(text, "s.yaml", now=NOW), templates(), "s.yaml")]
    assert found == ["s.yaml:5: schedule 's' field 'params.date_from': parameter 'date_from' (2026-01-15) must not be after 'date_to' (2026-01-14)"]


def test_a_report_name_the_api_would_refuse_is_refused_here_too() -> None:
    # One report-name rule (chalicelib.templating.template.REPORT_NAME): a 65-character name passed
    # the schedules' own looser pattern and then failed every canary run with invalid_report_name.
    text = "schedules:\n  - {name: a, report: " + "r" * 65 + ", cron: '0 9 * * *', timezone: UTC}\n"
    assert problems(text) == ["schedules.yaml:2: schedule 'a' field 'report': must be a report name (1-64 characters of a-z, 0-9, '_' or '-')"]
