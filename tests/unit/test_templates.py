from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.errors import BadRequestError, TemplateError
from chalicelib.templating.template import parse_template, render_sql, validate_report_name

HEADER = """{#---
title: Orders by day
params:
  day: {type: date, default: yesterday}
  status: {type: string, required: false}
  ids: {type: "list[integer]", required: false}
---#}
"""


def template(body: str, header: str = HEADER) -> object:
    return parse_template("orders", header + body)


def test_values_become_placeholders_in_order() -> None:
    parsed = parse_template(
        "orders",
        HEADER + "SELECT {{ 'x' }} FROM o WHERE d = {{ day }}{% if status %} AND s = {{ status }}{% endif %} AND id IN ({{ ids }})",
    )
    query = render_sql(parsed, {"day": dt.date(2026, 11, 29), "status": "paid", "ids": [1, 2, 3]})
    assert query.sql == "SELECT %s FROM o WHERE d = %s AND s = %s AND id IN (%s, %s, %s)"
    assert query.args == ("x", dt.date(2026, 11, 29), "paid", 1, 2, 3)


@pytest.mark.parametrize("value", ["x' OR '1'='1", "'; DROP TABLE orders; --", "%s %% {{ day }}", "\\'", "{% raw %}"])
def test_hostile_values_never_reach_the_sql_text(value: str) -> None:
    parsed = parse_template("orders", HEADER + "SELECT * FROM o WHERE s = {{ status }} AND d = {{ day }}")
    query = render_sql(parsed, {"day": dt.date(2026, 11, 29), "status": value, "ids": None})
    assert query.sql == "SELECT * FROM o WHERE s = %s AND d = %s"
    assert query.args[0] == value


def test_literal_percent_in_template_text_is_escaped_for_the_driver() -> None:
    parsed = parse_template("orders", HEADER + "SELECT * FROM o WHERE name LIKE 'a%' AND d = {{ day }}")
    assert render_sql(parsed, {"day": dt.date(2026, 1, 1), "status": None, "ids": None}).sql.startswith("SELECT * FROM o WHERE name LIKE 'a%%'")


def test_empty_list_matches_nothing_instead_of_breaking_the_syntax() -> None:
    parsed = parse_template("orders", HEADER + "SELECT 1 FROM o WHERE id IN ({{ ids }}) AND d = {{ day }}")
    query = render_sql(parsed, {"day": dt.date(2026, 1, 1), "status": None, "ids": []})
    assert query.sql == "SELECT 1 FROM o WHERE id IN (%s) AND d = %s"
    assert query.args == (None, dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("SELECT 1", "must start with a {#--- YAML header", 1),
        ("{#---\ntitle: [unclosed\n---#}\nSELECT 1", "invalid YAML header", 2),
        (HEADER + "SELECT {{ nope }} AND {{ day }}", "variable 'nope' is used but not declared", 8),
        (HEADER + "SELECT 1\nFROM t WHERE {% if day %}", "Jinja syntax error", 9),
        (HEADER + "SELECT {{ status | safe }}", "filter 'safe' is not allowed", 8),
        (HEADER + "{% include 'other.sql' %}", "include/import/extends are not allowed", 8),
        ("{#---\nparams:\n  day: {type: when}\n---#}\nSELECT {{ day }}", "unknown type 'when'", 3),
    ],
)
def test_template_errors_name_file_and_line(source: str, message: str, line: int) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template("orders", source)
    assert message in caught.value.message
    assert caught.value.message.startswith(f"orders.sql:{line}: ")


def test_sandbox_blocks_python_internals() -> None:
    parsed = parse_template("orders", HEADER + "SELECT {{ day.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="rendering failed"):
        render_sql(parsed, {"day": dt.date(2026, 1, 1), "status": None, "ids": None})


@pytest.mark.parametrize("name", ["../secret", "a/b", "Orders", "", "x" * 65, "a.sql", "a b"])
def test_report_names_are_restricted(name: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        validate_report_name(name)
    assert caught.value.field == "report"


def test_describe_lists_parameters() -> None:
    parsed = parse_template("orders", HEADER + "SELECT {{ day }}, {{ status }}, {{ ids }}")
    described = parsed.describe()
    assert described["title"] == "Orders by day"
    assert [param["name"] for param in described["params"]] == ["day", "status", "ids"]
    assert described["params"][2]["type"] == "list[integer]"


def test_renders_running_at_once_each_bind_their_own_values() -> None:
    # The sandbox and each query's compiled form are shared by every render of the process (built
    # once); the values bound must still be each render's own. Both renders meet at the barrier
    # while binding their first value, so each binds the rest with the other one under way.
    barrier = threading.Barrier(2, timeout=5)

    class Meets:
        def __init__(self, name: str) -> None:
            self.name = name

        def __str__(self) -> str:
            barrier.wait()
            return self.name

    parsed = parse_template("orders", HEADER + "SELECT 1 FROM o WHERE s = {{ status }} AND d = {{ day }} AND id IN ({{ ids }})")
    values = {name: {"day": dt.date(2026, 1, number), "status": Meets(name), "ids": [number]} for number, name in ((1, "a"), (2, "b"))}
    with ThreadPoolExecutor(max_workers=2) as pool:
        queries = dict(zip(values, pool.map(lambda name: render_sql(parsed, values[name]), values), strict=True))
    assert queries["a"].args == ("a", dt.date(2026, 1, 1), 1)
    assert queries["b"].args == ("b", dt.date(2026, 1, 2), 2)


def test_an_edited_template_is_parsed_anew() -> None:
    # Parsed templates are kept per text: the same text is parsed once, an edited one again.
    first = parse_template("orders", HEADER + "SELECT 1 FROM o WHERE d = {{ day }}")
    assert parse_template("orders", HEADER + "SELECT 1 FROM o WHERE d = {{ day }}") is first
    edited = parse_template("orders", HEADER.replace("Orders by day", "Orders per day") + "SELECT 1 FROM o WHERE d = {{ day }}")
    assert edited.title == "Orders per day"
    with pytest.raises(TemplateError, match="not declared"):
        parse_template("orders", HEADER + "SELECT 1 FROM o WHERE d = {{ dya }}")
