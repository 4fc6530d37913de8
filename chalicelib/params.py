"""Declared report parameters: parsing declarations, and validating/coercing request values.

Pure logic, no I/O. A declaration comes from a template's YAML header; a request value comes
from JSON (or a command line, so numbers and booleans are also accepted as strings). Relative
dates (``today``, ``yesterday``, ``today-7d``, ``month_start``...) are resolved against a given
"today" so the caller decides the time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.errors import ParameterError

SCALAR_TYPES = ("string", "integer", "decimal", "date", "datetime", "boolean")
PARAMETER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_RELATIVE_OFFSET = re.compile(r"^today\s*([+-])\s*(\d{1,4})\s*([dw])$")
_LIST_SHORTHAND = re.compile(r"^list\[(\w+)\]$")
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
        for key in ("minimum", "maximum", "min_length", "max_length"):
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
}


def parse_declaration(name: str, raw: Any) -> ParameterSpec:
    """Build a ParameterSpec from one entry of the header's ``params`` mapping."""
    if not PARAMETER_NAME.match(name):
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
    shorthand = _LIST_SHORTHAND.match(type_name)
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
            known = ", ".join(sorted(specs)) or "none"
            raise ParameterError(f"unknown parameter {name!r} (declared: {known})", field=f"params.{name}")
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
    return resolved


def coerce_value(spec: ParameterSpec, value: Any, *, today: dt.date) -> Any:
    if spec.is_list:
        return _coerce_list(spec, value, today)
    coerced = coerce_scalar(spec.type, value, spec.name, today=today)
    _check_bounds(spec, coerced, f"params.{spec.name}")
    return coerced


def _coerce_list(spec: ParameterSpec, value: Any, today: dt.date) -> list[Any]:
    field_name = f"params.{spec.name}"
    if isinstance(value, str) and spec.item_type != "string":
        value = [part.strip() for part in value.split(",") if part.strip()]
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
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,19}", value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def _to_decimal(value: Any, _today: dt.date | None) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    if isinstance(value, str) and len(value) > 40:
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
    day = _to_date(value, today) if not re.search(r"\d[T ]\d", value) else None
    if day is not None:
        return dt.datetime.combine(day, dt.time())
    parsed = _parse_iso_datetime(value)
    if parsed is None or parsed.tzinfo is not None:
        return None
    return parsed


def _parse_iso_datetime(value: str) -> dt.datetime | None:
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?", text):
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


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
    "date": "a date (YYYY-MM-DD, or today, yesterday, today-7d, month_start, last_month_start, last_month_end)",
    "datetime": "a datetime (YYYY-MM-DDTHH:MM[:SS], without time zone) or a relative date",
}


def _looks_relative(value: str) -> bool:
    return resolve_relative_date(value, dt.date(2000, 1, 1)) is not None


def resolve_relative_date(value: str, today: dt.date | None) -> dt.date | None:
    """``today``, ``yesterday``, ``tomorrow``, ``today-7d``, ``today+2w``, ``month_start``,
    ``last_month_start``, ``last_month_end``, ``year_start``; None if not relative."""
    if today is None:
        return None
    word = value.strip().lower()
    month_start = today.replace(day=1)
    last_month_end = month_start - dt.timedelta(days=1)
    named = {
        "today": today,
        "yesterday": today - dt.timedelta(days=1),
        "tomorrow": today + dt.timedelta(days=1),
        "month_start": month_start,
        "last_month_start": last_month_end.replace(day=1),
        "last_month_end": last_month_end,
        "year_start": today.replace(month=1, day=1),
    }
    if word in named:
        return named[word]
    offset = _RELATIVE_OFFSET.match(word)
    if offset is None:
        return None
    sign, amount, unit = offset.groups()
    days = int(amount) * (7 if unit == "w" else 1)
    return today + dt.timedelta(days=days if sign == "+" else -days)


def to_json_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerced parameter values as JSON (dates as ISO strings, decimals as strings)."""
    return {name: _json_safe(value) for name, value in values.items()}
