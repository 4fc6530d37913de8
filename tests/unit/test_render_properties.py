"""Property tests of the renderer: whatever the values, the SQL text is the template's and values are only bound."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.templating.template import parse_template, render_sheets, render_sql
from tests.strategies import scalars, texts, values

HEADER = """{#---
title: Properties
params:
  v: {type: string}
  items: {type: "list[string]", required: false}
---#}
"""
ROUND_TRIP = parse_template("round_trip", HEADER.replace('  items: {type: "list[string]", required: false}\n', "") + "SELECT {{ v }} AS v")
SEARCH = parse_template(
    "search",
    HEADER
    + "-- sheet: Users\n"
    + "SELECT name FROM users WHERE name LIKE CONCAT('%', {{ v }}, '%') {% if items %}OR city IN ({{ items }}){% endif %} ORDER BY name\n"
    + "-- sheet: Again\n"
    + "SELECT {{ v }} AS first, {{ v }} AS second FROM dual\n",
)
_DRIVER_MARK = re.compile(r"%%|%s")


def placeholders(sql: str) -> int:
    return [mark for mark in _DRIVER_MARK.findall(sql)].count("%s")


def flattened(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


@settings(max_examples=150)
@given(values)
def test_select_value_binds_the_value_and_the_sql_never_changes(value: Any) -> None:
    query = render_sql(ROUND_TRIP, {"v": value})
    count = len(flattened(value))
    assert query.sql == "SELECT " + ", ".join(["%s"] * count) + " AS v"
    assert placeholders(query.sql) == len(query.args) == count
    assert query.args == flattened(value)
    for item in flattened(value):
        if str(item) not in "SELECT %s, AS v":
            assert str(item) not in query.sql


@settings(max_examples=150)
@given(texts, st.lists(scalars, max_size=5))
def test_values_used_several_times_and_in_lists_are_each_bound(value: str, items: list[Any]) -> None:
    users, again = render_sheets(SEARCH, {"v": value, "items": items})
    in_list = f"OR city IN ({', '.join(['%s'] * len(items))})" if items else ""
    assert users.query.sql == f"SELECT name FROM users WHERE name LIKE CONCAT('%%', %s, '%%') {in_list} ORDER BY name"
    assert users.query.args == (value, *items)
    assert again.query.sql == "SELECT %s AS first, %s AS second FROM dual"
    assert again.query.args == (value, value)
    for sheet in (users, again):
        assert placeholders(sheet.query.sql) == len(sheet.query.args)
