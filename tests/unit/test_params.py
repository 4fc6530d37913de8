from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.errors import ParameterError
from chalicelib.templating.parameters import DeclarationError, parse_declaration, resolve_parameters, resolve_relative_date

TODAY = dt.date(2026, 11, 30)


def specs(**declarations: Any) -> dict[str, Any]:
    return {name: parse_declaration(name, raw) for name, raw in declarations.items()}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("today", dt.date(2026, 11, 30)),
        ("yesterday", dt.date(2026, 11, 29)),
        ("today-7d", dt.date(2026, 11, 23)),
        ("today+2w", dt.date(2026, 12, 14)),
        ("month_start", dt.date(2026, 11, 1)),
        ("last_month_start", dt.date(2026, 10, 1)),
        ("last_month_end", dt.date(2026, 10, 31)),
        ("year_start", dt.date(2026, 1, 1)),
        ("yesterday-ish", None),
    ],
)
def test_relative_dates(word: str, expected: dt.date | None) -> None:
    assert resolve_relative_date(word, TODAY) == expected


def test_defaults_and_coercion() -> None:
    declared = specs(
        day={"type": "date", "default": "yesterday"},
        limit={"type": "integer", "default": 10, "min": 1, "max": 100},
        amount={"type": "decimal", "required": False},
        active={"type": "boolean", "default": True},
        since={"type": "datetime", "required": False},
        ids={"type": "list[integer]", "required": False},
    )
    values = resolve_parameters(declared, {"amount": "12.50", "since": "2026-11-01T08:30", "ids": [1, "2"]}, today=TODAY)
    assert values == {
        "day": dt.date(2026, 11, 29),
        "limit": 10,
        "amount": Decimal("12.50"),
        "active": True,
        "since": dt.datetime(2026, 11, 1, 8, 30),
        "ids": [1, 2],
    }


def test_a_date_given_as_midnight_datetime_is_the_same_date() -> None:
    declared = specs(day={"type": "date"})
    assert resolve_parameters(declared, {"day": "2026-11-29T00:00:00"}, today=TODAY) == {"day": dt.date(2026, 11, 29)}


@pytest.mark.parametrize(
    ("supplied", "field", "message"),
    [
        ({}, "params.day", "is required"),
        ({"day": "yesterday-ish"}, "params.day", "must be a date"),
        ({"day": "2026-02-30"}, "params.day", "must be a date"),
        ({"day": "2026-11-29", "extra": 1}, "params.extra", "unknown parameter 'extra'"),
        ({"day": "2026-11-29", "status": "lost"}, "params.status", "must be one of: paid, refunded"),
        ({"day": "2026-11-29", "limit": "ten"}, "params.limit", "must be an integer"),
        ({"day": "2026-11-29", "limit": True}, "params.limit", "must be an integer"),
        ({"day": "2026-11-29", "limit": 1000}, "params.limit", "at most 100"),
        ({"day": "2026-11-29", "ids": list(range(1001))}, "params.ids", "at most 1000 allowed"),
        ({"day": "2026-11-29", "ids": ["x"]}, "params.ids[0]", "must be an integer"),
        ({"day": "2026-11-29", "name": "x" * 21}, "params.name", "longer than 20"),
    ],
)
def test_bad_values_name_the_field(supplied: dict[str, Any], field: str, message: str) -> None:
    declared = specs(
        day={"type": "date"},
        status={"type": "string", "choices": ["paid", "refunded"], "required": False},
        limit={"type": "integer", "max": 100, "required": False},
        ids={"type": "list[integer]", "required": False},
        name={"type": "string", "max_length": 20, "required": False},
    )
    with pytest.raises(ParameterError) as caught:
        resolve_parameters(declared, supplied, today=TODAY)
    assert caught.value.field == field
    assert message in caught.value.message


def test_params_must_be_an_object() -> None:
    with pytest.raises(ParameterError) as caught:
        resolve_parameters({}, ["day"], today=TODAY)
    assert caught.value.field == "params"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "money"}, "unknown type 'money'"),
        ({"type": "list"}, "a list needs an item type"),
        ({"type": "date", "default": "someday"}, "default 'someday' is invalid"),
        ({"type": "integer", "default": "ten"}, "default 'ten' is invalid"),
        ({"type": "date", "colour": "red"}, "unknown key 'colour'"),
        ({"type": "integer", "min": "low"}, "min 'low' is not a valid integer"),
    ],
)
def test_bad_declarations(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        parse_declaration("p", raw)


def test_relative_default_is_valid_in_a_declaration() -> None:
    spec = parse_declaration("day", {"type": "date", "default": "today-7d"})
    assert spec.required is False
    assert spec.describe() == {"name": "day", "type": "date", "required": False, "default": "today-7d"}


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("integer", "١٢٣"),  # Arabic-Indic digits: int() would read 123
        ("integer", "１２３"),  # full-width digits
        ("integer", "1_000"),
        ("integer", "12\u0663"),  # ASCII digits with one Arabic-Indic digit
        ("decimal", "١٢٣"),
        ("decimal", "1_000.5"),
        ("decimal", "NaN"),
        ("date", "２０２６-01-01"),
        ("date", "today-٧d"),
    ],
)
def test_numbers_and_dates_take_ascii_digits_only(type_name: str, value: str) -> None:
    with pytest.raises(ParameterError) as caught:
        resolve_parameters(specs(v={"type": type_name}), {"v": value}, today=TODAY)
    assert caught.value.field == "params.v"


def test_ascii_numbers_in_every_plain_form_are_still_accepted() -> None:
    declared = specs(n={"type": "integer"}, d={"type": "decimal"})
    assert resolve_parameters(declared, {"n": " -42 ", "d": "1.5e3"}, today=TODAY) == {"n": -42, "d": Decimal("1.5e3")}


@pytest.mark.parametrize("name", ["day\n", "day\r\n"])
def test_a_parameter_name_with_a_trailing_newline_is_refused(name: str) -> None:
    with pytest.raises(DeclarationError):
        parse_declaration(name, {"type": "date"})


def test_the_date_error_lists_every_relative_form_the_parser_accepts() -> None:
    with pytest.raises(ParameterError) as caught:
        resolve_parameters(specs(day={"type": "date"}), {"day": "someday"}, today=TODAY)
    message = caught.value.message
    for word in ("today", "yesterday", "tomorrow", "month_start", "last_month_start", "last_month_end", "year_start", "today-7d", "today+2w"):
        assert word in message
        # and every form the message names is one the parser takes
        assert resolve_relative_date(word, TODAY) is not None


@pytest.mark.parametrize("item_type", ["string", "integer", "date"])
def test_the_comma_shorthand_is_one_rule_for_every_list_type(item_type: str) -> None:
    declared = specs(v={"type": f"list[{item_type}]"})
    text = {"string": "high, urgent", "integer": "1, 2", "date": "2026-11-01,yesterday"}[item_type]
    expected = {"string": ["high", "urgent"], "integer": [1, 2], "date": [dt.date(2026, 11, 1), dt.date(2026, 11, 29)]}[item_type]
    assert resolve_parameters(declared, {"v": text}, today=TODAY) == {"v": expected}


RANGE = {"date_from": {"type": "date", "default": "today-7d", "at_most": "date_to"}, "date_to": {"type": "date", "default": "today"}}


def test_a_reversed_range_is_refused_naming_the_first_parameter() -> None:
    with pytest.raises(ParameterError) as caught:
        resolve_parameters(specs(**RANGE), {"date_from": "2026-12-01", "date_to": "yesterday"}, today=TODAY)
    assert caught.value.field == "params.date_from"
    assert caught.value.message == "parameter 'date_from' (2026-12-01) must not be after 'date_to' (2026-11-29)"
    assert specs(**RANGE)["date_from"].describe()["at_most"] == "date_to"  # GET /reports tells clients


def test_an_empty_or_open_range_is_accepted() -> None:
    declared = specs(**{**RANGE, "date_to": {"type": "date", "required": False}})
    assert resolve_parameters(declared, {"date_from": "2026-11-01", "date_to": "2026-11-01"}, today=TODAY)["date_to"] == dt.date(2026, 11, 1)
    assert resolve_parameters(declared, {"date_from": "2026-11-01"}, today=TODAY)["date_to"] is None


def test_at_most_must_name_a_declared_parameter_of_the_same_type() -> None:
    from chalicelib.templating.parameters import check_range

    declared = specs(low={"type": "integer", "at_most": "high"}, high={"type": "date"})
    with pytest.raises(DeclarationError, match="one type among integer, decimal, date, datetime"):
        check_range(declared["low"], declared)
    with pytest.raises(DeclarationError, match="at_most must name another parameter"):
        parse_declaration("low", {"type": "integer", "at_most": "low"})
