"""Writing rows to CSV (optionally gzip-compressed), for results past what a spreadsheet is good for.

UTF-8 with a byte order mark, so Excel opens Korean text right; CRLF line ends and minimal quoting
(the csv module's ``excel`` dialect). The server's text is converted once per column by the
conversion table in ``chalicelib.files.cells`` (the one the fast xlsx writer uses): dates ISO 8601, TIME
as ``[-]HH:MM:SS[.ffffff]``, DECIMAL with every digit in plain notation, BLOB/BINARY as hex or
``<N bytes>``, zero dates and NULL empty. Text that a spreadsheet would run as a formula
(leading ``= + - @``, tab or CR) gets a leading apostrophe, the OWASP advice for CSV injection.
A CSV holds one table, so a writer takes one sheet.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from chalicelib.errors import ExportServiceError
from chalicelib.files.cells import FORMULA_LEADS, csv_converter, csv_text, row_converter
from chalicelib.files.workbook import SheetSource, SheetSummary

__all__ = ["FORMULA_LEADS", "csv_text"]  # their home is chalicelib.files.cells

Converter = Callable[[Any], Any]


class CsvSheetLimitError(ExportServiceError):
    code = "csv_one_sheet"


class CsvWriter:
    """A CSV (or csv.gz) file with one header row and the rows of one source."""

    def __init__(self, path: str, *, compress: bool = False) -> None:
        self._file = _open_text(path, compress=compress)
        self._writer = csv.writer(self._file)
        self.sheets: list[SheetSummary] = []
        self.truncated_cells = 0  # a CSV cell has no length limit
        self.numbers_as_text = 0
        self.engine = "csv"

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add_sheet(self, source: SheetSource) -> SheetSummary:
        if self.sheets:
            raise CsvSheetLimitError("a CSV file holds one table: export this report as xlsx to get several sheets", field="format")
        self._writer.writerow([column.name for column in source.columns])
        if not source.text_rows:
            # One conversion table (chalicelib.files.cells) reads the server's text: Python objects would need a second one.
            raise ValueError("the CSV writer takes rows of the server's text, as the export's cursor hands them over")
        converters = [csv_converter(column) for column in source.columns]
        row_count = _write_rows(self._writer, converters, source.rows)
        summary = SheetSummary(name=source.name, row_count=row_count, sheet_names=[source.name])
        self.sheets.append(summary)
        return summary

    def close(self) -> None:
        self._file.close()


def _open_text(path: str, *, compress: bool) -> IO[str]:
    # The BOM goes inside the compressed stream: it is for whoever opens the .csv. Both files are
    # closed by CsvWriter.close().
    if compress:
        return gzip.open(path, "wt", encoding="utf-8-sig", newline="", compresslevel=6)
    return open(path, "w", encoding="utf-8-sig", newline="")


def _write_rows(writer: Any, converters: Sequence[Converter | None], rows: Iterable[Sequence[Any]]) -> int:
    write = writer.writerow
    row_count = 0
    for values in map(row_converter(converters), rows):
        write(values)
        row_count += 1
    return row_count
