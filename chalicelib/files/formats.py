"""Export file formats (xlsx, csv, csv.gz): choosing one per request or report, opening its writer.

Every writer takes sheets the same way (``add_sheet(SheetSource)``), so the pipeline streams rows
without knowing which file it fills. Pure apart from the writers it opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.errors import BadRequestError, TemplateError
from chalicelib.files.guards import FinishCost

if TYPE_CHECKING:
    from chalicelib.files.workbook import SheetLayout, SheetSource, SheetSummary


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    content_type: str
    finish: FinishCost


# XlsxWriter's close() copies the streamed row data into the sheet XML, then zips it: for a
# moment /tmp holds the rows twice plus the archive, and closing costs a fraction of the streaming
# time. A CSV is finished as it is written.
XLSX = ExportFormat("xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", FinishCost(2.3, 0.3))
CSV = ExportFormat("csv", "csv", "text/csv; charset=utf-8", FinishCost(1.0, 0.02))
CSV_GZ = ExportFormat("csv.gz", "csv.gz", "application/gzip", FinishCost(1.0, 0.02))
FORMATS = {fmt.name: fmt for fmt in (XLSX, CSV, CSV_GZ)}
DEFAULT_FORMAT = XLSX


class TableWriter(Protocol):
    sheets: list[SheetSummary]
    engine: str  # which writer ran: xlsxwriter, rustpy-xlsxwriter or csv (the status shows it)

    @property
    def truncated_cells(self) -> int: ...

    @property
    def numbers_as_text(self) -> int: ...

    def add_sheet(self, source: SheetSource) -> SheetSummary: ...

    def __enter__(self) -> TableWriter: ...

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None: ...


def choose_format(requested: Any, report_default: Any = None) -> ExportFormat:
    """The request's ``format`` if given, else the report header's ``format:``, else xlsx."""
    if requested is not None:
        if not isinstance(requested, str) or requested not in FORMATS:
            raise BadRequestError(f"format must be one of {', '.join(FORMATS)}", field="format", code="invalid_format")
        return FORMATS[requested]
    if report_default is not None:
        if not isinstance(report_default, str) or report_default not in FORMATS:
            raise TemplateError(f"header 'format' must be one of {', '.join(FORMATS)}, got {report_default!r}")
        return FORMATS[report_default]
    return DEFAULT_FORMAT


def open_writer(
    fmt: ExportFormat,
    path: str,
    *,
    tmp_dir: str,
    rows_per_sheet: int | None = None,
    layouts: Sequence[SheetLayout] | None = None,
    export_id: str | None = None,
    fast: bool = True,
) -> TableWriter:
    """The format's writer; ``rows_per_sheet`` (None: Excel's limit) is lowered only by tests.

    For xlsx, given the file's sheet layouts, the fast writer when it can honour them all and is
    installed (``fast=False`` asks for the XlsxWriter reference writer, as the fallback does).
    ``export_id`` goes into the printed footer of either xlsx writer."""
    # Imported on use: the API function only chooses a format, and the writers are a cold-start cost.
    if fmt is XLSX:
        # (workbook imports no XlsxWriter until a reference writer opens; the fast writer imports workbook anyway)
        from chalicelib.files.workbook import DATA_ROWS_PER_SHEET, WorkbookWriter

        per_sheet = rows_per_sheet or DATA_ROWS_PER_SHEET
        if fast and layouts is not None:
            from chalicelib.files.fastbook import FastWorkbookWriter, fast_writer_can_write

            if fast_writer_can_write(layouts):
                return FastWorkbookWriter(path, tmp_dir=tmp_dir, rows_per_sheet=per_sheet, export_id=export_id)
        return WorkbookWriter(path, tmp_dir=tmp_dir, rows_per_sheet=per_sheet, export_id=export_id)
    from chalicelib.files.csvfile import CsvWriter

    return CsvWriter(path, compress=fmt is CSV_GZ)
