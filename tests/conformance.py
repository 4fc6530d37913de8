"""The writer conformance suite's reading side: what a user sees in an .xlsx, as plain data.

Every .xlsx writer must produce, for the same rows, the same workbook as the XlsxWriter reference
writer (``chalicelib.files.workbook``), read back with openpyxl: each cell's value and type, each number
cell's number format, each column's width, hidden flag and "stored as text" note, the header's
look, the frozen panes, the filter and the sheet names. Two differences are allowed on purpose:
- the note: the reference puts it on the column's first text cell (its header row is flushed by
  then), the fast writer on the column's header cell (it can note only headers); what is compared
  is which columns carry the note;
- a text cell's number format, which Excel never shows (a text cell in a date column keeps the
  column's date format in the fast writer, General in the reference).
The layout spec (WORKBOOK_LAYOUT_SPEC: header style, width padding, print setup) is checked
against the spec itself as well (``spec_differences``), for every writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from chalicelib.database import Column
from chalicelib.files.fastbook import FastWorkbookWriter
from chalicelib.files.workbook import SheetLayout, SheetSource, WorkbookWriter

PRECISION_NOTE_START = "Stored as text"
WRITERS = ("xlsxwriter", "rustpy-xlsxwriter")
SPEC_HEADER = {"font_color": "FFFFFFFF", "fill": "FF1F4E78", "bottom": "thin"}


@dataclass
class SheetView:
    name: str
    cells: dict[tuple[int, int], tuple[Any, str, str | None]]  # (value, openpyxl data type, number format of number cells)
    noted_columns: set[int]
    widths: dict[str, float]
    hidden: set[str]
    freeze: str | None
    autofilter: str | None
    header_bold: list[bool]
    header: dict[str, Any] = field(default_factory=dict)  # the spec's header look, of the first header cell
    print_setup: dict[str, Any] = field(default_factory=dict)


def _cell_entry(cell: Cell) -> tuple[Any, str, str | None]:
    number_format = cell.number_format if cell.data_type in ("n", "d") and cell.value is not None else None
    return cell.value, cell.data_type, number_format


def read_sheet(sheet: Worksheet, header_row: int) -> SheetView:
    cells = {(cell.row, cell.column): _cell_entry(cell) for row in sheet.iter_rows() for cell in row if cell.value is not None}
    noted = {cell.column for row in sheet.iter_rows() for cell in row if cell.comment is not None and PRECISION_NOTE_START in cell.comment.text}
    dimensions = sheet.column_dimensions
    # openpyxl groups neighbouring columns of one width under the first one's letter.
    widths = {
        get_column_letter(index): round(float(dim.width), 2) for dim in dimensions.values() if dim.width for index in range(dim.min, dim.max + 1)
    }
    header_cells = list(sheet[header_row]) if sheet.max_row >= header_row else []
    first = header_cells[0] if header_cells else None
    setup = sheet.page_setup
    return SheetView(
        name=sheet.title,
        cells=cells,
        noted_columns=noted,
        widths=widths,
        hidden={get_column_letter(index) for dim in dimensions.values() if dim.hidden for index in range(dim.min, dim.max + 1)},
        freeze=sheet.freeze_panes,
        autofilter=sheet.auto_filter.ref,
        header_bold=[bool(cell.font.b) for cell in header_cells],
        header={
            "font_color": first.font.color.rgb if first is not None and first.font.color is not None else None,
            "fill": first.fill.fgColor.rgb if first is not None and first.fill.fill_type == "solid" else None,
            "bottom": first.border.bottom.style if first is not None else None,
        },
        print_setup={
            "orientation": setup.orientation,
            "fit_to_page": bool(sheet.sheet_properties.pageSetUpPr and sheet.sheet_properties.pageSetUpPr.fitToPage),
            "fit_to_width": setup.fitToWidth if setup.fitToWidth is not None else 1,
            "fit_to_height": setup.fitToHeight,
            "repeat_rows": sheet.print_title_rows,
            "footer_left": sheet.oddFooter.left.text,
            "footer_right": sheet.oddFooter.right.text,
        },
    )


def read_book(path: Path, header_row: int = 1) -> list[SheetView]:
    book = openpyxl.load_workbook(path)
    return [read_sheet(sheet, header_row) for sheet in book.worksheets]


def differences(reference: Sequence[SheetView], candidate: Sequence[SheetView]) -> list[str]:
    """What a user would see differ, cell by cell and format by format (empty: the same workbook)."""
    found: list[str] = []
    if [sheet.name for sheet in reference] != [sheet.name for sheet in candidate]:
        return [f"sheet names {[s.name for s in reference]} != {[s.name for s in candidate]}"]
    for ref, other in zip(reference, candidate, strict=True):
        for key in sorted(set(ref.cells) | set(other.cells)):
            if not _same_cell(ref.cells.get(key), other.cells.get(key)):
                found.append(f"{ref.name}!R{key[0]}C{key[1]}: {ref.cells.get(key)!r} != {other.cells.get(key)!r}")
        for attribute in ("noted_columns", "hidden", "freeze", "autofilter", "header_bold"):
            if getattr(ref, attribute) != getattr(other, attribute):
                found.append(f"{ref.name} {attribute}: {getattr(ref, attribute)!r} != {getattr(other, attribute)!r}")
        # Both writers use one width rule (chalicelib.files.workbook.column_width): widths match exactly.
        for letter in sorted(set(ref.widths) | set(other.widths)):
            if ref.widths.get(letter) != other.widths.get(letter):
                found.append(f"{ref.name} width of {letter}: {ref.widths.get(letter)} != {other.widths.get(letter)}")
    return found


def _same_cell(ref: tuple[Any, str, str | None] | None, other: tuple[Any, str, str | None] | None) -> bool:
    # An empty text cell (the reference's) and no cell (the fast writer's) look the same in Excel.
    ref, other = (None if entry is not None and entry[:2] == ("", "s") else entry for entry in (ref, other))
    if ref is None or other is None or ref[1] != "n" or other[1] != "n":
        return ref == other  # tuples compare 1 == 1.0: openpyxl reads a whole double back as int or float
    # XlsxWriter stores doubles with 16 significant digits ("%.16G"), the fast writer the shortest
    # exact form: the fast writer's number, at the reference's precision, must be the same.
    return float(f"{other[0]:.16G}") == ref[0] and ref[2] == other[2]


def spec_differences(sheets: Sequence[SheetView], *, export_id: str | None, visible_columns: int, header_rows: str = "$1:$1") -> list[str]:
    """WORKBOOK_LAYOUT_SPEC, sheet by sheet."""
    expected_header = SPEC_HEADER
    expected_print = {
        "orientation": "landscape" if visible_columns > 6 else "portrait",
        "fit_to_page": True,
        "fit_to_width": 1,
        "fit_to_height": 0,
        "repeat_rows": header_rows,
        "footer_left": export_id,
        "footer_right": "Page &P of &N",
    }
    found = []
    for sheet in sheets:
        if sheet.header != expected_header:
            found.append(f"{sheet.name} header {sheet.header} != {expected_header}")
        for key, value in expected_print.items():
            if sheet.print_setup.get(key) != value and not (key == "orientation" and value == "portrait" and sheet.print_setup.get(key) is None):
                found.append(f"{sheet.name} print {key}: {sheet.print_setup.get(key)!r} != {value!r}")
    return found


def write_with(engine: str, path: Path, sources: Sequence[SheetSource], *, rows_per_sheet: int = 1_048_575, export_id: str | None = None) -> str:
    """Write sources with one writer; returns the engine that actually wrote the file."""
    writer: FastWorkbookWriter | WorkbookWriter
    if engine == "rustpy-xlsxwriter":
        writer = FastWorkbookWriter(str(path), tmp_dir=str(path.parent), rows_per_sheet=rows_per_sheet, export_id=export_id)
    else:
        writer = WorkbookWriter(str(path), tmp_dir=str(path.parent), rows_per_sheet=rows_per_sheet, export_id=export_id)
    with writer:
        for source in sources:
            writer.add_sheet(source)
    return writer.engine


def text_source(name: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], layout: SheetLayout | None = None) -> SheetSource:
    """A source of server text rows, as the export's cursor hands them over."""
    return SheetSource(name=name, columns=list(columns), rows=iter(list(rows)), layout=layout or SheetLayout(), text_rows=True)
