"""Writing rows to an .xlsx file with XlsxWriter in constant_memory mode.

The cell writer for each column is chosen once from its kind (chalicelib.files.cells.column_kind); each row is
then written cell by cell with typed writes: numbers as numbers, dates as Excel dates with a date
format, NULL as an empty cell, and text always as text (``write_string``), never a formula or a
hyperlink. Memory stays flat because constant_memory flushes each row to a temp file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from chalicelib.database import Column, decoded_rows

# Excel's limits and serial dates are one set of rules, in chalicelib.files.cells: serials count days from
# 1899-12-30 for every date from 1900-03-01 on (before it, Excel's fictitious 1900-02-29 shifts them;
# XlsxWriter's own conversion handles those here).
from chalicelib.files.cells import (
    EXCEL_DIGITS,
    EXCEL_EPOCH,
    EXCEL_EPOCH_ORDINAL,
    EXCEL_FIRST_YEAR,
    EXCEL_MAX_STRING,
    FIRST_PLAIN_SERIAL_DATE,
    FIRST_PLAIN_SERIAL_DATETIME,
    MAX_SAFE_INTEGER,
    TRUNCATION_MARKER,
    binary_text,
    column_kind,
    excel_text,
    time_text,
)
from chalicelib.templating.options import ColumnFormat
from chalicelib.templating.template import continuation_sheet_name, excel_sheet_name

if TYPE_CHECKING:  # XlsxWriter is imported when a reference writer opens: the fast writer's exports skip it
    import xlsxwriter
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

__all__ = ["EXCEL_MAX_STRING", "TRUNCATION_MARKER", "binary_text", "excel_text", "time_text"]  # their home is chalicelib.files.cells

EXCEL_MAX_ROWS = 1_048_576
DATA_ROWS_PER_SHEET = EXCEL_MAX_ROWS - 1  # below the header row
_ONE_DAY = dt.timedelta(days=1)
PRECISION_NOTE = "Stored as text: numbers in this column with more than 15 significant digits would be rounded by Excel."
_WIDTH_SAMPLE_ROWS = 500
MAX_COLUMN_WIDTH = 60
# The number format of each typed cell (decimals: ``decimal_format``); the fast writer uses the same.
NUMBER_FORMATS: Mapping[str, str] = {
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    # Excel shows at most milliseconds; the cell value itself keeps the microseconds.
    "datetime_fraction": "yyyy-mm-dd hh:mm:ss.000",
    "time": "[h]:mm:ss",
    "time_fraction": "[h]:mm:ss.000",
    "integer": "0",
}

BoundWriter = Callable[[int, int, Any], Any]  # (row, col, value) on one sheet
WriterFactory = Callable[["_SheetCells"], BoundWriter]


@dataclass
class WorkbookSummary:
    row_count: int
    truncated_cells: int
    numbers_as_text: int = 0
    sheet_names: list[str] = field(default_factory=list)


# The workbook layout (docs: WORKBOOK_LAYOUT_SPEC, shared with the fast writer): the header row, the
# width rule's padding, and the print setup are each defined once, here.
# White on dark blue reads on any screen and in print; the old #F2F2F2 vanished on many displays.
HEADER_STYLE: Mapping[str, Any] = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "bottom": 1}
# Dates and numbers end flush at the cell's edge: two characters keep them off the next column's text.
VALUE_COLUMN_PADDING = 2
PADDED_KINDS = frozenset({"exact", "integer", "decimal", "bit", "date", "datetime", "time"})  # chalicelib.files.cells.column_kind
# Wider than this many visible columns, a sheet prints in landscape.
PORTRAIT_MAX_COLUMNS = 6


def decimal_format(scale: int) -> str:
    return "#,##0" + ("." + "0" * scale if scale > 0 else "")


def print_footer(export_id: str | None) -> str:
    """The export id on the left (``&`` doubled: a lone one starts a footer code), page numbers on the right."""
    return (f"&L{export_id.replace('&', '&&')}" if export_id else "") + "&RPage &P of &N"


def apply_print_setup(sheet: Worksheet, *, visible_columns: int, header_row: int, export_id: str | None) -> None:
    """Landscape when wide, one page wide (any number tall), the title and header rows on every
    page, and a footer with the export id (left) and "Page N of M" (right)."""
    if visible_columns > PORTRAIT_MAX_COLUMNS:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0, header_row)
    sheet.set_footer(print_footer(export_id))


class _Formats:
    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.header = workbook.add_format(dict(HEADER_STYLE))
        self.date = workbook.add_format({"num_format": NUMBER_FORMATS["date"]})
        self.datetime = workbook.add_format({"num_format": NUMBER_FORMATS["datetime"]})
        self.datetime_fraction = workbook.add_format({"num_format": NUMBER_FORMATS["datetime_fraction"]})
        self.time = workbook.add_format({"num_format": NUMBER_FORMATS["time"]})
        self.time_fraction = workbook.add_format({"num_format": NUMBER_FORMATS["time_fraction"]})
        self.integer = workbook.add_format({"num_format": NUMBER_FORMATS["integer"]})
        self._workbook = workbook
        self._decimals: dict[int, Format] = {}

    def decimal(self, scale: int) -> Format:
        if scale not in self._decimals:
            self._decimals[scale] = self._workbook.add_format({"num_format": decimal_format(scale)})
        return self._decimals[scale]


class _SheetCells:
    """One worksheet's cell writers, looked up once per sheet instead of once per cell.

    XlsxWriter's public ``write_*`` methods pass through a decorator that accepts "A1" notation
    and tries ``int()`` on every call; profiled, that cost as much as everything our own code does
    per cell. The undecorated methods take the same (row, col, value, format) arguments; the
    public ones are the fallback should a future XlsxWriter rename them (the version is pinned).
    """

    __slots__ = ("datetime", "number", "sheet", "string")

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.number: Callable[..., Any] = getattr(sheet, "_write_number", sheet.write_number)
        self.string: Callable[..., Any] = getattr(sheet, "_write_string", sheet.write_string)
        self.datetime: Callable[..., Any] = getattr(sheet, "_write_datetime", sheet.write_datetime)

    def with_format(self, cell_format: Format) -> _SheetCells:
        """The same writers, but every cell gets the report author's number format for this column
        instead of its type's default; the column's writer still decides the cell's type."""
        formatted = _SheetCells.__new__(_SheetCells)
        formatted.sheet = self.sheet
        formatted.number = _forced_format(self.number, cell_format)
        formatted.string = _forced_format(self.string, cell_format)
        formatted.datetime = _forced_format(self.datetime, cell_format)
        return formatted


def _forced_format(write: Callable[..., Any], cell_format: Format) -> Callable[..., Any]:
    def write_with_format(row: int, col: int, value: Any, _default: Format | None = None) -> Any:
        return write(row, col, value, cell_format)

    return write_with_format


class _ColumnWriters:
    """Typed cell writers chosen once per column; a value of an unexpected Python type becomes text.

    ``for_column`` returns a factory that binds the column's writer to one sheet, so the hot loop
    makes a single call per cell: for 32-bit integers and doubles that call is XlsxWriter's own.
    """

    def __init__(self, formats: _Formats) -> None:
        self.formats = formats
        self.truncated_cells = 0
        self.numbers_as_text = 0
        self._noted: set[tuple[str, int]] = set()

    def for_column(self, column: Column) -> WriterFactory:
        kind = column_kind(column)  # the one type-code table, chalicelib.files.cells
        if kind == "exact":
            return lambda cells: cells.number  # always a finite int or float that a double holds exactly
        if kind == "decimal":
            return self._decimal_factory(column)
        if kind in ("datetime", "time"):
            number_format = getattr(self.formats, f"{kind}_fraction" if 0 < column.scale <= 6 else kind)
            method = self.datetime if kind == "datetime" else self.time
            return lambda cells: partial(method, cells, number_format)
        methods = {"integer": self.integer, "bit": self.bit, "date": self.date, "binary": self.binary}
        plain = methods.get(kind, self.text)
        return lambda cells: partial(plain, cells)

    def _decimal_factory(self, column: Column) -> WriterFactory:
        number_format = self.formats.decimal(column.scale)
        if 0 < column.length <= EXCEL_DIGITS:
            # DECIMAL(M,D) with M <= 15 always fits a double: no per-value digit count.
            def exact(cells: _SheetCells) -> BoundWriter:
                number = cells.number
                return lambda row, col, value: number(row, col, float(value), number_format)

            return exact
        return lambda cells: partial(self.decimal, cells, number_format)

    def integer(self, cells: _SheetCells, row: int, col: int, value: Any) -> None:
        if isinstance(value, int) and -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
            cells.number(row, col, value)
        elif isinstance(value, int):
            self.number_as_text(cells, row, col, value)
        else:
            self.text(cells, row, col, value)

    def decimal(self, cells: _SheetCells, number_format: Format, row: int, col: int, value: Any) -> None:
        if isinstance(value, Decimal) and value.is_finite() and len(value.as_tuple().digits) <= EXCEL_DIGITS:
            cells.number(row, col, float(value), number_format)
        elif isinstance(value, Decimal) and value.is_finite():
            self.number_as_text(cells, row, col, value)
        else:
            self.text(cells, row, col, value)

    def number_as_text(self, cells: _SheetCells, row: int, col: int, value: int | Decimal) -> None:
        """Excel keeps 15 significant digits: longer numbers are text, so no digit is lost."""
        cells.string(row, col, str(value))
        self.numbers_as_text += 1
        sheet = cells.sheet
        if (sheet.name, col) not in self._noted:
            self._noted.add((sheet.name, col))
            # constant_memory has flushed the header row by now: the note goes on the first such cell.
            sheet.write_comment(row, col, PRECISION_NOTE, {"x_scale": 2, "y_scale": 1.5})

    def date(self, cells: _SheetCells, row: int, col: int, value: Any) -> None:
        if value.__class__ is dt.date and value >= FIRST_PLAIN_SERIAL_DATE:
            # The serial number Excel stores; XlsxWriter's general conversion is slower per cell.
            cells.number(row, col, value.toordinal() - EXCEL_EPOCH_ORDINAL, self.formats.date)
        elif isinstance(value, dt.date):
            self._early_date(cells, row, col, value, self.formats.date)
        # Anything else is a zero or invalid date ('0000-00-00' comes back as text): left empty.

    def datetime(self, cells: _SheetCells, number_format: Format, row: int, col: int, value: Any) -> None:
        if value.__class__ is dt.datetime and value.tzinfo is None and value >= FIRST_PLAIN_SERIAL_DATETIME:
            cells.number(row, col, (value - EXCEL_EPOCH) / _ONE_DAY, number_format)
        elif isinstance(value, dt.datetime):
            self._early_date(cells, row, col, value.replace(tzinfo=None), number_format)
        elif isinstance(value, dt.date):
            self._early_date(cells, row, col, value, self.formats.date)
        # '0000-00-00 00:00:00' comes back as text: left empty.

    def _early_date(self, cells: _SheetCells, row: int, col: int, value: dt.date, number_format: Format) -> None:
        if value.year >= EXCEL_FIRST_YEAR:
            cells.datetime(row, col, value, number_format)  # January-February 1900: XlsxWriter knows Excel's quirk
        else:
            cells.string(row, col, value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat())
            # Excel has no dates before 1900 (MySQL allows year 1000): ISO text keeps them readable.

    def time(self, cells: _SheetCells, number_format: Format, row: int, col: int, value: Any) -> None:
        if isinstance(value, dt.timedelta) and value >= dt.timedelta(0):
            cells.number(row, col, value / _ONE_DAY, number_format)
        elif isinstance(value, dt.timedelta):
            cells.string(row, col, time_text(value))  # Excel shows ##### for a negative time
        else:
            self.text(cells, row, col, value)

    def bit(self, cells: _SheetCells, row: int, col: int, value: Any) -> None:
        if isinstance(value, (bytes, bytearray)):
            self.integer(cells, row, col, int.from_bytes(value, "big"))
        else:
            self.integer(cells, row, col, value)

    def binary(self, cells: _SheetCells, row: int, col: int, value: Any) -> None:
        if isinstance(value, (bytes, bytearray)):
            cells.string(row, col, binary_text(value))
        else:
            self.text(cells, row, col, value)

    def text(self, cells: _SheetCells, row: int, col: int, value: Any) -> None:
        if value.__class__ is not str:
            value = binary_text(value) if isinstance(value, (bytes, bytearray)) else str(value)
        if len(value) > EXCEL_MAX_STRING // 2:
            value, truncated = excel_text(value)
            self.truncated_cells += truncated
        cells.string(row, col, value)


def column_width(column: Column, longest_value: int) -> float:
    """The width rule of every writer: by type for dates, else by the header and the longest
    sampled value; date, time and number columns padded, then capped."""
    kind = column_kind(column)
    padding = VALUE_COLUMN_PADDING if kind in PADDED_KINDS else 0
    if kind == "datetime":
        return 20 + padding
    if kind == "date":
        return 12 + padding
    return float(min(max(len(column.name) + 4, longest_value + 2, 8) + padding, MAX_COLUMN_WIDTH))


@dataclass(frozen=True)
class SheetLayout:
    """How a sheet looks, beyond its typed cells (report-level presentation options)."""

    freeze_header: bool = True
    autofilter: bool = True
    freeze_cell: str | None = None  # an explicit cell ("B3"): rows above and columns left of it stay put
    title: str | None = None  # a title row above the header row
    columns: Mapping[str, ColumnFormat] = field(default_factory=dict)

    @property
    def header_row(self) -> int:
        return 1 if self.title is not None else 0


@dataclass
class SheetSource:
    """One sheet to write: a name, column descriptions and a row iterator (consumed once)."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    layout: SheetLayout = field(default_factory=SheetLayout)
    text_rows: bool = False  # rows are the server's text (the export's cursor), not Python objects


@dataclass
class SheetSummary:
    name: str
    row_count: int
    # Every sheet the source filled: more than one when it passed Excel's row limit.
    sheet_names: list[str] = field(default_factory=list)


class WorkbookWriter:
    """An .xlsx file written sheet after sheet, each sheet streamed row by row (constant_memory).

    A source longer than ``rows_per_sheet`` data rows continues on ``<name> (2)``, ``(3)``...
    with the header repeated: XlsxWriter silently drops rows past Excel's limit. ``export_id``
    goes into every sheet's printed footer, as in the fast writer (``formats.open_writer``).
    """

    def __init__(self, path: str, *, tmp_dir: str, rows_per_sheet: int = DATA_ROWS_PER_SHEET, export_id: str | None = None) -> None:
        if not 0 < rows_per_sheet <= DATA_ROWS_PER_SHEET:
            raise ValueError(f"rows_per_sheet must be between 1 and {DATA_ROWS_PER_SHEET:,}")
        import xlsxwriter

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
        self._rows_per_sheet = rows_per_sheet
        self._export_id = export_id
        self._formats = _Formats(self._workbook)
        self._writers = _ColumnWriters(self._formats)
        self._sheet_names: set[str] = set()
        self._custom_formats: dict[str, Format] = {}
        self._title_format: Format | None = None
        self.sheets: list[SheetSummary] = []
        self.engine = "xlsxwriter"  # the status names the writer that ran (chalicelib.files.fastbook is the other)

    def __enter__(self) -> WorkbookWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        # After a failure (a guard stopped the export, the database went away) assembling the
        # file would only spend more /tmp and time on something nobody will download.
        if exc_type is None:
            self.close()

    @property
    def truncated_cells(self) -> int:
        return self._writers.truncated_cells

    @property
    def numbers_as_text(self) -> int:
        return self._writers.numbers_as_text

    def add_sheet(self, source: SheetSource) -> SheetSummary:
        """Write the typed rows under a header, on as many sheets as Excel's row limit needs."""
        columns = list(source.columns)
        rows = decoded_rows(columns, source.rows) if source.text_rows else iter(source.rows)
        sample = list(islice(rows, _WIDTH_SAMPLE_ROWS))
        widths = [column_width(column, longest) for column, longest in zip(columns, _longest_values(sample, len(columns)), strict=True)]
        rows = chain(sample, rows)
        writer_factories = [self._writers.for_column(column) for column in columns]
        column_formats = [self._column_format(source.layout, column) for column in columns]
        layout = source.layout
        per_sheet = min(self._rows_per_sheet, DATA_ROWS_PER_SHEET - layout.header_row)
        names: list[str] = []
        total = 0
        while True:
            name = self._unique_name(source.name) if not names else self._unique_name(continuation_sheet_name(names[0], len(names) + 1))
            sheet = self._start_sheet(name, columns, widths, layout)
            written = _write_rows(sheet, writer_factories, column_formats, islice(rows, per_sheet), first_row=layout.header_row + 1)
            self._finish_sheet(sheet, len(columns), written, layout)
            names.append(sheet.name)
            total += written
            following = next(rows, None) if written == per_sheet else None
            if following is None:  # a row is a tuple, never None: this is the end
                break
            rows = chain([following], rows)
        summary = SheetSummary(name=names[0], row_count=total, sheet_names=names)
        self.sheets.append(summary)
        return summary

    def _start_sheet(self, name: str, columns: Sequence[Column], widths: Sequence[float], layout: SheetLayout) -> Worksheet:
        """A new sheet with the optional title row, the header row, widths, hidden columns and panes."""
        sheet = self._workbook.add_worksheet(name)
        if layout.title is not None:
            if self._title_format is None:
                self._title_format = self._workbook.add_format({"bold": True, "font_size": 13})
            sheet.write_string(0, 0, layout.title, self._title_format)
        for index, column in enumerate(columns):
            sheet.write_string(layout.header_row, index, column.name, self._formats.header)
            spec = layout.columns.get(column.name) or ColumnFormat()
            width = spec.width if spec.width is not None else widths[index]
            sheet.set_column(index, index, width, None, {"hidden": True} if spec.hidden else None)
        if layout.freeze_cell:
            sheet.freeze_panes(layout.freeze_cell)
        elif layout.freeze_header:
            sheet.freeze_panes(layout.header_row + 1, 0)
        visible = sum(not (layout.columns.get(column.name) or ColumnFormat()).hidden for column in columns)
        apply_print_setup(sheet, visible_columns=visible, header_row=layout.header_row, export_id=self._export_id)
        return sheet

    def _finish_sheet(self, sheet: Worksheet, column_count: int, row_count: int, layout: SheetLayout) -> None:
        if column_count and layout.autofilter:
            header = layout.header_row
            sheet.autofilter(header, 0, header + max(row_count, 1), column_count - 1)

    def _column_format(self, layout: SheetLayout, column: Column) -> Format | None:
        """The author's number format for a column (by result column name), if the header sets one."""
        spec = layout.columns.get(column.name)
        if spec is None or spec.number_format is None:
            return None
        if spec.number_format not in self._custom_formats:
            self._custom_formats[spec.number_format] = self._workbook.add_format({"num_format": spec.number_format})
        return self._custom_formats[spec.number_format]

    def _unique_name(self, name: str) -> str:
        base = excel_sheet_name(name)
        candidate, number = base, 2
        while candidate.lower() in self._sheet_names:
            candidate, number = continuation_sheet_name(base, number), number + 1
        self._sheet_names.add(candidate.lower())
        return candidate

    def close(self) -> None:
        self._workbook.close()


def _write_rows(
    sheet: Worksheet, factories: Sequence[WriterFactory], formats: Sequence[Format | None], rows: Iterable[Sequence[Any]], *, first_row: int
) -> int:
    """The hot loop: one call per non-NULL cell, nothing else per row. Returns the rows written."""
    cells = _SheetCells(sheet)
    writers = [factory(cells if fmt is None else cells.with_format(fmt)) for factory, fmt in zip(factories, formats, strict=True)]
    positions = range(len(writers))
    row_number = first_row - 1
    for row_number, row in enumerate(rows, start=first_row):
        for write, col, value in zip(writers, positions, row, strict=False):
            if value is not None:
                write(row_number, col, value)
    return row_number - first_row + 1


def _longest_values(sample: Sequence[Sequence[Any]], column_count: int) -> list[int]:
    longest = [0] * column_count
    for row in sample:
        for index, value in enumerate(row):
            if value is not None:
                longest[index] = max(longest[index], len(str(value)))
    return longest


def write_workbook(
    path: str,
    sheet_title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    tmp_dir: str,
    rows_per_sheet: int = DATA_ROWS_PER_SHEET,
) -> WorkbookSummary:
    """Write a one-sheet workbook (more sheets only past Excel's row limit)."""
    with WorkbookWriter(path, tmp_dir=tmp_dir, rows_per_sheet=rows_per_sheet) as writer:
        sheet = writer.add_sheet(SheetSource(name=sheet_title, columns=columns, rows=rows))
    return WorkbookSummary(
        row_count=sheet.row_count,
        truncated_cells=writer.truncated_cells,
        numbers_as_text=writer.numbers_as_text,
        sheet_names=sheet.sheet_names,
    )
