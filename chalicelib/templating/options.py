"""Report-level options from a template's YAML header: sheet layout, empty results, caching, Slack routing.

Pure parsing and validation, no I/O. Each problem raises OptionError naming the header key (and
the column, for column formats) so the template parser can point at the right line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ON_EMPTY_CHOICES = ("send", "skip", "fail")
OPTION_KEYS = (
    "columns",
    "freeze",
    "autofilter",
    "title_row",
    "on_empty",
    "cache_ttl",
    "slack_channel_secret",
    "format",
    "slack_users",
    "slack_channels",
)
FORMAT_CHOICES = ("xlsx", "csv", "csv.gz")
_CELL = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")  # patterns here are used with fullmatch
_DURATION = re.compile(r"([0-9]{1,6})\s*([smhd])")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Secrets Manager names: letters, digits and /_+=.@- (the service's own secrets look like excel-export/<stage>/...).
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
# Slack user ids (U..., W... for Enterprise Grid) and conversation ids (C..., G..., D...).
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")
_COLUMN_KEYS = {"format", "width", "hidden"}
_MAX_WIDTH = 255  # Excel's column width limit, in characters
_MAX_CACHE_TTL = 31 * 86400


class OptionError(ValueError):
    """A header option is malformed; ``key`` is the header key, ``column`` the column it is about."""

    def __init__(self, message: str, *, key: str, column: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.column = column


@dataclass(frozen=True)
class ColumnFormat:
    """A report author's presentation of one result column (by name), over the type's defaults."""

    number_format: str | None = None
    width: float | None = None
    hidden: bool = False


@dataclass(frozen=True)
class ReportOptions:
    columns: Mapping[str, ColumnFormat] = field(default_factory=dict)
    freeze: bool | str = True  # True: the rows above the data; False: nothing; "C3": Excel's own cell semantics
    autofilter: bool = True
    title_row: bool | str = False  # True: the report title and its parameters; a string: that text
    on_empty: str = "send"
    cache_ttl: int | None = None  # seconds an identical export may be reused (read by the cache)
    slack_channel_secret: str | None = None  # a secret holding another webhook URL, for another channel
    format: str | None = None  # the file format when a request names none (chalicelib/files/formats.py)
    # Who may ask from Slack: unset (both empty) means everyone in the workspace (chalicelib/exports/slack_commands.py).
    slack_users: tuple[str, ...] = ()
    slack_channels: tuple[str, ...] = ()

    def title_text(self, default: str) -> str | None:
        """The title row's text, given the text ``title_row: true`` stands for; None without a title row."""
        if isinstance(self.title_row, str):
            return self.title_row
        return default if self.title_row else None


def read_options(header: Mapping[str, Any]) -> tuple[ReportOptions, list[OptionError]]:
    """The options, each malformed one left at its default, and every mistake (one per key or column),
    so a checker can report them all in one run."""
    parsers: dict[str, Callable[[Any], Any]] = {
        "freeze": _freeze,
        "autofilter": lambda value: _boolean(value, "autofilter"),
        "title_row": _title_row,
        "on_empty": _on_empty,
        "cache_ttl": _cache_ttl,
        "slack_channel_secret": _secret_name,
        "format": _format,
        "slack_users": lambda value: _slack_ids(value, "slack_users", _SLACK_USER_ID, "a Slack user id such as U0123ABCD"),
        "slack_channels": lambda value: _slack_ids(value, "slack_channels", _SLACK_CHANNEL_ID, "a Slack channel id such as C0123ABCD"),
    }
    values: dict[str, Any] = {}
    errors: list[OptionError] = []
    for key, parse in parsers.items():
        if key in header:
            try:
                values[key] = parse(header[key])
            except OptionError as exc:
                errors.append(exc)
    try:
        values["columns"] = _columns(header.get("columns"), errors)
    except OptionError as exc:
        errors.append(exc)
    return ReportOptions(**values), errors


def _slack_ids(value: Any, key: str, pattern: re.Pattern[str], example: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) and pattern.fullmatch(item) for item in items):
        raise OptionError(f"{key} must be a list of ids, each {example} (ids, not names: names change)", key=key)
    return tuple(items)


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{key} must be true or false, got {value!r}", key=key)
    return value


def _freeze(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and _CELL.fullmatch(value.strip().upper()):
        return value.strip().upper()
    raise OptionError(f"freeze must be true, false or a cell such as B2, got {value!r}", key="freeze")


def _title_row(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() and len(value) <= 255:
        return value.strip()
    raise OptionError("title_row must be true, false or a text of 1-255 characters", key="title_row")


def _format(value: Any) -> str | None:
    if value is not None and value not in FORMAT_CHOICES:
        raise OptionError(f"format must be one of {', '.join(FORMAT_CHOICES)}, got {value!r}", key="format")
    return None if value is None else str(value)


def _on_empty(value: Any) -> str:
    if value not in ON_EMPTY_CHOICES:
        raise OptionError(f"on_empty must be one of {', '.join(ON_EMPTY_CHOICES)}, got {value!r}", key="on_empty")
    return str(value)


def _cache_ttl(value: Any) -> int | None:
    if value is None:
        return None
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip().lower())):
        seconds = int(match.group(1)) * _DURATION_SECONDS[match.group(2)]
    if seconds is None or not 0 <= seconds <= _MAX_CACHE_TTL:
        raise OptionError(f"cache_ttl must be seconds or a duration such as 30m, 6h, 1d (at most 31d), got {value!r}", key="cache_ttl")
    return seconds


def _secret_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SECRET_NAME.fullmatch(value):
        raise OptionError("slack_channel_secret must be a Secrets Manager secret name", key="slack_channel_secret")
    return value


def _columns(raw: Any, errors: list[OptionError]) -> dict[str, ColumnFormat]:
    """Every well-formed column; a malformed one is added to ``errors`` and left out."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise OptionError("columns must map a result column name to {format, width, hidden}", key="columns")
    columns = {}
    for name, spec in raw.items():
        try:
            columns[str(name)] = _column(str(name), spec)
        except OptionError as exc:
            errors.append(exc)
    return columns


def _column(name: str, spec: Any) -> ColumnFormat:
    if isinstance(spec, str):
        spec = {"format": spec}  # shorthand: a column name and its number format
    if not isinstance(spec, Mapping):
        raise OptionError(f"column {name!r}: use a number format string or {{format, width, hidden}}", key="columns", column=name)
    unknown = sorted(set(spec) - _COLUMN_KEYS)
    if unknown:
        raise OptionError(f"column {name!r}: unknown key {unknown[0]!r} (use format, width, hidden)", key="columns", column=name)
    number_format = spec.get("format")
    if number_format is not None and (not isinstance(number_format, str) or not number_format.strip() or len(number_format) > 255):
        raise OptionError(f"column {name!r}: format must be an Excel number format such as '#,##0'", key="columns", column=name)
    width = spec.get("width")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= _MAX_WIDTH):
        raise OptionError(f"column {name!r}: width must be a number of characters between 1 and {_MAX_WIDTH}", key="columns", column=name)
    hidden = spec.get("hidden", False)
    if not isinstance(hidden, bool):
        raise OptionError(f"column {name!r}: hidden must be true or false", key="columns", column=name)
    return ColumnFormat(number_format=number_format, width=float(width) if width is not None else None, hidden=hidden)
