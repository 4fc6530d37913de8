"""Declared report parameters: parsing declarations, and validating/coercing request values.

Pure logic, no I/O. A declaration comes from a template's YAML header; a request value comes
from JSON (or a command line, so numbers and booleans are also accepted as strings). Relative
dates (``today``, ``yesterday``, ``today-7d``, ``month_start``...) are resolved against a given
"today" so the caller decides the time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.errors import ParameterError

SCALAR_TYPES = ("string", "integer", "decimal", "date", "datetime", "boolean")
# Patterns are used with fullmatch: "$" would also accept a trailing newline. [0-9], not \d: \d
# matches every Unicode digit ("١٢٣", full-width), which int() and Decimal() would accept too.
PARAMETER_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_RELATIVE_OFFSET = re.compile(r"today\s*([+-])\s*([0-9]{1,4})\s*([dw])")
_LIST_SHORTHAND = re.compile(r"list\[([a-z]+)\]")
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
# Plain or exponent notation in ASCII digits only: Decimal() alone also takes "1_000", "١٢٣", "NaN".
_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_MAX_LIST_ITEMS = 1000
_MAX_STRING_LENGTH = 1000
# More values than any report declares is a mistake or an attack; refused before each is looked at.
MAX_PARAMETERS = 50
# BIGINT's range: larger integers would reach the server as DECIMAL or DOUBLE and compare oddly.
_INTEGER_RANGE = (-(2**63), 2**63 - 1)
# DECIMAL(65, 30) is the widest MySQL column; a wider number cannot equal anything stored.
_DECIMAL_DIGITS = 65


class DeclarationError(ValueError):
    """A parameter declaration in a template header is malformed (the message names the key)."""


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    item_type: str | None = None
    required: bool = True
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: Any = None
    maximum: Any = None
    min_length: int | None = None
    max_length: int | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    at_most: str | None = None  # another parameter this one must not exceed (a range: date_from <= date_to)

    @property
    def is_list(self) -> bool:
        return self.type == "list"

    @property
    def type_label(self) -> str:
        return f"list[{self.item_type}]" if self.is_list else self.type

    def describe(self) -> dict[str, Any]:
        """The declaration as shown by ``GET /reports``: JSON-safe values only."""
        info: dict[str, Any] = {"name": self.name, "type": self.type_label, "required": self.required}
        if self.default is not None:
            info["default"] = _json_safe(self.default)
        if self.choices is not None:
            info["choices"] = [_json_safe(choice) for choice in self.choices]
        for key in ("minimum", "maximum", "min_length", "max_length", "at_most"):
            if getattr(self, key) is not None:
                info[key] = _json_safe(getattr(self, key))
        if self.description:
            info["description"] = self.description
        return info


def _json_safe(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


_KNOWN_KEYS = {
    "type",
    "of",
    "required",
    "default",
    "choices",
    "min",
    "max",
    "min_length",
    "max_length",
    "description",
    "at_most",
}


def parse_declaration(name: str, raw: Any) -> ParameterSpec:
    """Build a ParameterSpec from one entry of the header's ``params`` mapping."""
    if not PARAMETER_NAME.fullmatch(name):
        raise DeclarationError(f"parameter name {name!r} must match [a-z_][a-z0-9_]*")
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise DeclarationError(f"parameter {name!r}: declaration must be a mapping such as {{type: date}}")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise DeclarationError(f"parameter {name!r}: unknown key {unknown[0]!r}")
    type_name, item_type = _parse_type(name, raw)
    spec = ParameterSpec(
        name=name,
        type=type_name,
        item_type=item_type,
        required=_parse_required(name, raw),
        choices=tuple(raw["choices"]) if raw.get("choices") is not None else None,
        min_length=_optional_int(name, raw, "min_length"),
        max_length=_optional_int(name, raw, "max_length"),
        description=str(raw.get("description", "")),
        at_most=_parse_at_most(name, raw.get("at_most")),
    )
    scalar = item_type or type_name
    bounds = {key: _coerce_declared(spec, scalar, raw.get(key), key) for key in ("min", "max")}
    choices = None
    if spec.choices is not None:
        choices = tuple(_coerce_declared(spec, scalar, choice, "choices") for choice in spec.choices)
    spec = ParameterSpec(**{**spec.__dict__, "minimum": bounds["min"], "maximum": bounds["max"], "choices": choices})
    if raw.get("default") is not None:
        default = raw["default"]
        _check_default(spec, default)
        spec = ParameterSpec(**{**spec.__dict__, "default": default})
    return spec


def _parse_type(name: str, raw: Mapping[str, Any]) -> tuple[str, str | None]:
    type_name = str(raw.get("type", ""))
    shorthand = _LIST_SHORTHAND.fullmatch(type_name)
    if shorthand:
        type_name, item_type = "list", shorthand.group(1)
    else:
        item_type = str(raw["of"]) if raw.get("of") is not None else None
    if type_name == "list":
        if item_type not in SCALAR_TYPES:
            raise DeclarationError(f"parameter {name!r}: a list needs an item type, one of {', '.join(SCALAR_TYPES)}")
        return type_name, item_type
    if type_name not in SCALAR_TYPES:
        raise DeclarationError(f"parameter {name!r}: unknown type {type_name!r}; use one of {', '.join(SCALAR_TYPES)} or list[TYPE]")
    return type_name, None


def _parse_at_most(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not PARAMETER_NAME.fullmatch(value) or value == name:
        raise DeclarationError(f"parameter {name!r}: at_most must name another parameter, e.g. at_most: date_to")
    return value


def check_range(spec: ParameterSpec, specs: Mapping[str, ParameterSpec]) -> None:
    """A declaration's ``at_most`` names a declared parameter of the same ordered scalar type."""
    if spec.at_most is None:
        return
    other = specs.get(spec.at_most)
    if other is None:
        raise DeclarationError(f"parameter {spec.name!r}: at_most names {spec.at_most!r}, which is not declared")
    if spec.is_list or other.is_list or spec.type != other.type or spec.type in ("string", "boolean"):
        message = f"parameter {spec.name!r}: at_most needs two parameters of one type among integer, decimal, date, datetime"
        raise DeclarationError(f"{message} ({spec.type_label} and {other.type_label})")


def _parse_required(name: str, raw: Mapping[str, Any]) -> bool:
    required = raw.get("required", raw.get("default") is None)
    if not isinstance(required, bool):
        raise DeclarationError(f"parameter {name!r}: required must be true or false")
    return required


def _optional_int(name: str, raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DeclarationError(f"parameter {name!r}: {key} must be a non-negative integer")
    return value


def _coerce_declared(spec: ParameterSpec, scalar: str, value: Any, key: str) -> Any:
    if value is None:
        return None
    try:
        return coerce_scalar(scalar, value, spec.name, today=None)
    except ParameterError as exc:
        raise DeclarationError(f"parameter {spec.name!r}: {key} {value!r} is not a valid {scalar}") from exc


def _check_default(spec: ParameterSpec, default: Any) -> None:
    try:
        coerce_value(spec, default, today=dt.date(2000, 1, 1))
    except ParameterError as exc:
        raise DeclarationError(f"parameter {spec.name!r}: default {default!r} is invalid: {exc.message}") from exc


def resolve_parameters(specs: Mapping[str, ParameterSpec], supplied: Any, *, today: dt.date) -> dict[str, Any]:
    """Validate a request's ``params`` against the declarations; return every parameter coerced."""
    if supplied is None:
        supplied = {}
    if not isinstance(supplied, Mapping):
        raise ParameterError("params must be a JSON object", field="params")
    if len(supplied) > MAX_PARAMETERS:
        message = f"params has {len(supplied)} entries; at most {MAX_PARAMETERS} are accepted (the report declares {len(specs)})"
        raise ParameterError(message, field="params", code="too_many_parameters")
    for name in supplied:
        if name not in specs:
            raise _unknown_parameter(name, specs)
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        value = supplied.get(name)
        if value is None:
            value = spec.default
        if value is None:
            if spec.required:
                raise ParameterError(f"parameter {name!r} is required", field=f"params.{name}")
            resolved[name] = None
            continue
        resolved[name] = coerce_value(spec, value, today=today)
    _check_order(specs, resolved)
    return resolved


def _check_order(specs: Mapping[str, ParameterSpec], resolved: Mapping[str, Any]) -> None:
    """A reversed range (``date_from`` after ``date_to``) would silently match nothing: refuse it."""
    for name, spec in specs.items():
        low, high = resolved.get(name), resolved.get(spec.at_most) if spec.at_most else None
        if low is not None and high is not None and low > high:
            message = f"parameter {name!r} ({_json_safe(low)}) must not be after {spec.at_most!r} ({_json_safe(high)})"
            raise ParameterError(message, field=f"params.{name}")


def _unknown_parameter(name: str, specs: Mapping[str, ParameterSpec]) -> ParameterError:
    known = ", ".join(sorted(specs)) or "none"
    return ParameterError(f"unknown parameter {name!r} (declared: {known})", field=f"params.{name}")


def parameter_problems(specs: Mapping[str, ParameterSpec], supplied: Mapping[str, Any], *, today: dt.date) -> list[ParameterError]:
    """Every independent mistake in the supplied values, each naming its field (``resolve_parameters``
    stops at the first); what depends on all values (missing ones, ranges) is checked once the rest pass."""
    problems = []
    for name, value in supplied.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(_unknown_parameter(name, specs))
        elif value is not None:
            try:
                coerce_value(spec, value, today=today)
            except ParameterError as exc:
                problems.append(exc)
    if not problems:
        try:
            resolve_parameters(specs, supplied, today=today)
        except ParameterError as exc:
            problems.append(exc)
    return problems


def coerce_value(spec: ParameterSpec, value: Any, *, today: dt.date) -> Any:
    if spec.is_list:
        return _coerce_list(spec, value, today)
    coerced = coerce_scalar(spec.type, value, spec.name, today=today)
    _check_bounds(spec, coerced, f"params.{spec.name}")
    return coerced


def split_list_shorthand(value: str) -> list[str]:
    """The one shorthand for a list, whatever its item type, in JSON, on the command line and in a
    schedule: ``"a, b"`` is ``["a", "b"]``. An item holding a comma needs a real list."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _coerce_list(spec: ParameterSpec, value: Any, today: dt.date) -> list[Any]:
    field_name = f"params.{spec.name}"
    if isinstance(value, str):
        value = split_list_shorthand(value)
    if not isinstance(value, list):
        raise ParameterError(f"parameter {spec.name!r} must be a list of {spec.item_type}", field=field_name)
    limit = spec.max_length if spec.max_length is not None else _MAX_LIST_ITEMS
    if len(value) > limit:
        raise ParameterError(f"parameter {spec.name!r} has {len(value)} items; at most {limit} allowed", field=field_name)
    minimum = spec.min_length if spec.min_length is not None else 1
    if len(value) < minimum:
        raise ParameterError(f"parameter {spec.name!r} needs at least {minimum} item(s)", field=field_name)
    assert spec.item_type is not None
    items = []
    for index, item in enumerate(value):
        coerced = coerce_scalar(spec.item_type, item, f"{spec.name}[{index}]", today=today)
        _check_bounds(spec, coerced, f"{field_name}[{index}]", check_length=False)
        items.append(coerced)
    return items


def _check_bounds(spec: ParameterSpec, value: Any, field_name: str, *, check_length: bool = True) -> None:
    label = field_name.removeprefix("params.")
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(str(_json_safe(choice)) for choice in spec.choices)
        raise ParameterError(f"parameter {label!r} must be one of: {allowed}", field=field_name)
    if spec.minimum is not None and value < spec.minimum:
        raise ParameterError(f"parameter {label!r} must be at least {_json_safe(spec.minimum)}", field=field_name)
    if spec.maximum is not None and value > spec.maximum:
        raise ParameterError(f"parameter {label!r} must be at most {_json_safe(spec.maximum)}", field=field_name)
    if isinstance(value, str) and check_length:
        if spec.max_length is not None and len(value) > spec.max_length:
            raise ParameterError(f"parameter {label!r} is longer than {spec.max_length} characters", field=field_name)
        if spec.min_length is not None and len(value) < spec.min_length:
            raise ParameterError(f"parameter {label!r} is shorter than {spec.min_length} characters", field=field_name)


def coerce_scalar(type_name: str, value: Any, name: str, *, today: dt.date | None) -> Any:
    """Coerce one JSON (or command-line) value to the declared scalar type."""
    field_name = name if name.startswith("params.") else f"params.{name}"
    coercer = _COERCERS[type_name]
    result = coercer(value, today)
    if result is None:
        raise ParameterError(
            f"parameter {name!r} must be {_TYPE_DESCRIPTIONS[type_name]}, got {_preview(value)}",
            field=field_name,
        )
    return result


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_string(value: Any, _today: dt.date | None) -> str | None:
    if not isinstance(value, str) or len(value) > _MAX_STRING_LENGTH or "\x00" in value or not encodable(value):
        return None
    return value


def encodable(text: str) -> bool:
    """False for a string holding a lone surrogate (JSON allows ``"\\ud800"``; UTF-8 cannot hold it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _to_integer(value: Any, _today: dt.date | None) -> int | None:
    result = _integer(value)
    if result is None or not _INTEGER_RANGE[0] <= result <= _INTEGER_RANGE[1]:
        return None
    return result


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ASCII_INTEGER.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def _to_decimal(value: Any, _today: dt.date | None) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    if isinstance(value, str) and (len(value) > 40 or not _ASCII_DECIMAL.fullmatch(value.strip())):
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not result.is_finite() or len(result.as_tuple().digits) > _DECIMAL_DIGITS or abs(result.adjusted()) > _DECIMAL_DIGITS:
        return None
    return result


def _to_boolean(value: Any, _today: dt.date | None) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _to_date(value: Any, today: dt.date | None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        return None
    relative = resolve_relative_date(value, today) if today is not None else None
    if relative is not None:
        return relative
    if today is None and _looks_relative(value):
        return dt.date(2000, 1, 1)  # a valid relative default; its value depends on when it runs
    parsed = _parse_iso_datetime(value)
    if parsed is not None and parsed.time() == dt.time() and parsed.tzinfo is None:
        return parsed.date()
    return None


def _to_datetime(value: Any, today: dt.date | None) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, str) or len(value) > 40:
        return None
    day = _to_date(value, today) if not re.search(r"[0-9][T ][0-9]", value) else None
    if day is not None:
        return dt.datetime.combine(day, dt.time())
    parsed = _parse_iso_datetime(value)
    if parsed is None or parsed.tzinfo is not None:
        return None
    return parsed


def _parse_iso_datetime(value: str) -> dt.datetime | None:
    text = value.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?", text):
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _last_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


# The grammar of relative dates: these words, and today+Nd / today-Nd / today+Nw / today-Nw
# (_RELATIVE_OFFSET). Messages and docs are derived from it, so they cannot list fewer forms.
_NAMED_DATES: dict[str, Callable[[dt.date], dt.date]] = {
    "today": lambda today: today,
    "yesterday": lambda today: today - dt.timedelta(days=1),
    "tomorrow": lambda today: today + dt.timedelta(days=1),
    "month_start": lambda today: today.replace(day=1),
    "last_month_start": lambda today: _last_month_end(today).replace(day=1),
    "last_month_end": _last_month_end,
    "year_start": lambda today: today.replace(month=1, day=1),
}
_OFFSET_EXAMPLES = ("today-7d", "today+2w")


def relative_date_forms() -> str:
    """Every relative form the parser accepts, for messages: the named words and the offsets."""
    return ", ".join(_NAMED_DATES) + ", or today+/-N days or weeks (" + ", ".join(_OFFSET_EXAMPLES) + ")"


_COERCERS = {
    "string": _to_string,
    "integer": _to_integer,
    "decimal": _to_decimal,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
}

_TYPE_DESCRIPTIONS = {
    "string": f"a string of at most {_MAX_STRING_LENGTH} characters",
    "integer": f"an integer from {_INTEGER_RANGE[0]} to {_INTEGER_RANGE[1]}",
    "decimal": f"a decimal number of at most {_DECIMAL_DIGITS} digits",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD, or " + relative_date_forms() + ")",
    "datetime": "a datetime (YYYY-MM-DDTHH:MM[:SS], without time zone) or a relative date",
}


def _looks_relative(value: str) -> bool:
    return resolve_relative_date(value, dt.date(2000, 1, 1)) is not None


def resolve_relative_date(value: str, today: dt.date | None) -> dt.date | None:
    """A relative date (see ``_NAMED_DATES`` and ``_RELATIVE_OFFSET``) as seen on ``today``; None if not relative."""
    if today is None:
        return None
    word = value.strip().lower()
    if word in _NAMED_DATES:
        return _NAMED_DATES[word](today)
    offset = _RELATIVE_OFFSET.fullmatch(word)
    if offset is None:
        return None
    sign, amount, unit = offset.groups()
    days = int(amount) * (7 if unit == "w" else 1)
    return today + dt.timedelta(days=days if sign == "+" else -days)


def to_json_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerced parameter values as JSON (dates as ISO strings, decimals as strings)."""
    return {name: _json_safe(value) for name, value in values.items()}


def parse_param_pairs(pairs: Sequence[str], specs: Mapping[str, ParameterSpec]) -> dict[str, Any]:
    """``name=value`` pairs (the command line's ``-p``, Slack's ``/export``); a list parameter takes
    repeated pairs or comma-separated values. Values stay text: ``resolve_parameters`` coerces them.

    A list's values are passed on as one comma-separated text: ``resolve_parameters`` splits it by the
    same rule as a JSON request's ``"a,b"`` (``split_list_shorthand``), so pairs have no rule of their own.
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"{pair!r} is not NAME=VALUE", field="params")
        spec = specs.get(name)
        if spec is not None and spec.is_list:
            values[name] = f"{values[name]},{value}" if name in values else value
        elif name in values:
            raise ParameterError(f"{name!r} is given twice", field=f"params.{name}")
        else:
            values[name] = value
    return values
