"""Writing rows to CSV (optionally gzip-compressed), for results past what a spreadsheet is good for.

UTF-8 with a byte order mark, so Excel opens Korean text right; CRLF line ends and minimal quoting
(the csv module's ``excel`` dialect). Values are converted once per column from the MySQL type
code: dates ISO 8601, TIME as ``[-]HH:MM:SS[.ffffff]``, DECIMAL with every digit, BLOB/BINARY as
hex or ``<N bytes>``, zero dates and NULL empty. Text that a spreadsheet would run as a formula
(leading ``= + - @``, tab or CR) gets a leading apostrophe, the OWASP advice for CSV injection.
A CSV holds one table, so a writer takes one sheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import IO, Any

from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.errors import ExportServiceError
from chalicelib.workbook import SheetSource, SheetSummary, binary_text, time_text

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_DATE_TYPES = {FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE}
_DATETIME_TYPES = {FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP}
# Numbers and NULL need no conversion: the csv module writes str(number) and None as "".
_NUMBER_TYPES = {
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
    FIELD_TYPE.FLOAT,
    FIELD_TYPE.DOUBLE,
}
_DECIMAL_TYPES = {FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL}

Converter = Callable[[Any], Any]


class CsvSheetLimitError(ExportServiceError):
    code = "csv_one_sheet"


def csv_text(value: Any) -> str:
    text = binary_text(value) if isinstance(value, (bytes, bytearray)) else str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _date_or_empty(value: Any) -> Any:
    return value if isinstance(value, dt.date) else ""  # '0000-00-00' comes back as text


def _time(value: Any) -> str:
    return time_text(value) if isinstance(value, dt.timedelta) else csv_text(value)


def _decimal(value: Any) -> Any:
    # str(Decimal) switches to scientific notation for small values ("1E-10"); "f" keeps every
    # digit in plain notation, as the column's scale has them.
    return format(value, "f") if isinstance(value, Decimal) else value


def _bit(value: Any) -> Any:
    return int.from_bytes(value, "big") if isinstance(value, (bytes, bytearray)) else value


def _binary(value: Any) -> str:
    return binary_text(value) if isinstance(value, (bytes, bytearray)) else csv_text(value)


def converter_for(column: Column) -> Converter | None:
    """The conversion a column's values need before the csv module writes them (None: none)."""
    code = column.type_code
    if code in _NUMBER_TYPES:
        return None
    if code in _DECIMAL_TYPES:
        return _decimal
    if code in _DATE_TYPES or code in _DATETIME_TYPES:
        return _date_or_empty  # str(date) and str(datetime) are already ISO 8601 with microseconds
    if code == FIELD_TYPE.TIME:
        return _time
    if code == FIELD_TYPE.BIT:
        return _bit
    if column.binary:
        return _binary
    return csv_text


class CsvWriter:
    """A CSV (or csv.gz) file with one header row and the rows of one source."""

    def __init__(self, path: str, *, compress: bool = False) -> None:
        self._file = _open_text(path, compress=compress)
        self._writer = csv.writer(self._file)
        self.sheets: list[SheetSummary] = []
        self.truncated_cells = 0  # a CSV cell has no length limit
        self.numbers_as_text = 0

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add_sheet(self, source: SheetSource) -> SheetSummary:
        if self.sheets:
            raise CsvSheetLimitError("a CSV file holds one table: export this report as xlsx to get several sheets", field="format")
        self._writer.writerow([column.name for column in source.columns])
        row_count = _write_rows(self._writer, [converter_for(column) for column in source.columns], source.rows)
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
    conversions = [(index, convert) for index, convert in enumerate(converters) if convert is not None]
    row_count = 0
    for row in rows:
        row_count += 1
        if conversions:
            values = list(row)
            for index, convert in conversions:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            writer.writerow(values)
        else:
            writer.writerow(row)
    return row_count
