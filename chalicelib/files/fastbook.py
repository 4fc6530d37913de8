"""The fast .xlsx writer: rustpy-xlsxwriter (Rust, rust_xlsxwriter underneath) fed converted cells.

XlsxWriter costs ~135 µs per 12-column row, most of an export's time; rustpy-xlsxwriter writes the
same cells about four times faster in flat memory (FACTS.md, "Faster xlsx writers"). Fed raw
Python values it breaks our rules (rounds BIGINT and DECIMAL, drops microseconds, aborts the whole
file on a string over 32,767 characters or a date before 1900), so it only ever sees what
``chalicelib.files.cells`` made of the server's text: int, float and str, all within Excel's limits.

It cannot do everything the reference writer (``chalicelib.files.workbook``, XlsxWriter) does, so it is
chosen per file, and only when it can honour the whole layout (``fast_writer_can_write``):
- its sheet list is fixed when the call starts, so it writes one source per file;
- it puts notes on header cells only, so the "stored as text" note goes on the column's header
  when such a number shows in the rows sampled for the widths;
- it cannot hide columns or write a one-cell title row; it takes dict rows, so duplicate column
  names (which would collapse) and a result with no rows (no header) go to the reference writer;
- past Excel's row limit it stops and raises ``SheetLimitReached``: the pipeline then writes the
  file again with the reference writer, which continues on further sheets.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from itertools import chain, islice
from typing import Any

from chalicelib.database import Column, decoded_rows
from chalicelib.files.cells import CellCounts, XlsxCells, column_kind, row_converter
from chalicelib.files.guards import FinishCost
from chalicelib.files.workbook import (
    _WIDTH_SAMPLE_ROWS,
    DATA_ROWS_PER_SHEET,
    HEADER_STYLE,
    NUMBER_FORMATS,
    PORTRAIT_MAX_COLUMNS,
    PRECISION_NOTE,
    SheetLayout,
    SheetSource,
    SheetSummary,
    WorkbookWriter,
    _longest_values,
    column_width,
    decimal_format,
    print_footer,
)
from chalicelib.templating.template import excel_sheet_name

ENGINE = "rustpy-xlsxwriter"
REFERENCE_ENGINE = "xlsxwriter"
# WORKBOOK_LAYOUT_SPEC's header style, width rule and print setup are defined once, in
# chalicelib.files.workbook; this module only translates them into rustpy-xlsxwriter's terms.
_BORDER_STYLES = {1: "thin"}  # XlsxWriter's border index -> rust_xlsxwriter's name


# Measured on order rows (free space sampled every 10 ms, bench/README.md): /tmp peaks at 1.10-1.15x
# the streamed temp file (closing adds the archive, no second copy of the rows as XlsxWriter's
# close makes), and closing (reading the temp file back and deflating it) takes 0.47x the
# streaming time at 100,000 rows and 0.72x at 300,000; both with a margin.
FINISH_COST = FinishCost(space_factor=1.3, time_factor=0.9)


class SheetLimitReached(Exception):  # noqa: N818 - a signal to the pipeline, not an error anyone sees
    """More rows than one sheet holds: the reference writer, which splits, must write this file."""


def fast_writer_available() -> bool:
    return importlib.util.find_spec("rustpy_xlsxwriter") is not None


def fast_writer_can_write(layouts: Sequence[SheetLayout]) -> bool:
    """Whether the fast writer honours this file's whole layout (what rows bring is decided later)."""
    if len(layouts) != 1 or not fast_writer_available():
        return False
    layout = layouts[0]
    return layout.title is None and not any(spec.hidden for spec in layout.columns.values())


def number_format(column: Column) -> str | None:
    """The number format the reference writer gives a column's numeric cells (None: General)."""
    kind = column_kind(column)
    fraction = 0 < column.scale <= 6
    if kind == "decimal":
        return decimal_format(column.scale)
    if kind in ("datetime", "time"):
        return NUMBER_FORMATS[f"{kind}_fraction" if fraction else kind]
    return NUMBER_FORMATS["date"] if kind == "date" else None


def page_setup(visible_columns: int, header_row: int, export_id: str | None) -> dict[str, Any]:
    """``workbook.apply_print_setup`` in rustpy-xlsxwriter's terms: one page wide, header repeated, export id."""
    return {
        "landscape": visible_columns > PORTRAIT_MAX_COLUMNS,
        "fit_to_pages": (1, 0),
        "repeat_rows": (0, header_row),
        "footer": print_footer(export_id),
    }


class FastWorkbookWriter:
    """One-source .xlsx files through rustpy-xlsxwriter; the reference writer takes what it cannot."""

    def __init__(self, path: str, *, tmp_dir: str, rows_per_sheet: int = DATA_ROWS_PER_SHEET, export_id: str | None = None) -> None:
        if not 0 < rows_per_sheet <= DATA_ROWS_PER_SHEET:
            raise ValueError(f"rows_per_sheet must be between 1 and {DATA_ROWS_PER_SHEET:,}")
        self._path = path
        self._tmp_dir = tmp_dir
        self._rows_per_sheet = rows_per_sheet
        self._export_id = export_id
        self._counts = CellCounts()
        self._reference: WorkbookWriter | None = None
        self.engine = ENGINE
        self.sheets: list[SheetSummary] = []

    def __enter__(self) -> FastWorkbookWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._reference is not None:
            self._reference.__exit__(exc_type, *exc)

    @property
    def finish_cost(self) -> FinishCost | None:
        """What finishing this file needs (None once the reference writer took over: the format's own)."""
        return FINISH_COST if self._reference is None else None

    @property
    def truncated_cells(self) -> int:
        return self._reference.truncated_cells if self._reference is not None else self._counts.truncated_cells

    @property
    def numbers_as_text(self) -> int:
        return self._reference.numbers_as_text if self._reference is not None else self._counts.numbers_as_text

    def add_sheet(self, source: SheetSource) -> SheetSummary:
        if self.sheets:
            raise ValueError("the fast writer writes one source per file (fast_writer_can_write decides)")
        columns = list(source.columns)
        rows = iter(source.rows)
        sample = list(islice(rows, _WIDTH_SAMPLE_ROWS))
        names = [column.name for column in columns]
        if not source.text_rows or not sample or len(set(names)) != len(names):
            return self._with_reference(SheetSource(source.name, columns, chain(sample, rows), source.layout, text_rows=source.text_rows))
        summary = self._write(source, columns, sample, rows)
        self.sheets.append(summary)
        return summary

    def _with_reference(self, source: SheetSource) -> SheetSummary:
        """Rows the fast writer would get wrong (or has no header for) go to the reference writer."""
        self.engine = REFERENCE_ENGINE
        self._reference = WorkbookWriter(self._path, tmp_dir=self._tmp_dir, rows_per_sheet=self._rows_per_sheet, export_id=self._export_id)
        summary = self._reference.add_sheet(source)
        self.sheets.append(summary)
        return summary

    def _write(self, source: SheetSource, columns: list[Column], sample: list[Sequence[Any]], rows: Iterator[Sequence[Any]]) -> SheetSummary:
        from rustpy_xlsxwriter import write_worksheet

        layout = source.layout
        typed_sample = list(decoded_rows(columns, sample))  # the reference's width rule reads Python values
        widths = [column_width(column, longest) for column, longest in zip(columns, _longest_values(typed_sample, len(columns)), strict=True)]
        cells = XlsxCells(self._counts)
        names = [column.name for column in columns]
        convert = row_converter([cells.for_column(index, column) for index, column in enumerate(columns)], names)
        converted_sample = [convert(row) for row in sample]  # the notes must be known before the call starts
        written = 0

        def records() -> Iterator[dict[str, Any]]:
            nonlocal written
            head = converted_sample[: self._rows_per_sheet]
            for record in chain(head, map(convert, islice(rows, self._rows_per_sheet - len(head)))):
                written += 1
                yield record

        freeze_row, freeze_col = _freeze(layout)
        write_worksheet(
            records(),
            self._path,
            sheet_name=excel_sheet_name(source.name),
            freeze_row=freeze_row,
            freeze_col=freeze_col,
            autofit=False,
            column_widths=[_width(layout, column, width) for column, width in zip(columns, widths, strict=True)],
            column_formats=_formats(layout, columns),
            header_format=_header_format(),
            autofilter=layout.autofilter,
            notes={
                names[index]: {"text": PRECISION_NOTE, "author": "Excel export", "width": 256, "height": 112}
                for index in sorted(self._counts.noted_columns)
            },
            page_setup=page_setup(len(columns), layout.header_row, self._export_id),
        )
        if written >= self._rows_per_sheet and (len(converted_sample) > written or next(rows, None) is not None):
            # The reference writer writes this file again: a stale one left here would count
            # against the /tmp guard (a directory walk) for the whole second pass.
            os.remove(self._path)
            raise SheetLimitReached(source.name)
        return SheetSummary(name=excel_sheet_name(source.name), row_count=written, sheet_names=[excel_sheet_name(source.name)])


def _freeze(layout: SheetLayout) -> tuple[int | None, int | None]:
    if layout.freeze_cell:
        return _cell_position(layout.freeze_cell)
    if layout.freeze_header:
        return layout.header_row + 1, 0
    return None, None


def _cell_position(cell: str) -> tuple[int, int]:
    """(row, column), 0-based, of an A1 cell name (report_options checked its form)."""
    cell = cell.replace("$", "").upper()
    letters = cell.rstrip("0123456789")
    col = 0
    for letter in letters:
        col = col * 26 + ord(letter) - ord("A") + 1
    return int(cell[len(letters) :]) - 1, col - 1


def _width(layout: SheetLayout, column: Column, width: float) -> float:
    spec = layout.columns.get(column.name)
    return spec.width if spec is not None and spec.width is not None else width


def _formats(layout: SheetLayout, columns: Sequence[Column]) -> dict[str, Any]:
    """Number formats by column name, only for the columns that have one: a column given a format
    costs rust_xlsxwriter a lookup per cell (100,000 rows: 1.15 s with none, 1.5 s with all 12)."""
    from rustpy_xlsxwriter import Format

    formats = {}
    for column in columns:
        spec = layout.columns.get(column.name)
        pattern = spec.number_format if spec is not None and spec.number_format is not None else number_format(column)
        if pattern:
            formats[column.name] = Format().set_num_format(pattern)
    return formats


def _header_format() -> Any:
    """``workbook.HEADER_STYLE`` as a rustpy-xlsxwriter Format."""
    from rustpy_xlsxwriter import Format

    header = Format().set_font_color(HEADER_STYLE["font_color"]).set_background_color(HEADER_STYLE["bg_color"])
    header = header.set_bold() if HEADER_STYLE.get("bold") else header
    return header.set_border_bottom(_BORDER_STYLES[HEADER_STYLE["bottom"]]) if HEADER_STYLE.get("bottom") else header
