"""The export pipeline: template -> parameters -> SQL -> rows -> file (xlsx/csv/csv.gz) -> S3 object.

One pipeline serves the Lambda worker, the local background thread and the command line; each
step is a small method so callers can reuse a part (``check`` a template, ``render`` a query).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.database import open_query
from chalicelib.formats import DEFAULT_FORMAT, XLSX, ExportFormat, open_writer
from chalicelib.guards import MIB, ExportGuard, GuardLimits, RemainingMillis, TmpSpaceError
from chalicelib.params import resolve_parameters
from chalicelib.secrets import DatabaseCredentials, SecretStore
from chalicelib.settings import Settings
from chalicelib.storage import ExportStorage, StoredFile
from chalicelib.templates import RenderedQuery, ReportTemplate, parse_template, validate_report_name
from chalicelib.workbook import DATA_ROWS_PER_SHEET, SheetSource

XLSX_CONTENT_TYPE = XLSX.content_type
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass(frozen=True)
class FileSummary:
    row_count: int
    truncated_cells: int
    numbers_as_text: int
    sheet_names: list[str]


@dataclass(frozen=True)
class ExportResult:
    row_count: int
    truncated_cells: int
    stored: StoredFile
    file_name: str
    query_seconds: float
    total_seconds: float
    format: str = DEFAULT_FORMAT.name
    sheet_names: tuple[str, ...] = ()
    numbers_as_text: int = 0


@dataclass(frozen=True)
class QueryLimits:
    timeout_seconds: int
    batch_rows: int


def stream_query_to_file(
    credentials: DatabaseCredentials,
    query: RenderedQuery,
    limits: QueryLimits,
    destination: tuple[ExportFormat, str, str],
    *,
    guard: ExportGuard | None = None,
    rows_per_sheet: int = DATA_ROWS_PER_SHEET,
) -> tuple[FileSummary, float]:
    """Stream one query's rows into a file (format, path, sheet title); return it and the query time.

    This is the whole hot path, shared by the worker and the benchmark: an unbuffered cursor read
    in batches, the guard's pass-through, and the format's writer; no row is kept.
    """
    fmt, path, title = destination
    started = time.monotonic()
    with open_query(credentials, query, timeout_seconds=limits.timeout_seconds, batch_rows=limits.batch_rows) as result:
        query_seconds = time.monotonic() - started
        rows = guard.watch(result.rows) if guard is not None else result.rows
        with open_writer(fmt, path, tmp_dir=os.path.dirname(path), rows_per_sheet=rows_per_sheet) as writer:
            sheet = writer.add_sheet(SheetSource(name=title, columns=result.columns, rows=rows))
    summary = FileSummary(
        row_count=sheet.row_count,
        truncated_cells=writer.truncated_cells,
        numbers_as_text=writer.numbers_as_text,
        sheet_names=sheet.sheet_names,
    )
    return summary, query_seconds


def export_file_name(title: str, params: Mapping[str, Any], created_at: dt.datetime, extension: str = "xlsx") -> str:
    """A human-readable file name: title, parameter values and the creation time."""
    values = [str(value) if not isinstance(value, list) else "+".join(map(str, value)) for value in params.values() if value is not None]
    parts = [title, *values, created_at.strftime("%Y%m%d-%H%M")]
    name = _UNSAFE_FILE_CHARS.sub("_", " ".join(part for part in parts if part)).strip()
    return f"{name[:150]}.{extension}"


class ExportPipeline:
    def __init__(self, settings: Settings, storage: ExportStorage, secrets: SecretStore, *, rows_per_sheet: int = DATA_ROWS_PER_SHEET) -> None:
        self.settings = settings
        self.storage = storage
        self.secrets = secrets
        self.rows_per_sheet = rows_per_sheet

    def load_template(self, name: str) -> ReportTemplate:
        validate_report_name(name)
        stored = self.storage.read_template(name)
        return parse_template(name, stored.source)

    def report_zone(self, template: ReportTemplate) -> ZoneInfo:
        return ZoneInfo(template.timezone) if template.timezone else self.settings.zone

    def resolve(self, template: ReportTemplate, supplied: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """Validate and coerce parameters; relative dates are resolved in the report's time zone."""
        now = now or dt.datetime.now(dt.UTC)
        today = now.astimezone(self.report_zone(template)).date()
        return resolve_parameters(template.params, supplied, today=today)

    def render(self, template: ReportTemplate, values: Mapping[str, Any]) -> RenderedQuery:
        return template.render(values)

    def write_file(
        self, template: ReportTemplate, query: RenderedQuery, path: str, fmt: ExportFormat = DEFAULT_FORMAT, guard: ExportGuard | None = None
    ) -> tuple[FileSummary, float]:
        """Stream the query's rows into a file at ``path``; return the summary and query time."""
        credentials = self.secrets.database_credentials(self.settings.db_secret_name)
        limits = QueryLimits(timeout_seconds=self.settings.statement_timeout_seconds, batch_rows=self.settings.fetch_batch_rows)
        try:
            return stream_query_to_file(credentials, query, limits, (fmt, path, template.title), guard=guard, rows_per_sheet=self.rows_per_sheet)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # another writer took the space the guard counted on
                raise TmpSpaceError("/tmp filled up while writing the file: raise ephemeral storage or use csv.gz") from None
            raise

    def export(
        self,
        export_id: str,
        template: ReportTemplate,
        values: Mapping[str, Any],
        created_at: dt.datetime,
        *,
        fmt: ExportFormat = DEFAULT_FORMAT,
        remaining_millis: RemainingMillis | None = None,
    ) -> ExportResult:
        started = time.monotonic()
        query = self.render(template, values)
        local_created = created_at.astimezone(self.report_zone(template))
        file_name = export_file_name(template.title, values, local_created, fmt.extension)
        key = f"{self.settings.exports_prefix}{created_at:%Y/%m/%d}/{export_id}/{template.name}.{fmt.extension}"
        with tempfile.TemporaryDirectory(prefix="export-", dir=self.settings.tmp_dir) as work_dir:
            guard = ExportGuard(work_dir, fmt.finish, self.guard_limits(), remaining_millis=remaining_millis)
            guard.check_start()
            path = os.path.join(work_dir, f"export.{fmt.extension}")
            summary, query_seconds = self.write_file(template, query, path, fmt, guard)
            stored = self.storage.upload_export(path, key, file_name=file_name, content_type=fmt.content_type)
        return ExportResult(
            row_count=summary.row_count,
            truncated_cells=summary.truncated_cells,
            stored=stored,
            file_name=file_name,
            query_seconds=query_seconds,
            total_seconds=time.monotonic() - started,
            format=fmt.name,
            sheet_names=tuple(summary.sheet_names),
            numbers_as_text=summary.numbers_as_text,
        )

    def guard_limits(self) -> GuardLimits:
        return GuardLimits(tmp_budget_bytes=self.settings.tmp_budget_mb * MIB or None)
