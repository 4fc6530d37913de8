"""One measurement in its own process: ``python -m bench.measure KIND ROWS WORK_DIR DB_PORT``.

Prints one JSON line ``{"rows": ..., "seconds": ...}``; the parent reads the peak RSS of this
process from the OS (``wait4``), so every number includes the interpreter and its imports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors

from bench.seed import TABLE
from chalicelib.database import open_query
from chalicelib.files.formats import CSV_GZ, XLSX, ExportFormat
from chalicelib.files.guards import ExportGuard, GuardLimits
from chalicelib.files.pipeline import QueryLimits, stream_query_to_file
from chalicelib.secrets import DatabaseCredentials
from chalicelib.templating.template import RenderedQuery
from devstack import stack

QUERY = f"SELECT * FROM {TABLE} WHERE id <= %s ORDER BY id"
BATCH_ROWS = 2000


def credentials(port: int) -> DatabaseCredentials:
    return DatabaseCredentials(host="127.0.0.1", port=port, user=stack.READONLY_USER, database=stack.DATABASE, password=stack.READONLY_PASSWORD)


def query(rows: int) -> RenderedQuery:
    return RenderedQuery(sql=QUERY, args=(rows,))


def all_rows(port: int, rows: int) -> list[tuple[Any, ...]]:
    """What a naive export does first: the whole result in memory (pymysql's buffered cursor)."""
    connection = pymysql.connect(host="127.0.0.1", port=port, user=stack.READONLY_USER, password=stack.READONLY_PASSWORD, database=stack.DATABASE)
    with connection, connection.cursor() as cursor:
        cursor.execute(QUERY, (rows,))
        return list(cursor.fetchall())


def pipeline(fmt: ExportFormat, *, fast: bool = True) -> Callable[[int, str, int], int]:
    def run(rows: int, work_dir: str, port: int) -> int:
        guard = ExportGuard(work_dir, fmt.finish, GuardLimits())
        destination = (fmt, os.path.join(work_dir, f"export.{fmt.extension}"), "Orders")
        summary = stream_query_to_file(credentials(port), query(rows), QueryLimits(600, BATCH_ROWS), destination, guard=guard, fast=fast)
        expected = "csv" if fmt is not XLSX else "rustpy-xlsxwriter" if fast else "xlsxwriter"
        assert summary.writer == expected, summary.writer
        return summary.row_count

    return run


def fetch_floor(rows: int, _work_dir: str, port: int) -> int:
    """The stock pymysql cursor (its decoders on), unbuffered, rows discarded: the floor the targets use."""
    count = 0
    connection = pymysql.connect(host="127.0.0.1", port=port, user=stack.READONLY_USER, password=stack.READONLY_PASSWORD, database=stack.DATABASE)
    with connection, pymysql.cursors.SSCursor(connection) as cursor:
        cursor.execute(QUERY, (rows,))
        while batch := cursor.fetchmany(BATCH_ROWS):
            count += len(batch)
    return count


def text_cursor(rows: int, _work_dir: str, port: int) -> int:
    """The export's own cursor (chalicelib.database, decoders off: the server's text), rows discarded."""
    count = 0
    with open_query(credentials(port), query(rows), timeout_seconds=600, batch_rows=BATCH_ROWS) as result:
        for _row in result.rows:
            count += 1
    return count


def xlsxwriter_options() -> dict[str, Any]:
    return {"strings_to_formulas": False, "strings_to_urls": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"}


def write_with_xlsxwriter(data: list[tuple[Any, ...]], path: str, options: dict[str, Any]) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(path, options)
    sheet = workbook.add_worksheet("Orders")
    for row_number, row in enumerate(data):
        sheet.write_row(row_number, 0, row)
    workbook.close()
    return len(data)


def naive_xlsxwriter(rows: int, work_dir: str, port: int) -> int:
    return write_with_xlsxwriter(all_rows(port, rows), os.path.join(work_dir, "naive.xlsx"), xlsxwriter_options())


def naive_openpyxl(rows: int, work_dir: str, port: int) -> int:
    import openpyxl

    data = all_rows(port, rows)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in data:
        sheet.append(row)
    workbook.save(os.path.join(work_dir, "naive-openpyxl.xlsx"))
    return len(data)


MEASUREMENTS: dict[str, Callable[[int, str, int], int]] = {
    "pipeline": pipeline(XLSX),
    "pipeline_reference": pipeline(XLSX, fast=False),
    "text_cursor": text_cursor,
    "pipeline_csv_gz": pipeline(CSV_GZ),
    "fetch_floor": fetch_floor,
    "naive_xlsxwriter": naive_xlsxwriter,
    "naive_openpyxl": naive_openpyxl,
}


def xlsxwriter_floor(rows: int, work_dir: str, port: int) -> tuple[int, float]:
    """XlsxWriter constant_memory writing rows already in memory: only the writing is timed."""
    data = all_rows(port, rows)
    started = time.perf_counter()
    count = write_with_xlsxwriter(data, os.path.join(work_dir, "floor.xlsx"), {**xlsxwriter_options(), "constant_memory": True, "tmpdir": work_dir})
    return count, time.perf_counter() - started


def main(argv: list[str]) -> int:
    kind, rows, work_dir, port = argv[0], int(argv[1]), argv[2], int(argv[3])
    if kind == "xlsxwriter_floor":
        count, seconds = xlsxwriter_floor(rows, work_dir, port)
    else:
        started = time.perf_counter()
        count = MEASUREMENTS[kind](rows, work_dir, port)
        seconds = time.perf_counter() - started
    print(json.dumps({"rows": count, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
