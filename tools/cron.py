"""Cron expressions: a schedule's local 5-field cron, its firings, and the UTC form Synthetics needs.

Pure logic, no I/O. People write schedules in their own time zone (``0 9 * * MON-FRI`` in
Asia/Seoul); CloudWatch Synthetics only takes ``cron(min hour dom month dow year)`` in UTC, with
``?`` in one of the two day fields and ``*`` as the year. Converting moves the firing times by the
zone's offset, and when that crosses midnight the day-of-week or day-of-month moves too (Seoul's
Monday 08:00 is Sunday 23:00 UTC; the 1st at 07:00 is the last day of the previous month at
22:00 UTC, ``L``). A zone with daylight saving time has two offsets, so no single UTC cron can
follow it: the conversion refuses and names the two expressions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MINUTES_PER_DAY = 24 * 60
_TOKEN = re.compile(r"^(\*|[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:/(\d+))?$")
# How far ahead the offset of a zone is examined: long enough to see both sides of any DST rule.
_OFFSET_HORIZON_DAYS = 2 * 366


class CronError(ValueError):
    """A cron expression is malformed, or cannot be written as one UTC Synthetics cron."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


MINUTE = FieldSpec("minute", 0, 59)
HOUR = FieldSpec("hour", 0, 23)
DAY_OF_MONTH = FieldSpec("day of month", 1, 31)
MONTH = FieldSpec("month", 1, 12, MONTH_NAMES, 1)
# 0 and 7 are both Sunday in standard cron; values are kept as 0-6 (Sunday = 0).
DAY_OF_WEEK = FieldSpec("day of week", 0, 7, DAY_NAMES, 0)


@dataclass(frozen=True)
class LocalCron:
    """A standard 5-field cron expression, meant in some time zone."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @property
    def months_restricted(self) -> bool:
        return len(self.months) < 12

    @property
    def times_of_day(self) -> list[tuple[int, int]]:
        """Every (hour, minute) at which the schedule fires on a day it runs, in order."""
        return [(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]

    def runs_on(self, day: dt.date) -> bool:
        return day.month in self.months and day.day in self.days and (day.isoweekday() % 7) in self.weekdays

    def next_runs(self, zone: ZoneInfo, after: dt.datetime, count: int) -> list[dt.datetime]:
        """The next ``count`` firings strictly after ``after``, as aware datetimes in ``zone``."""
        runs: list[dt.datetime] = []
        for moment in self.runs_from(zone, after):
            runs.append(moment)
            if len(runs) == count:
                break
        return runs

    def runs_from(self, zone: ZoneInfo, after: dt.datetime, max_days: int = 5 * 366) -> Iterator[dt.datetime]:
        start = after.astimezone(zone)
        day = start.date()
        for _ in range(max_days):
            if self.runs_on(day):
                for hour, minute in self.times_of_day:
                    moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if _exists(moment) and moment > start:
                        yield moment
            day += dt.timedelta(days=1)


def _exists(moment: dt.datetime) -> bool:
    """False for a wall-clock time skipped by a DST change (02:30 on a spring-forward night)."""
    round_trip = moment.astimezone(dt.UTC).astimezone(moment.tzinfo)
    return round_trip.replace(tzinfo=None) == moment.replace(tzinfo=None)


def parse_cron(text: str) -> LocalCron:
    """Parse ``minute hour day-of-month month day-of-week`` (names, ranges, lists and steps)."""
    if not isinstance(text, str):
        raise CronError("a cron expression is a string such as '0 9 * * MON-FRI'")
    fields = text.upper().split()
    if len(fields) != 5:
        raise CronError(f"{text!r} has {len(fields)} fields; write 5: minute hour day-of-month month day-of-week (e.g. '0 9 * * MON-FRI')")
    minute, hour, dom, month, dow = fields
    days_restricted = dom not in ("*", "?")
    weekdays_restricted = dow not in ("*", "?")
    if days_restricted and weekdays_restricted:
        raise CronError(f"{text!r} sets both day-of-month and day-of-week; set one and leave the other '*'")
    weekdays = frozenset(value % 7 for value in _parse_field("*" if dow == "?" else dow, DAY_OF_WEEK))
    return LocalCron(
        text=" ".join(text.split()),
        minutes=_parse_field(minute, MINUTE),
        hours=_parse_field(hour, HOUR),
        days=_parse_field("*" if dom == "?" else dom, DAY_OF_MONTH),
        months=_parse_field(month, MONTH),
        weekdays=weekdays,
        days_restricted=days_restricted,
        weekdays_restricted=weekdays_restricted,
    )


def _parse_field(text: str, spec: FieldSpec) -> frozenset[int]:
    values: set[int] = set()
    for token in text.split(","):
        match = _TOKEN.match(token)
        if match is None:
            raise CronError(f"{spec.name} field {text!r}: cannot read {token!r}")
        span, step_text = match.groups()
        if span == "*":
            first, last = spec.low, spec.high
        elif "-" in span:
            first, last = (_value(part, spec) for part in span.split("-"))
        else:
            first = _value(span, spec)
            last = spec.high if step_text else first
        step = int(step_text) if step_text else 1
        if step < 1 or first > last:
            raise CronError(f"{spec.name} field {text!r}: {token!r} is an empty range")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(token: str, spec: FieldSpec) -> int:
    if token in spec.names:
        return spec.names.index(token) + spec.names_start
    if not token.isdigit() or not spec.low <= int(token) <= spec.high:
        allowed = f"{spec.low}-{spec.high}" + (f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else "")
        raise CronError(f"{spec.name} {token!r} is out of range ({allowed})")
    return int(token)


# the UTC form --------------------------------------------------------------------------------
@dataclass(frozen=True)
class UtcCron:
    """A 6-field Synthetics/EventBridge cron expression in UTC (``L`` = last day of the month)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?' (the weekday field decides)
    last_day: bool  # day-of-month 'L'
    months: frozenset[int]
    weekdays: frozenset[int] | None  # None: '?'

    @property
    def expression(self) -> str:
        if self.weekdays is not None:
            dom, dow = "?", _compress(self.weekdays, DAY_OF_WEEK, names=True)
        else:
            dom = "L" if self.last_day else _compress(self.days or frozenset(range(1, 32)), DAY_OF_MONTH)
            dow = "?"
        fields = (
            _compress(self.minutes, MINUTE),
            _compress(self.hours, HOUR),
            dom,
            _compress(self.months, MONTH),
            dow,
            "*",
        )
        return f"cron({' '.join(fields)})"

    def runs_on(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        if self.weekdays is not None:
            return (day.isoweekday() % 7) in self.weekdays
        if self.last_day:
            return (day + dt.timedelta(days=1)).day == 1
        return self.days is None or day.day in self.days

    def next_runs(self, after: dt.datetime, count: int) -> list[dt.datetime]:
        start = after.astimezone(dt.UTC)
        day, runs = start.date(), list[dt.datetime]()
        while len(runs) < count:
            if self.runs_on(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
                        if moment > start and len(runs) < count:
                            runs.append(moment)
            day += dt.timedelta(days=1)
        return runs


def _compress(values: frozenset[int], spec: FieldSpec, *, names: bool = False) -> str:
    """``*`` for every value, else a list with runs of three or more written as ranges."""
    full = set(range(spec.low, spec.high + 1)) - ({7} if spec is DAY_OF_WEEK else set())
    if set(values) == full:
        return "*"

    def label(value: int) -> str:
        return spec.names[value - spec.names_start] if names else str(value)

    ordered, parts, index = sorted(values), [], 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end - index >= 2:
            parts.append(f"{label(ordered[index])}-{label(ordered[end])}")
            index = end + 1
        else:
            parts.append(label(ordered[index]))
            index += 1
    return ",".join(parts)


def zone_offsets(zone: ZoneInfo, start: dt.datetime) -> list[dt.timedelta]:
    """The distinct UTC offsets ``zone`` uses from ``start`` over the next two years, sorted."""
    offsets: set[dt.timedelta] = set()
    moment = start.astimezone(dt.UTC)
    for _ in range(_OFFSET_HORIZON_DAYS * 4):
        offset = moment.astimezone(zone).utcoffset()
        assert offset is not None
        offsets.add(offset)
        moment += dt.timedelta(hours=6)
    return sorted(offsets)


def to_utc(cron: LocalCron, zone: ZoneInfo, *, now: dt.datetime) -> UtcCron:
    """The one UTC cron that fires exactly when ``cron`` fires in ``zone``; CronError if none does."""
    offsets = zone_offsets(zone, now)
    if len(offsets) == 1:
        return convert_with_offset(cron, offsets[0])
    raise CronError(_daylight_saving_refusal(cron, zone, offsets))


def _daylight_saving_refusal(cron: LocalCron, zone: ZoneInfo, offsets: list[dt.timedelta]) -> str:
    seasons = []
    for offset in offsets:
        try:
            seasons.append(f"{convert_with_offset(cron, offset).expression} while the zone is UTC{format_offset(offset)}")
        except CronError as exc:
            seasons.append(f"none while the zone is UTC{format_offset(offset)} ({exc})")
    return (
        f"{zone.key} observes daylight saving time (UTC{' and UTC'.join(format_offset(o) for o in offsets)}), "
        f"so no single UTC cron fires at the same local time all year. Either write this schedule in UTC "
        f"(timezone: UTC, accepting that its local time moves by an hour twice a year), or split it into one "
        f"schedule per season: {'; '.join(seasons)}."
    )


def format_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def convert_with_offset(cron: LocalCron, offset: dt.timedelta) -> UtcCron:
    """Move ``cron`` from a zone with this fixed UTC offset to UTC."""
    offset_minutes = int(offset.total_seconds()) // 60
    shifted: dict[int, set[int]] = {}
    for hour, minute in cron.times_of_day:
        day_shift, utc_minute = divmod(hour * 60 + minute - offset_minutes, _MINUTES_PER_DAY)
        shifted.setdefault(day_shift, set()).add(utc_minute)
    utc_times = set().union(*shifted.values())
    minutes = frozenset(moment % 60 for moment in utc_times)
    hours = frozenset(moment // 60 for moment in utc_times)
    if len(minutes) * len(hours) != len(utc_times):
        raise CronError(
            f"the firing times of {cron.text!r} do not form an hours x minutes grid in UTC (offset {format_offset(offset)}); "
            "split it into schedules with one minute value each"
        )
    restricted_days = cron.days_restricted or cron.weekdays_restricted or cron.months_restricted
    if len(shifted) > 1 and restricted_days:
        raise CronError(
            f"some firing times of {cron.text!r} fall on the previous or next day in UTC and some do not; "
            "split it into two schedules, one for the times before local midnight in UTC and one for the rest"
        )
    day_shift = next(iter(shifted)) if restricted_days else 0
    return _shift_days(cron, minutes, hours, day_shift)


def _shift_days(cron: LocalCron, minutes: frozenset[int], hours: frozenset[int], day_shift: int) -> UtcCron:
    if day_shift == 0:
        weekdays = cron.weekdays if cron.weekdays_restricted else None
        days = cron.days if cron.days_restricted else None
        return UtcCron(minutes, hours, days if weekdays is None else None, False, cron.months, weekdays)
    if cron.weekdays_restricted:
        if cron.months_restricted:
            raise CronError(_month_edge(cron, day_shift))
        weekdays = frozenset((day + day_shift) % 7 for day in cron.weekdays)
        return UtcCron(minutes, hours, None, False, cron.months, weekdays)
    if not cron.days_restricted:
        # every day of some months only: the first or last day would fall into a neighbouring month
        raise CronError(_month_edge(cron, day_shift))
    if day_shift > 0:
        if max(cron.days) >= 28:
            raise CronError(
                f"{cron.text!r} runs on day {max(cron.days)}, which is the next day in UTC; that day does not exist in every month, "
                "so no UTC day-of-month matches it; pick a day up to 27 or write the schedule in UTC"
            )
        return UtcCron(minutes, hours, frozenset(day + 1 for day in cron.days), False, cron.months, None)
    if max(cron.days) >= 29:
        # the 29th-31st do not exist in every month, but the UTC day before them does: the UTC cron
        # would also fire in months where the local day never comes (28 February for the 29th)
        raise CronError(
            f"{cron.text!r} runs on day {max(cron.days)}, which is the day before in UTC; that day exists in months "
            "where the local day does not, so no UTC day-of-month matches it; pick a day up to 28 or write the schedule in UTC"
        )
    if 1 not in cron.days:
        return UtcCron(minutes, hours, frozenset(day - 1 for day in cron.days), False, cron.months, None)
    if len(cron.days) > 1:
        raise CronError(
            f"{cron.text!r} runs on the 1st, which is the last day of the previous month in UTC ('L'), and on other days; "
            "a Synthetics cron cannot combine L with other days: make the 1st a schedule of its own"
        )
    months = frozenset((month - 2) % 12 + 1 for month in cron.months)  # the 1st of a month -> L of the month before
    return UtcCron(minutes, hours, None, True, months, None)


def _month_edge(cron: LocalCron, day_shift: int) -> str:
    side = "previous" if day_shift < 0 else "next"
    return (
        f"{cron.text!r} fires on the {side} day in UTC, and with its months restricted some firings would fall into a "
        f"neighbouring month in UTC; write the schedule with '*' for the month, or in UTC"
    )
