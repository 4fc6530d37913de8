"""The conversion table: from the server's text to what each file format stores, per column type.

The cursor runs with pymysql's decoders off (``database.connect`` passes encoders only), so every
value arrives as the server's text (``bytes`` for binary columns, BIT included) and is converted
once, by a function chosen per column from its type code when the query's columns are known.
Decoding to Python objects first (``Decimal``, ``datetime``) and converting those again cost
about 11 of the cursor's 26 µs per 12-column row (FACTS.md, "Faster xlsx writers").

One table (``_KINDS``, read through ``column_kind``) says what each type code is; every writer
chooses its conversion from it:
- ``XlsxCells``: what the fast writer stores: int, float (Excel serials for dates and times), or
  text, following docs/authoring.md "How values land in the file";
- ``csv_converter``: the CSV field text (chalicelib/files/csvfile.py);
- the XlsxWriter reference writer (chalicelib/files/workbook.py) picks its typed cell writers by
  the same kinds, after ``database.decoded_rows`` turned the text into pymysql's stock objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the type only: this module reads no database and imports no driver
    from chalicelib.database import Column


class FieldType(IntEnum):
    """MySQL's column type codes (``enum_field_types`` in the server's protocol headers), the same
    numbers pymysql.constants.FIELD_TYPE carries; a unit test compares the two."""

    DECIMAL = 0
    TINY = 1
    SHORT = 2
    LONG = 3
    FLOAT = 4
    DOUBLE = 5
    NULL = 6
    TIMESTAMP = 7
    LONGLONG = 8
    INT24 = 9
    DATE = 10
    TIME = 11
    DATETIME = 12
    YEAR = 13
    NEWDATE = 14
    VARCHAR = 15
    BIT = 16
    JSON = 245
    NEWDECIMAL = 246
    ENUM = 247
    SET = 248
    TINY_BLOB = 249
    MEDIUM_BLOB = 250
    LONG_BLOB = 251
    BLOB = 252
    VAR_STRING = 253
    STRING = 254
    GEOMETRY = 255


FIELD_TYPE = FieldType

EXCEL_MAX_STRING = 32_767
TRUNCATION_MARKER = "…[truncated]"
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
MAX_SAFE_INTEGER = 2**53
EXCEL_DIGITS = 15
_MAX_HEX_BYTES = 64
_MICROS_PER_DAY = 86_400_000_000
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
EXCEL_EPOCH_ORDINAL = EXCEL_EPOCH.toordinal()
_ONE_DAY = dt.timedelta(days=1)
# Excel pretends 1900 was a leap year: serials before 1900-03-01 are one lower than the plain count.
FIRST_PLAIN_SERIAL_DATE = dt.date(1900, 3, 1)
FIRST_PLAIN_SERIAL_DATETIME = dt.datetime(1900, 3, 1)
EXCEL_FIRST_YEAR = 1900
_XLSXWRITER_TIME_ONLY_DAY = dt.date(1900, 1, 1)

Convert = Callable[[Any], Any]


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def excel_text(text: str) -> tuple[str, bool]:
    """Text that fits one Excel cell (32,767 UTF-16 units), with a visible marker when cut."""
    # A string of at most half the limit cannot exceed it even if every character is an emoji.
    if len(text) <= EXCEL_MAX_STRING // 2 or utf16_length(text) <= EXCEL_MAX_STRING:
        return text, False
    keep = EXCEL_MAX_STRING - utf16_length(TRUNCATION_MARKER)
    # Cutting the UTF-16 bytes and dropping a half surrogate pair never splits an emoji.
    cut = text.encode("utf-16-le")[: 2 * keep].decode("utf-16-le", errors="ignore")
    return cut + TRUNCATION_MARKER, True


def binary_text(value: bytes | bytearray) -> str:
    """BLOB/BINARY values: short ones as hex (ids, hashes), long ones as their size."""
    return "0x" + value.hex() if len(value) <= _MAX_HEX_BYTES else f"<{len(value):,} bytes>"


def time_text(value: dt.timedelta) -> str:
    """A TIME as MySQL prints it, for values Excel cannot show (negative durations)."""
    sign = "-" if value < dt.timedelta(0) else ""
    micros = abs(value) // dt.timedelta(microseconds=1)
    return _clock_text(sign, micros)


def _clock_text(sign: str, micros: int) -> str:
    seconds, micro = divmod(micros, 1_000_000)
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{text}.{micro:06d}" if micro else text


def csv_text(value: Any) -> str:
    """Text for a CSV field; a leading formula character gets an apostrophe (OWASP CSV injection)."""
    text = binary_text(value) if isinstance(value, (bytes, bytearray)) else str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


@dataclass
class CellCounts:
    """What the conversion changed on the way, for the status and the Slack message."""

    truncated_cells: int = 0
    numbers_as_text: int = 0
    # Per column index: True once a number in it was stored as text (the column's note).
    noted_columns: set[int] = field(default_factory=set)


# --- parsing the server's text ------------------------------------------------------------------


def _parse_time(text: str) -> tuple[str, int] | None:
    """'[-]H..H:MM:SS[.ffffff]' as (sign, microseconds); None for anything else."""
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    clock, _, fraction = text.partition(".")
    parts = clock.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or (fraction and not fraction.isdigit()):
        return None
    hours, minutes, seconds = (int(part) for part in parts)
    micros = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + (int(fraction.ljust(6, "0")[:6]) if fraction else 0)
    return ("-" if sign and micros else ""), micros


def _digit_count(text: str) -> int:
    """Significant digits of a DECIMAL's text, as ``len(Decimal(text).as_tuple().digits)`` counts them."""
    return len(text.lstrip("-").replace(".", "").lstrip("0")) or 1


def _early_serial(value: dt.datetime) -> float:
    """XlsxWriter's own conversion, for January and February 1900 (Excel's fictitious 1900-02-29),
    quirk included: it takes 1900-01-01 for "a time of day only" and writes serial 0 + the time."""
    delta = value - dt.datetime(1899, 12, 31)
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
    serial = serial + 1 if serial > 59 else serial
    return serial - 1 if value.date() == _XLSXWRITER_TIME_ONLY_DAY else serial


# --- xlsx cells ---------------------------------------------------------------------------------


class XlsxCells:
    """Per-column converters from server text to the values the fast writer stores."""

    def __init__(self, counts: CellCounts) -> None:
        self.counts = counts

    def for_column(self, index: int, column: Column) -> Convert:
        kind = column_kind(column)
        if kind == "exact":
            return _exact_number(column)
        if kind == "integer":
            return lambda text: self._integer(index, int(text))
        if kind == "decimal":
            return self._decimal_converter(index, column)
        if kind == "bit":
            return lambda raw: self._integer(index, int.from_bytes(raw, "big") if isinstance(raw, bytes) else int(raw))
        method: Convert = {"date": self._date, "datetime": self._datetime, "time": self._time, "binary": self._binary}.get(kind, self.text)
        return method

    def _integer(self, index: int, value: int) -> int | str:
        if -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
            return value
        return self._number_as_text(index, str(value))

    def _number_as_text(self, index: int, text: str) -> str:
        """Excel keeps 15 significant digits: longer numbers are text, so no digit is lost."""
        self.counts.numbers_as_text += 1
        self.counts.noted_columns.add(index)
        return text

    def _decimal_converter(self, index: int, column: Column) -> Convert:
        if 0 < column.length <= EXCEL_DIGITS:
            return float  # DECIMAL(M,D) with M <= 15 always fits a double: no digit count per value

        def decimal(text: str) -> float | str:
            return float(text) if _digit_count(text) <= EXCEL_DIGITS else self._number_as_text(index, text)

        return decimal

    @staticmethod
    def _date(text: str) -> int | str | None:
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            return None  # a zero or invalid date ('0000-00-00'): left empty
        if value >= FIRST_PLAIN_SERIAL_DATE:
            return value.toordinal() - EXCEL_EPOCH_ORDINAL
        if value.year >= EXCEL_FIRST_YEAR:
            return value.toordinal() - EXCEL_EPOCH_ORDINAL - 1  # (XlsxWriter's 1900-01-01 quirk is for datetimes only)
        return value.isoformat()  # Excel has no dates before 1900 (MySQL allows year 1000): ISO text

    @staticmethod
    def _datetime(text: str) -> float | str | None:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return None  # '0000-00-00 00:00:00': left empty
        if value >= FIRST_PLAIN_SERIAL_DATETIME:
            return (value - EXCEL_EPOCH) / _ONE_DAY
        if value.year >= EXCEL_FIRST_YEAR:
            return _early_serial(value)
        return value.isoformat(sep=" ")

    def _time(self, text: str) -> float | str:
        parsed = _parse_time(text)
        if parsed is None:
            return self.text(text)
        sign, micros = parsed
        return _clock_text(sign, micros) if sign else micros / _MICROS_PER_DAY  # Excel shows ##### for a negative time

    @staticmethod
    def _binary(raw: Any) -> str:
        return binary_text(raw) if isinstance(raw, (bytes, bytearray)) else str(raw)

    def text(self, value: Any) -> str:
        if value.__class__ is not str:
            value = binary_text(value) if isinstance(value, (bytes, bytearray)) else str(value)
        if len(value) > EXCEL_MAX_STRING // 2:
            value, truncated = excel_text(value)
            self.counts.truncated_cells += truncated
        text: str = value
        return text


def _exact_number(column: Column) -> Convert:
    return float if column.type_code in (FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE) else int


# --- CSV fields ---------------------------------------------------------------------------------


def _csv_time(text: Any) -> str:
    parsed = _parse_time(text) if isinstance(text, str) else None
    return _clock_text(parsed[0], parsed[1]) if parsed is not None else csv_text(text)


def _csv_date(text: str) -> str:
    try:
        return str(dt.date.fromisoformat(text))
    except ValueError:
        return ""  # '0000-00-00'


def _csv_datetime(text: str) -> str:
    try:
        return str(dt.datetime.fromisoformat(text))  # microseconds only when there are some, as before
    except ValueError:
        return ""


def _csv_bit(raw: Any) -> str:
    return str(int.from_bytes(raw, "big")) if isinstance(raw, (bytes, bytearray)) else str(raw)


def _csv_binary(raw: Any) -> str:
    return binary_text(raw) if isinstance(raw, (bytes, bytearray)) else csv_text(raw)


def _csv_float(text: str) -> str:
    return repr(float(text))  # Python's shortest exact form, whatever digits the server printed


def csv_converter(column: Column) -> Convert | None:
    """The conversion a column's server text needs for a CSV field (None: the text as it is)."""
    kind = column_kind(column)
    if kind in ("integer", "decimal") or (kind == "exact" and column.type_code not in (FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE)):
        # The server's digits are the field. MySQL prints a DECIMAL in plain notation with the
        # column's scale ("0.0000000001"), never as str(Decimal) would ("1E-10").
        return None
    converters: dict[str, Convert] = {
        "exact": _csv_float,
        "date": _csv_date,
        "datetime": _csv_datetime,
        "time": _csv_time,
        "bit": _csv_bit,
        "binary": _csv_binary,
    }
    chosen: Convert = converters.get(kind, csv_text)
    return chosen


# --- the table ----------------------------------------------------------------------------------

_KINDS: dict[int, str] = {
    # Up to 32-bit integers, YEAR, FLOAT and DOUBLE: values a double holds exactly.
    **dict.fromkeys((FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.INT24, FIELD_TYPE.YEAR), "exact"),
    **dict.fromkeys((FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE), "exact"),
    FIELD_TYPE.LONGLONG: "integer",
    **dict.fromkeys((FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL), "decimal"),
    FIELD_TYPE.DATE: "date",
    **dict.fromkeys((FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP), "datetime"),
    FIELD_TYPE.TIME: "time",
    FIELD_TYPE.BIT: "bit",
}


def column_kind(column: Column) -> str:
    """exact, integer, decimal, date, datetime, time, bit, binary or text."""
    kind = _KINDS.get(column.type_code)
    if kind is not None:
        return kind
    return "binary" if column.binary else "text"


def row_converter(converters: Sequence[Convert | None], names: Sequence[str] | None = None) -> Callable[[Sequence[Any]], Any]:
    """One function per query, generated from the columns' converters: a row in, its converted
    values out (a tuple, or a dict by column name when ``names`` is given, as the fast writer
    takes them). NULL stays None and needs no converter.

    Generated code because the obvious loop (a list, a converter lookup and a None test per
    value) cost more per row than the conversions; the generated text holds only variable names
    (``v0``, ``c0``, ``k0``): converters and column names are bound as values, never as source.
    """
    count = len(converters)
    if count == 0:
        return (lambda _row: {}) if names is not None else tuple
    values = ", ".join(f"v{index}" for index in range(count))
    expressions = [_expression(index, convert) for index, convert in enumerate(converters)]
    if names is None:
        body = f"({', '.join(expressions)},)"
    else:
        body = "{" + ", ".join(f"k{index}: {expression}" for index, expression in enumerate(expressions)) + "}"
    source = f"def convert(row):\n    {values}, = row\n    return {body}\n"
    namespace: dict[str, Any] = {f"c{index}": convert for index, convert in enumerate(converters)}
    namespace.update({f"k{index}": name for index, name in enumerate(names or ())})
    exec(compile(source, "<row converter>", "exec"), namespace)  # noqa: S102 - see the docstring
    converted: Callable[[Sequence[Any]], Any] = namespace["convert"]
    return converted


def _expression(index: int, convert: Convert | None) -> str:
    if convert is None:
        return f"v{index}"
    return f"None if v{index} is None else c{index}(v{index})"
