"""Schedules as code: the schedules file, its validation, and the request a canary sends.

Pure logic, no I/O: callers hand in the file's text (and, to check parameters, the parsed report
templates) and get schedules or errors that name the file, line, schedule and field. The request
built here is the same one the Node.js canary (canary/export_canary.js) builds, field for field;
a test runs both and compares them.

Relative dates (``yesterday``, ``today-7d``, ``last_month_end``...) in a schedule's parameters are
resolved by the caller of the API - the canary, or ``schedules run`` - against the *scheduled*
local date in the schedule's own zone: a canary firing at 00:00 UTC for a 09:00 Seoul schedule
asks for Seoul's yesterday. Sending concrete dates also makes the payload match the idempotency
key (both come from the same scheduled date), whatever zone the API's REPORT_TIMEZONE names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from chalicelib.templating.parameters import parameter_problems, resolve_relative_date
from chalicelib.templating.template import REPORT_NAME_RULE, ReportTemplate, is_report_name
from tools.cron import CronError, LocalCron, UtcCron, parse_cron, to_utc

# Synthetics canary names are at most 21 characters of [0-9a-z_-]; the schedule name is the canary name.
# Used with fullmatch: "$" would accept a trailing newline.
SCHEDULE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,20}")
_FIELDS = ("name", "report", "params", "cron", "timezone", "enabled", "slack_channel_secret")
# Refused rather than ignored: the API routes a report's Slack message by the report header's
# slack_channel_secret and lets no request name a secret the worker then reads.
_SLACK_ROUTING_REFUSED = (
    "a schedule cannot choose the Slack channel: the API lets no request name a secret; "
    "set slack_channel_secret in the report's header (README, 'Writing a report') and remove it here"
)
_REQUIRED = ("name", "report", "cron", "timezone")
# A canary may start a little before its minute; a firing this close ahead counts as now.
EARLY_START = dt.timedelta(minutes=2)
# Exports are daily-ish work; more firings than this a day is a mistake in the cron, not a schedule.
MAX_RUNS_PER_DAY = 24


@dataclass(frozen=True)
class ScheduleProblem:
    """One validation error: where it is and what is wrong."""

    file: str
    message: str
    schedule: str | None = None
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}" if self.line else self.file]
        if self.schedule:
            parts.append(f" schedule {self.schedule!r}" + (f" field {self.field!r}" if self.field else ""))
        return ":".join(parts) + f": {self.message}"


class ScheduleFileError(ValueError):
    def __init__(self, problems: Sequence[ScheduleProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Schedule:
    name: str
    report: str
    cron: LocalCron
    timezone: str
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)  # each field's line, for messages

    @property
    def parameters(self) -> ScheduleParameters:
        return ScheduleParameters(self.name, self.report, self.params, self.line, self.lines)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def utc_cron(self, now: dt.datetime) -> UtcCron:
        return to_utc(self.cron, self.zone, now=now)

    @property
    def times_of_day(self) -> list[str]:
        return [f"{hour:02d}:{minute:02d}" for hour, minute in self.cron.times_of_day]

    def canary_config(self) -> dict[str, Any]:
        """What the canary script needs to know about this schedule (its SCHEDULE setting)."""
        return {
            "name": self.name,
            "report": self.report,
            "params": dict(self.params),
            "timezone": self.timezone,
            "times": self.times_of_day,
        }


# loading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleParameters:
    """What the parameter check needs of one schedule item, read even when its other fields are wrong,
    so one run of ``schedules check`` reports every mistake of the file."""

    schedule: str
    report: str
    params: Mapping[str, Any]
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)  # "report", "params", "params.<name>" -> line


@dataclass
class ReadSchedules:
    schedules: list[Schedule]
    problems: list[ScheduleProblem]
    parameters: list[ScheduleParameters]


def load_schedules(text: str, file: str, *, now: dt.datetime) -> list[Schedule]:
    """Parse and validate a schedules file; ScheduleFileError lists every problem found."""
    read = read_schedules(text, file, now=now)
    if read.problems:
        raise ScheduleFileError(read.problems)
    return read.schedules


def read_schedules(text: str, file: str, *, now: dt.datetime) -> ReadSchedules:
    """Every valid schedule, every problem (each at its field's line) and every item's parameters."""
    try:
        document = yaml.safe_load(text)
        lines = _line_numbers(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return ReadSchedules([], [ScheduleProblem(file, f"not valid YAML: {getattr(exc, 'problem', exc)}", line=line)], [])
    if not isinstance(document, Mapping) or not isinstance(document.get("schedules"), list):
        return ReadSchedules([], [ScheduleProblem(file, "the file must be a mapping with a 'schedules:' list", line=1)], [])
    unknown = sorted(set(document) - {"schedules"})
    read = ReadSchedules([], [ScheduleProblem(file, f"unknown top-level key {key!r}; only 'schedules' is allowed", line=1) for key in unknown], [])
    seen: set[str] = set()
    for index, raw in enumerate(document["schedules"]):
        item_lines = lines[index] if index < len(lines) else (None, {})
        schedule, found, parameters = _parse_schedule(raw, index, file, item_lines, now)
        read.problems.extend(found)
        if parameters is not None:
            read.parameters.append(parameters)
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if isinstance(name, str) and name in seen:
            line = item_lines[1].get("name", item_lines[0] or 0) or None
            read.problems.append(ScheduleProblem(file, "the name is used by an earlier schedule", name, "name", line))
        if isinstance(name, str):
            seen.add(name)
        if schedule is not None:
            read.schedules.append(schedule)
    read.problems.sort(key=lambda problem: problem.line or 0)
    return read


def _line_numbers(text: str) -> list[tuple[int | None, dict[str, int]]]:
    """For each schedule item: its first line and the line of each of its keys, and of each
    parameter as ``params.<name>`` (messages point at the field, not at the item)."""
    root = yaml.compose(text)
    found: list[tuple[int | None, dict[str, int]]] = []
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if key.value == "schedules" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                keys: dict[str, int] = {}
                if isinstance(item, yaml.MappingNode):
                    for item_key, item_value in item.value:
                        keys[str(item_key.value)] = item_key.start_mark.line + 1
                        if item_key.value == "params" and isinstance(item_value, yaml.MappingNode):
                            keys.update({f"params.{k.value}": k.start_mark.line + 1 for k, _ in item_value.value})
                found.append((item.start_mark.line + 1, keys))
    return found


def _parse_schedule(
    raw: Any, index: int, file: str, lines: tuple[int | None, dict[str, int]], now: dt.datetime
) -> tuple[Schedule | None, list[ScheduleProblem], ScheduleParameters | None]:
    """The schedule (None when anything is wrong), every problem of the item, and its parameters."""
    item_line, key_lines = lines
    if not isinstance(raw, Mapping):
        return None, [ScheduleProblem(file, f"schedule #{index + 1} must be a mapping with name, report, cron, timezone", line=item_line)], None
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    label = name or f"#{index + 1}"

    def problem(field_name: str | None, message: str) -> ScheduleProblem:
        return ScheduleProblem(file, message, label, field_name, key_lines.get(field_name or "", item_line))

    problems = [problem(key, f"unknown field; allowed: {', '.join(_FIELDS)}") for key in raw if key not in _FIELDS]
    missing = [key for key in _REQUIRED if raw.get(key) in (None, "")]
    problems += [problem(key, "is required") for key in missing]
    problems += _check_name_and_report(raw, problem)
    cron, zone_problems = _parse_cron_and_zone(raw, problem, now)
    problems += zone_problems
    params = raw.get("params") or {}
    if not isinstance(params, Mapping) or not all(isinstance(key, str) for key in params):
        problems.append(problem("params", "must be a mapping of parameter names to values"))
        params = None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(problem("enabled", "must be true or false"))
    if "slack_channel_secret" in raw:
        problems.append(problem("slack_channel_secret", _SLACK_ROUTING_REFUSED))
    report = raw.get("report")
    parameters = None
    if params is not None and is_report_name(report):
        plain = {key: _plain(value) for key, value in params.items()}
        parameters = ScheduleParameters(label, report, plain, item_line, key_lines)
    if problems or cron is None or parameters is None:
        return None, problems, parameters
    schedule = Schedule(
        name=str(raw["name"]),
        report=str(raw["report"]),
        cron=cron,
        timezone=str(raw["timezone"]),
        params=parameters.params,
        enabled=enabled,
        line=item_line,
        lines=key_lines,
    )
    return schedule, [], parameters


def _plain(value: Any) -> Any:
    """JSON-ready values: YAML reads an unquoted 2026-11-30 as a date, the API wants the string."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _check_name_and_report(raw: Mapping[str, Any], problem: Any) -> list[ScheduleProblem]:
    problems = []
    if raw.get("name") not in (None, "") and (not isinstance(raw["name"], str) or not SCHEDULE_NAME.fullmatch(raw["name"])):
        problems.append(problem("name", "must be 1-21 characters of a-z, 0-9, '-' and '_' starting with a letter or digit (it names the canary)"))
    if raw.get("report") not in (None, "") and not is_report_name(raw["report"]):
        problems.append(problem("report", f"must be a report name ({REPORT_NAME_RULE})"))
    return problems


def _parse_cron_and_zone(raw: Mapping[str, Any], problem: Any, now: dt.datetime) -> tuple[LocalCron | None, list[ScheduleProblem]]:
    """The cron and the zone are each checked on their own; the UTC conversion needs both."""
    zone, cron, problems = None, None, []
    if raw.get("timezone") not in (None, ""):
        try:
            zone = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(problem("timezone", f"unknown time zone {raw['timezone']!r}; use an IANA name such as Asia/Seoul or UTC"))
    if raw.get("cron") not in (None, ""):
        try:
            cron = parse_cron(raw["cron"])
        except CronError as exc:
            problems.append(problem("cron", str(exc)))
    if zone is None or cron is None:
        return None, problems
    if len(cron.times_of_day) > MAX_RUNS_PER_DAY:
        return None, [problem("cron", f"fires {len(cron.times_of_day)} times a day; a schedule may fire at most {MAX_RUNS_PER_DAY} times a day")]
    try:
        to_utc(cron, zone, now=now)
    except CronError as exc:
        return None, [problem("cron", f"cannot run as a Synthetics canary ({raw['timezone']}): {exc}")]
    return cron, []


# checking against the report templates -------------------------------------------------------
def check_parameters(schedules: Sequence[Schedule | ScheduleParameters], templates: Mapping[str, ReportTemplate], file: str) -> list[ScheduleProblem]:
    """Each schedule names a known report and each of its parameters passes that report's
    declarations; every mistake is reported, at the line of the field it is about."""
    problems = []
    sample_day = dt.date(2026, 1, 15)  # any date: only types and declarations are checked here
    for item in schedules:
        entry = item.parameters if isinstance(item, Schedule) else item

        def problem(field_name: str, message: str, entry: ScheduleParameters = entry) -> ScheduleProblem:
            line = entry.lines.get(field_name) or entry.lines.get(field_name.split(".")[0]) or entry.line
            return ScheduleProblem(file, message, entry.schedule, field_name, line)

        template = templates.get(entry.report)
        if template is None:
            known = ", ".join(sorted(templates)) or "none"
            problems.append(problem("report", f"unknown report {entry.report!r} (known: {known})"))
            continue
        dated = []
        for name, value in entry.params.items():
            spec = template.params.get(name)
            textual = spec is not None and (spec.type == "string" or spec.item_type == "string")
            if textual and any(resolve_relative_date(str(item), sample_day) for item in _items(value)):
                dated.append(name)
                message = f"{value!r} would be sent as a date, but {name!r} is a {spec.type_label if spec else ''} parameter"
                problems.append(problem(f"params.{name}", message))
        values = {name: value for name, value in resolve_params(entry.params, sample_day).items() if name not in dated}
        for exc in parameter_problems(template.params, values, today=sample_day):
            problems.append(problem(exc.field or "params", exc.message))
    return problems


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# what a canary sends -------------------------------------------------------------------------
@dataclass(frozen=True)
class CanaryRequest:
    schedule: str
    scheduled_at: dt.datetime  # aware, in the schedule's zone
    idempotency_key: str
    body: dict[str, Any]


def scheduled_run(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The firing a run at ``now`` belongs to: the latest local firing time at or before now.

    A retry a few minutes later still belongs to the same firing, so it sends the same idempotency
    key. Only the schedule's times of day are used (as the canary does), not its days.
    """
    local = (now + EARLY_START).astimezone(schedule.zone)
    minute_of_day = local.hour * 60 + local.minute
    times = schedule.cron.times_of_day
    earlier = [(hour, minute) for hour, minute in times if hour * 60 + minute <= minute_of_day]
    day = local.date()
    if earlier:
        hour, minute = earlier[-1]
    else:
        day -= dt.timedelta(days=1)
        hour, minute = times[-1]
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=schedule.zone)


def resolve_params(params: Mapping[str, Any], day: dt.date) -> dict[str, Any]:
    """Relative dates (also inside lists) become ISO dates as seen on ``day``; the rest is kept."""

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if isinstance(value, str):
            relative = resolve_relative_date(value, day)
            return relative.isoformat() if relative is not None else value
        return value

    return {name: resolve(value) for name, value in params.items()}


def canary_request(schedule: Schedule, now: dt.datetime) -> CanaryRequest:
    """The POST /exports a canary run at ``now`` sends for this schedule."""
    scheduled = scheduled_run(schedule, now)
    day = scheduled.date()
    key = f"{schedule.name}-{day.isoformat()}"
    if len(schedule.cron.times_of_day) > 1:  # several firings a day: each needs its own key
        key += f"T{scheduled:%H%M}"
    body = {"report": schedule.report, "params": resolve_params(schedule.params, day), "requested_by": f"canary/{schedule.name}"}
    return CanaryRequest(schedule.name, scheduled, key, body)


def due_runs(schedules: Sequence[Schedule], now: dt.datetime, window: dt.timedelta) -> list[tuple[Schedule, dt.datetime]]:
    """Every (enabled schedule, firing) with the firing in the window ``(now - window, now]``."""
    due = []
    for schedule in schedules:
        if not schedule.enabled:
            continue
        for moment in schedule.cron.runs_from(schedule.zone, now - window, max_days=window.days + 2):
            if moment > now:
                break
            due.append((schedule, moment))
    return sorted(due, key=lambda item: (item[1], item[0].name))
