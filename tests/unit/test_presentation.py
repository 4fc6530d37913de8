"""How values and times read for people: file names, the title row, times with their zone named."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from chalicelib.files.pipeline import export_file_name, title_row_text
from chalicelib.templating.presentation import display_time
from chalicelib.templating.template import parse_template

SEOUL = ZoneInfo("Asia/Seoul")


def test_a_long_file_name_keeps_its_timestamp_and_extension_and_loses_its_middle() -> None:
    values = {"ids": list(range(200)), "note": "x" * 300}
    created = dt.datetime(2026, 11, 30, 0, 5, tzinfo=dt.UTC).astimezone(SEOUL)
    name = export_file_name("Orders by customer", values, created)
    assert len(name) == 150
    assert name.startswith("Orders by customer 0, 1, 2")
    assert name.endswith("… 20261130-0905 KST.xlsx")
    assert " .xlsx" not in name


def test_the_file_name_says_which_zone_its_time_is_in() -> None:
    created = dt.datetime(2026, 11, 30, 0, 5, tzinfo=dt.UTC).astimezone(SEOUL)
    assert export_file_name("Orders", {"day": dt.date(2026, 11, 29)}, created, "csv") == "Orders 2026-11-29 20261130-0905 KST.csv"


def test_the_title_row_shows_lists_as_people_write_them_not_as_a_python_repr() -> None:
    template = parse_template(
        "t", "{#---\ntitle: Tickets\nparams:\n  priorities: {type: 'list[string]'}\n  day: {type: date}\n---#}\nSELECT {{ priorities }}, {{ day }}\n"
    )
    text = title_row_text(template, {"priorities": ["high", "urgent"], "day": dt.date(2026, 11, 29)})
    assert text == "Tickets (priorities: high, urgent; day: 2026-11-29)"


def test_times_for_people_are_in_the_report_zone_with_the_zone_named() -> None:
    moment = dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.UTC)
    assert display_time(moment, SEOUL) == "2026-12-03 09:00 KST"
    assert display_time(moment, ZoneInfo("UTC")) == "2026-12-03 00:00 UTC"
    assert display_time(moment, ZoneInfo("America/Sao_Paulo")) == "2026-12-02 21:00 UTC-03:00"  # a zone without an abbreviation
