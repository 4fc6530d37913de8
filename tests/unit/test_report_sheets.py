"""Several `-- sheet:` queries in one template, and the report-level header options."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.errors import TemplateError
from chalicelib.templating.options import ColumnFormat
from chalicelib.templating.template import parse_template, render_sheets

TWO_SHEETS = """{#---
title: Overview
params:
  day: {type: date, default: yesterday}
  ids: {type: "list[integer]", required: false}
columns:
  Revenue: {format: '#,##0', width: 14}
  'Share': '0.0%'
  Internal: {hidden: true}
freeze: b3
autofilter: false
title_row: true
on_empty: skip
cache_ttl: 6h
slack_channel_secret: excel-export/prod/finance-webhook
---#}
-- a comment before the first sheet is fine
-- sheet: Summary
SELECT COUNT(*) AS `Orders` FROM orders WHERE created_at >= {{ day }}

-- sheet:   Orders of the day
SELECT id FROM orders WHERE created_at >= {{ day }}{% if ids %} AND id IN ({{ ids }}){% endif %}
"""


def test_each_marker_starts_a_sheet_and_all_sheets_share_the_parameters() -> None:
    template = parse_template("overview", TWO_SHEETS)
    assert [(sheet.name, sheet.line) for sheet in template.sheets] == [("Summary", 18), ("Orders of the day", 21)]
    sheets = render_sheets(template, {"day": dt.date(2026, 11, 29), "ids": [7, 8]})
    assert [sheet.name for sheet in sheets] == ["Summary", "Orders of the day"]
    assert sheets[0].query.sql == "SELECT COUNT(*) AS `Orders` FROM orders WHERE created_at >= %s"
    assert sheets[0].query.args == (dt.date(2026, 11, 29),)
    assert sheets[1].query.sql == "SELECT id FROM orders WHERE created_at >= %s AND id IN (%s, %s)"
    assert sheets[1].query.args == (dt.date(2026, 11, 29), 7, 8)
    assert template.variables == {"day", "ids"}


def test_a_template_without_markers_is_one_sheet_named_after_its_title() -> None:
    template = parse_template("plain", "{#---\ntitle: Plain report\n---#}\nSELECT 1")
    assert [sheet.name for sheet in template.sheets] == ["Plain report"]
    assert render_sheets(template, {})[0].query.sql == "SELECT 1"


def test_header_options_are_parsed() -> None:
    options = parse_template("overview", TWO_SHEETS).options
    assert options.columns == {
        "Revenue": ColumnFormat(number_format="#,##0", width=14),
        "Share": ColumnFormat(number_format="0.0%"),
        "Internal": ColumnFormat(hidden=True),
    }
    assert (options.freeze, options.autofilter, options.title_row) == ("B3", False, True)
    assert (options.on_empty, options.cache_ttl, options.slack_channel_secret) == ("skip", 6 * 3600, "excel-export/prod/finance-webhook")


def test_defaults_keep_the_previous_behaviour() -> None:
    options = parse_template("plain", "{#---\ntitle: Plain\n---#}\nSELECT 1").options
    assert (options.freeze, options.autofilter, options.title_row, options.on_empty, options.cache_ttl) == (True, True, False, "send", None)


def test_errors_inside_a_later_sheet_name_the_files_line() -> None:
    source = TWO_SHEETS.replace("{% endif %}", "")
    with pytest.raises(TemplateError) as caught:
        parse_template("overview", source)
    assert caught.value.message.startswith("overview.sql:22: Jinja syntax error")


def test_a_marker_without_a_query_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"overview.sql:4: sheet 'Empty' has no query"):
        parse_template("overview", "{#---\ntitle: x\n---#}\n-- sheet: Empty\n-- sheet: Full\nSELECT 1")


@pytest.mark.parametrize("value", ["forever", -1, "32d", True])
def test_cache_ttl_must_be_a_duration(value: object) -> None:
    with pytest.raises(TemplateError, match=r"overview.sql:3: cache_ttl must be seconds or a duration"):
        parse_template("overview", f"{{#---\ntitle: x\ncache_ttl: {str(value).lower()}\n---#}}\nSELECT 1")
