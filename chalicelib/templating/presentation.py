"""How parameter values and times are shown to people: the title row, the Slack message, file names.

One formatting for all three (pure, no I/O), so a reader sees a value the same way wherever it
appears: lists as ``high, urgent`` (not a Python repr), dates ISO, decimals with every digit in
plain notation, and times in the report's zone with the zone named (``2026-12-04 09:00 KST``).
The API keeps ISO 8601 in UTC: that is for programs, this is for people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

PARAMETER_SEPARATOR = "; "  # not ", ": a list's items are already joined with commas


def display_value(value: Any) -> str:
    """One parameter value as people read it."""
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds" if value.second or value.microsecond else "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def display_params(values: Mapping[str, Any]) -> str:
    """``date_from: 2026-11-01; statuses: paid, refunded``; empty when no value is set."""
    return PARAMETER_SEPARATOR.join(f"{name}: {display_value(value)}" for name, value in values.items() if value is not None)


def zone_label(moment: dt.datetime) -> str:
    """The zone's abbreviation (``KST``, ``UTC``), or its offset where the zone has no abbreviation."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-":
        return name
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def display_time(moment: dt.datetime, zone: ZoneInfo) -> str:
    """``2026-12-04 09:00 KST``: a moment in the report's zone, the zone named."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def file_timestamp(local: dt.datetime) -> str:
    """``20261204-0900 KST``: the file name's timestamp, of a moment already in the report's zone."""
    return f"{local:%Y%m%d-%H%M} {zone_label(local)}" if local.tzinfo else f"{local:%Y%m%d-%H%M}"
