"""Local cron -> UTC Synthetics cron: the examples people write, the refusals, and a property check."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.cron import CronError, parse_cron, to_utc

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def utc(cron: str, zone: str) -> str:
    return to_utc(parse_cron(cron), ZoneInfo(zone), now=NOW).expression


def refusal(cron: str, zone: str) -> str:
    with pytest.raises(CronError) as caught:
        to_utc(parse_cron(cron), ZoneInfo(zone), now=NOW)
    return str(caught.value)


def test_seoul_nine_every_day_is_midnight_utc() -> None:
    assert utc("0 9 * * *", "Asia/Seoul") == "cron(0 0 * * ? *)"


def test_seoul_eight_on_weekdays_is_the_previous_day_in_utc() -> None:
    assert utc("0 8 * * MON-FRI", "Asia/Seoul") == "cron(0 23 ? * SUN-THU *)"


def test_monthly_first_at_seven_in_seoul_is_the_last_day_of_the_previous_month_in_utc() -> None:
    assert utc("0 7 1 * *", "Asia/Seoul") == "cron(0 22 L * ? *)"


def test_monthly_first_fires_at_the_same_instants_in_both_forms_across_february_and_a_leap_year() -> None:
    local = parse_cron("0 7 1 * *")
    converted = to_utc(local, ZoneInfo("Asia/Seoul"), now=NOW)
    start = dt.datetime(2027, 10, 15, tzinfo=dt.UTC)
    expected = [moment.astimezone(dt.UTC) for moment in local.next_runs(ZoneInfo("Asia/Seoul"), start, 24)]
    assert converted.next_runs(start, 24) == expected
    assert dt.datetime(2028, 2, 29, 22, 0, tzinfo=dt.UTC) in expected  # 1 March 2028, 07:00 in Seoul


def test_the_first_in_some_months_moves_to_the_last_day_of_the_month_before() -> None:
    assert utc("0 7 1 JAN,JUL *", "Asia/Seoul") == "cron(0 22 L 6,12 ? *)"


def test_the_first_with_other_days_is_refused_because_l_cannot_join_a_list() -> None:
    assert "cannot combine L with other days" in refusal("0 7 1,15 * *", "Asia/Seoul")


def test_other_days_of_the_month_move_back_one_day() -> None:
    assert utc("0 7 10,20 * *", "Asia/Seoul") == "cron(0 22 9,19 * ? *)"


def test_late_days_that_do_not_exist_in_every_month_are_refused() -> None:
    # local 29th -> UTC 28th would also fire on 28 February, when no local 29th comes (found by the property test)
    assert "that day exists in months where the local day does not" in refusal("0 0 2,29 * *", "Asia/Seoul")


def test_a_zone_behind_utc_moves_evening_runs_to_the_next_day() -> None:
    assert utc("0 16 * * MON-FRI", "Pacific/Honolulu") == "cron(0 2 ? * TUE-SAT *)"
    assert utc("0 16 5 * *", "Pacific/Honolulu") == "cron(0 2 6 * ? *)"
    assert "does not exist in every month" in refusal("0 16 28 * *", "Pacific/Honolulu")


def test_half_hour_zones_and_utc_itself() -> None:
    assert utc("30 9 * * *", "Asia/Kolkata") == "cron(0 4 * * ? *)"
    assert utc("15 6 * * SAT,SUN", "UTC") == "cron(15 6 ? * SUN,SAT *)"


def test_several_hours_that_straddle_utc_midnight_on_restricted_days_are_refused() -> None:
    assert utc("0 8,10 * * *", "Asia/Seoul") == "cron(0 1,23 * * ? *)"  # every day: the day does not matter
    assert "split it into two schedules" in refusal("0 8,10 * * MON", "Asia/Seoul")


def test_months_with_a_day_shift_are_refused() -> None:
    assert "neighbouring month" in refusal("0 8 * JAN *", "Asia/Seoul")


def test_new_york_is_refused_with_the_two_expressions_and_the_utc_alternative() -> None:
    message = refusal("0 9 * * MON-FRI", "America/New_York")
    assert "America/New_York observes daylight saving time (UTC-05:00 and UTC-04:00)" in message
    assert "cron(0 14 ? * MON-FRI *) while the zone is UTC-05:00" in message
    assert "cron(0 13 ? * MON-FRI *) while the zone is UTC-04:00" in message
    assert "timezone: UTC" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 9 * *", "has 4 fields; write 5"),
        ("0 9 * * * *", "has 6 fields"),
        ("0 25 * * *", "hour '25' is out of range (0-23)"),
        ("0 9 1 * MON", "sets both day-of-month and day-of-week"),
        ("0 9 * FOO *", "month 'FOO' is out of range"),
        ("0 9 5-1 * *", "is an empty range"),
    ],
)
def test_malformed_crons_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(text)


def test_names_numbers_and_sunday_as_seven_mean_the_same() -> None:
    assert parse_cron("0 9 * * 1-5").weekdays == parse_cron("0 9 * * mon-fri").weekdays
    assert parse_cron("0 9 * * 7").weekdays == parse_cron("0 9 * * SUN").weekdays == frozenset({0})


FIXED_ZONES = ["Asia/Seoul", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Honolulu", "UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Tokyo"]
_crons = st.builds(
    lambda minutes, hours, days, weekdays, months: (
        f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} {days or '*'} {months or '*'} {weekdays or '*'}"
    ),
    st.sets(st.sampled_from([0, 15, 30, 45]), min_size=1, max_size=2),
    st.sets(st.integers(0, 23), min_size=1, max_size=3),
    st.one_of(st.none(), st.sets(st.integers(1, 31), min_size=1, max_size=3).map(lambda s: ",".join(map(str, sorted(s))))),
    st.just(None),
    st.one_of(st.none(), st.sampled_from(["JAN", "2,8", "3-5"])),
)
_weekday_crons = st.builds(
    lambda minute, hour, weekdays: f"{minute} {hour} * * {','.join(sorted(weekdays))}",
    st.sampled_from([0, 30]),
    st.integers(0, 23),
    st.sets(st.sampled_from(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]), min_size=1, max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(_crons, _weekday_crons), st.sampled_from(FIXED_ZONES), st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2030, 12, 1)))
def test_a_converted_cron_fires_exactly_when_the_local_one_does(text: str, zone_name: str, start: dt.datetime) -> None:
    """Either an explained refusal, or the same instants for the next 30 firings."""
    local, zone = parse_cron(text), ZoneInfo(zone_name)
    try:
        converted = to_utc(local, zone, now=NOW)
    except CronError as exc:
        # Only several times of day, or restricted days of the month or months, can be
        # inexpressible; one time of day on every day or on some weekdays always converts.
        assert len(local.times_of_day) > 1 or local.days_restricted or local.months_restricted, f"unexpected refusal: {exc}"
        return
    begin = start.replace(tzinfo=dt.UTC)
    expected = [moment.astimezone(dt.UTC) for moment in local.next_runs(zone, begin, 30)]
    assert converted.next_runs(begin, len(expected)) == expected
