"""Writing rows to an .xlsx file with XlsxWriter in constant_memory mode.

The cell writer for each column is chosen once from the column's MySQL type code; each row is
then written cell by cell with typed writes: numbers as numbers, dates as Excel dates with a date
format, NULL as an empty cell, and text always as text (``write_string``), never a formula or a
hyperlink. Memory stays flat because constant_memory flushes each row to a temp file.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import xlsxwriter
from pymysql.constants import FIELD_TYPE
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from chalicelib.database import Column
from chalicelib.report_options import ColumnFormat

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_STRING = 32_767
TRUNCATION_MARKER = "…[truncated]"
_MAX_SAFE_INTEGER = 2**53
_WIDTH_SAMPLE_ROWS = 500
_MAX_WIDTH = 60
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

_INTEGER_TYPES = {FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG, FIELD_TYPE.INT24, FIELD_TYPE.YEAR}
_DECIMAL_TYPES = {FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL}
_FLOAT_TYPES = {FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE}
_DATE_TYPES = {FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE}
_DATETIME_TYPES = {FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP}

CellWriter = Callable[[Worksheet, int, int, Any], None]


@dataclass
class WorkbookSummary:
    row_count: int
    truncated_cells: int


def excel_sheet_name(name: str) -> str:
    """A valid Excel sheet name: no []:*?/\\, not blank, at most 31 characters."""
    cleaned = _INVALID_SHEET_CHARS.sub("_", name).strip().strip("'")
    return (cleaned or "Sheet1")[:31]


class _Formats:
    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#F2F2F2"})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.datetime_fraction = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
        self.time = workbook.add_format({"num_format": "[h]:mm:ss"})
        self.integer = workbook.add_format({"num_format": "0"})
        self._workbook = workbook
        self._decimals: dict[int, Format] = {}

    def decimal(self, scale: int) -> Format:
        if scale not in self._decimals:
            pattern = "#,##0" + ("." + "0" * scale if scale > 0 else "")
            self._decimals[scale] = self._workbook.add_format({"num_format": pattern})
        return self._decimals[scale]


class _ColumnWriters:
    """Typed cell writers; each tolerates values of an unexpected Python type by writing text."""

    def __init__(self, formats: _Formats) -> None:
        self.formats = formats
        self.truncated_cells = 0

    def for_column(self, column: Column) -> CellWriter:
        if column.type_code in _INTEGER_TYPES:
            return self.integer
        if column.type_code in _DECIMAL_TYPES:
            number_format = self.formats.decimal(column.scale)
            return lambda sheet, row, col, value: self.decimal(sheet, row, col, value, number_format)
        if column.type_code in _FLOAT_TYPES:
            return self.floating
        if column.type_code in _DATE_TYPES:
            return self.date
        if column.type_code in _DATETIME_TYPES:
            return self.datetime
        if column.type_code == FIELD_TYPE.TIME:
            return self.time
        if column.type_code == FIELD_TYPE.BIT:
            return self.bit
        return self.text

    def integer(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, int) and abs(value) < _MAX_SAFE_INTEGER:
            sheet.write_number(row, col, value)
        else:
            self.text(sheet, row, col, value)  # Excel would round integers beyond 2^53

    def decimal(self, sheet: Worksheet, row: int, col: int, value: Any, number_format: Format) -> None:
        if isinstance(value, Decimal) and value.is_finite() and len(value.as_tuple().digits) <= 15:
            sheet.write_number(row, col, float(value), number_format)
        else:
            self.text(sheet, row, col, value)  # beyond Excel's 15 significant digits: keep every digit

    def floating(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, (int, float)) and math.isfinite(value):
            sheet.write_number(row, col, value)
        else:
            self.text(sheet, row, col, value)

    def date(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, self.formats.date)
        # Anything else (a zero date '0000-00-00' comes back as text) is left empty.

    def datetime(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=None)
            number_format = self.formats.datetime_fraction if value.microsecond else self.formats.datetime
            sheet.write_datetime(row, col, value, number_format)
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, self.formats.date)

    def time(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, dt.timedelta):
            sheet.write_number(row, col, value.total_seconds() / 86400, self.formats.time)
        else:
            self.text(sheet, row, col, value)

    def bit(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, (bytes, bytearray)):
            sheet.write_number(row, col, int.from_bytes(value, "big"))
        else:
            self.integer(sheet, row, col, value)

    def text(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if isinstance(value, (bytes, bytearray)):
            text = "0x" + value.hex() if len(value) <= 64 else f"<{len(value)} bytes>"
        else:
            text = str(value)
        if len(text) > EXCEL_MAX_STRING:
            text = text[: EXCEL_MAX_STRING - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
            self.truncated_cells += 1
        sheet.write_string(row, col, text)


def _column_width(column: Column, longest_value: int) -> float:
    if column.type_code in _DATETIME_TYPES:
        return 20
    if column.type_code in _DATE_TYPES:
        return 12
    return float(min(max(len(column.name) + 4, longest_value + 2, 8), _MAX_WIDTH))


@dataclass(frozen=True)
class SheetLayout:
    """How a sheet looks, beyond its typed cells (report-level presentation options)."""

    freeze_header: bool = True
    autofilter: bool = True
    freeze_cell: str | None = None  # an explicit cell ("B3"): rows above and columns left of it stay put
    title: str | None = None  # a title row above the header row
    columns: Mapping[str, ColumnFormat] = field(default_factory=dict)


@dataclass
class SheetSource:
    """One sheet to write: a name, column descriptions and a row iterator (consumed once)."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    layout: SheetLayout = field(default_factory=SheetLayout)


@dataclass
class SheetSummary:
    name: str
    row_count: int


class WorkbookWriter:
    """An .xlsx file written sheet after sheet, each sheet streamed row by row (constant_memory)."""

    def __init__(self, path: str, *, tmp_dir: str) -> None:
        self._workbook = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "tmpdir": tmp_dir,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self._formats = _Formats(self._workbook)
        self._writers = _ColumnWriters(self._formats)
        self._sheet_names: set[str] = set()
        self._custom_formats: dict[str, Format] = {}
        self._title_format: Format | None = None
        self.sheets: list[SheetSummary] = []

    def __enter__(self) -> WorkbookWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def truncated_cells(self) -> int:
        return self._writers.truncated_cells

    def add_sheet(self, source: SheetSource) -> SheetSummary:
        """Write a bold header row, then the typed rows; return the sheet's row count."""
        sheet = self._workbook.add_worksheet(self._unique_name(source.name))
        columns = source.columns
        header_row = self._write_title(sheet, source.layout, len(columns))
        cell_writers = self._with_column_formats(sheet, columns, [self._writers.for_column(column) for column in columns], source.layout)
        longest = [0] * len(columns)
        for index, column in enumerate(columns):
            sheet.write_string(header_row, index, column.name, self._formats.header)
        row_number = header_row
        for row_number, row in enumerate(source.rows, start=header_row + 1):
            if row_number >= EXCEL_MAX_ROWS:
                raise ValueError("result exceeds Excel's row limit")  # splitting across sheets is a later step
            for index, value in enumerate(row):
                if value is not None:
                    cell_writers[index](sheet, row_number, index, value)
            if row_number <= _WIDTH_SAMPLE_ROWS:
                for index, value in enumerate(row):
                    if value is not None:
                        longest[index] = max(longest[index], len(str(value)))
        widths = [_column_width(column, longest[index]) for index, column in enumerate(columns)]
        _apply_layout(sheet, columns, source.layout, widths, header_row=header_row, last_row=row_number)
        summary = SheetSummary(name=sheet.name, row_count=row_number - header_row)
        self.sheets.append(summary)
        return summary

    def _write_title(self, sheet: Worksheet, layout: SheetLayout, column_count: int) -> int:
        """Write the optional title row; return the row the column header goes on."""
        if layout.title is None:
            return 0
        if self._title_format is None:
            self._title_format = self._workbook.add_format({"bold": True, "font_size": 13})
        sheet.write_string(0, 0, layout.title, self._title_format)
        return 1

    def _with_column_formats(self, sheet: Worksheet, columns: Sequence[Column], writers: list[CellWriter], layout: SheetLayout) -> list[CellWriter]:
        """Swap in the author's number format for columns that declare one; other columns keep the type's writer."""
        result = list(writers)
        for index, column in enumerate(columns):
            spec = layout.columns.get(column.name)
            if spec is None or spec.number_format is None:
                continue
            cells = _FormattedCells(sheet, self._number_format(spec.number_format))
            result[index] = functools.partial(_write_formatted, writers[index], cells)
        return result

    def _number_format(self, pattern: str) -> Format:
        if pattern not in self._custom_formats:
            self._custom_formats[pattern] = self._workbook.add_format({"num_format": pattern})
        return self._custom_formats[pattern]

    def _unique_name(self, name: str) -> str:
        base = excel_sheet_name(name)
        candidate, number = base, 2
        while candidate.lower() in self._sheet_names:
            suffix = f" ({number})"
            candidate, number = base[: 31 - len(suffix)] + suffix, number + 1
        self._sheet_names.add(candidate.lower())
        return candidate

    def close(self) -> None:
        self._workbook.close()


class _FormattedCells:
    """Stands in for the worksheet inside a typed cell writer so the column's own number format wins
    over the type's default format, while the writer still decides the cell's type."""

    def __init__(self, sheet: Worksheet, cell_format: Format) -> None:
        self._sheet = sheet
        self._format = cell_format

    def write_number(self, row: int, col: int, number: float, _default: Format | None = None) -> int:
        return int(self._sheet.write_number(row, col, number, self._format))

    def write_datetime(self, row: int, col: int, value: Any, _default: Format | None = None) -> int:
        return int(self._sheet.write_datetime(row, col, value, self._format))

    def write_string(self, row: int, col: int, text: str, _default: Format | None = None) -> int:
        return int(self._sheet.write_string(row, col, text, self._format))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sheet, name)


def _write_formatted(writer: CellWriter, cells: _FormattedCells, _sheet: Worksheet, row: int, col: int, value: Any) -> None:
    writer(cast(Worksheet, cells), row, col, value)


def _apply_layout(sheet: Worksheet, columns: Sequence[Column], layout: SheetLayout, widths: list[float], *, header_row: int, last_row: int) -> None:
    """Column widths (the author's, else the ones measured from the data), hidden columns, panes, autofilter."""
    for index, column in enumerate(columns):
        spec = layout.columns.get(column.name) or ColumnFormat()
        width = spec.width if spec.width is not None else widths[index]
        sheet.set_column(index, index, width, None, {"hidden": True} if spec.hidden else None)
    if layout.freeze_cell:
        sheet.freeze_panes(layout.freeze_cell)
    elif layout.freeze_header:
        sheet.freeze_panes(header_row + 1, 0)
    if columns and layout.autofilter:
        sheet.autofilter(header_row, 0, max(last_row, header_row + 1), len(columns) - 1)


def write_workbook(path: str, sheet_title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, tmp_dir: str) -> WorkbookSummary:
    """Write a one-sheet workbook."""
    with WorkbookWriter(path, tmp_dir=tmp_dir) as writer:
        sheet = writer.add_sheet(SheetSource(name=sheet_title, columns=columns, rows=rows))
    return WorkbookSummary(row_count=sheet.row_count, truncated_cells=writer.truncated_cells)
