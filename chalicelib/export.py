"""The export pipeline: template -> parameters -> SQL -> rows -> workbook -> S3 object.

One pipeline serves the Lambda worker, the local background thread and the command line; each
step is a small method so callers can reuse a part (``check`` a template, ``render`` a query).
A template with several ``-- sheet:`` queries runs them one after another, each streamed into its
own sheet of the same file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.errors import EmptyResultError
from chalicelib.observability import log_event, rows_progress
from chalicelib.params import resolve_parameters, to_json_params
from chalicelib.secrets import SecretStore
from chalicelib.settings import Settings
from chalicelib.sources import S3TemplateSource, TemplateSource
from chalicelib.storage import ExportStorage, StoredFile
from chalicelib.templates import RenderedQuery, RenderedSheet, ReportTemplate, parse_template, render_sheets, validate_report_name

if TYPE_CHECKING:
    from chalicelib.workbook import SheetLayout, SheetSummary

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_PROGRESS_EVERY_ROWS = 1000

# Told (sheet name, rows written to it so far) while rows stream; the command line draws progress with it.
ProgressCallback = Callable[[str, int], None]


@dataclass(frozen=True)
class WrittenFile:
    sheets: Sequence[SheetSummary]
    truncated_cells: int
    query_seconds: float
    write_seconds: float = 0.0  # streaming rows from the cursor into the workbook, after the queries started

    @property
    def row_count(self) -> int:
        return sum(sheet.row_count for sheet in self.sheets)


@dataclass(frozen=True)
class ExportResult:
    row_count: int
    truncated_cells: int
    stored: StoredFile
    file_name: str
    query_seconds: float
    total_seconds: float
    sheets: Sequence[SheetSummary] = ()
    write_seconds: float = 0.0
    upload_seconds: float = 0.0


def export_file_name(title: str, params: Mapping[str, Any], created_at: dt.datetime, extension: str = "xlsx") -> str:
    """A human-readable file name: title, parameter values and the creation time."""
    values = [str(value) if not isinstance(value, list) else "+".join(map(str, value)) for value in params.values() if value is not None]
    parts = [title, *values, created_at.strftime("%Y%m%d-%H%M")]
    name = _UNSAFE_FILE_CHARS.sub("_", " ".join(part for part in parts if part)).strip()
    return f"{name[:150]}.{extension}"


def title_row_text(template: ReportTemplate, values: Mapping[str, Any]) -> str:
    shown = [f"{name}: {value}" for name, value in to_json_params(values).items() if value is not None]
    return f"{template.title} ({', '.join(shown)})" if shown else template.title


def sheet_layout(template: ReportTemplate, values: Mapping[str, Any]) -> SheetLayout:
    from chalicelib.workbook import SheetLayout

    options = template.options
    return SheetLayout(
        freeze_header=options.freeze is not False,
        freeze_cell=options.freeze if isinstance(options.freeze, str) else None,
        autofilter=options.autofilter,
        title=options.title_text(title_row_text(template, values)),
        columns=options.columns,
    )


def _reporting(rows: Iterable[Sequence[Any]], sheet: str, progress: ProgressCallback) -> Iterator[Sequence[Any]]:
    count = 0
    for count, row in enumerate(rows, start=1):
        yield row
        if count % _PROGRESS_EVERY_ROWS == 0:
            progress(sheet, count)
    progress(sheet, count)


class ExportPipeline:
    def __init__(self, settings: Settings, storage: ExportStorage, secrets: SecretStore, templates: TemplateSource | None = None) -> None:
        self.settings = settings
        self.storage = storage
        self.secrets = secrets
        self.templates: TemplateSource = templates or S3TemplateSource(storage)

    def load_template(self, name: str) -> ReportTemplate:
        validate_report_name(name)
        return parse_template(name, self.templates.read(name))

    def report_zone(self, template: ReportTemplate) -> ZoneInfo:
        return ZoneInfo(template.timezone) if template.timezone else self.settings.zone

    def resolve(self, template: ReportTemplate, supplied: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """Validate and coerce parameters; relative dates are resolved in the report's time zone."""
        now = now or dt.datetime.now(dt.UTC)
        today = now.astimezone(self.report_zone(template)).date()
        return resolve_parameters(template.params, supplied, today=today)

    def render(self, template: ReportTemplate, values: Mapping[str, Any]) -> RenderedQuery:
        return template.render(values)

    def render_sheets(self, template: ReportTemplate, values: Mapping[str, Any]) -> list[RenderedSheet]:
        return render_sheets(template, values)

    def file_name(self, template: ReportTemplate, values: Mapping[str, Any], created_at: dt.datetime) -> str:
        return export_file_name(template.title, values, created_at.astimezone(self.report_zone(template)))

    def write_file(self, template: ReportTemplate, values: Mapping[str, Any], path: str, *, progress: ProgressCallback | None = None) -> WrittenFile:
        """Stream each sheet's rows into an .xlsx at ``path``, one query after another."""
        # Imported here, not at the top: the API function never queries or writes a workbook, and
        # pymysql and XlsxWriter would add about a third to its cold start (README, "Cold start").
        from chalicelib.database import open_query
        from chalicelib.workbook import SheetSource, WorkbookWriter

        sheets = self.render_sheets(template, values)  # every query renders before the database is touched
        layout = sheet_layout(template, values)
        credentials = self.secrets.database_credentials(self.settings.db_secret_name)
        query_seconds = 0.0
        writing_started = time.monotonic()
        with WorkbookWriter(path, tmp_dir=os.path.dirname(path)) as writer:
            for sheet in sheets:
                started = time.monotonic()
                log_event("query_started", "query started", sheet=sheet.name, bound_values=len(sheet.query.args))
                with open_query(
                    credentials, sheet.query, timeout_seconds=self.settings.statement_timeout_seconds, batch_rows=self.settings.fetch_batch_rows
                ) as result:
                    query_seconds += time.monotonic() - started
                    rows: Iterable[Sequence[Any]] = rows_progress(result.rows, sheet=sheet.name, every_seconds=self.settings.rows_log_seconds)
                    rows = rows if progress is None else _reporting(rows, sheet.name, progress)
                    writer.add_sheet(SheetSource(name=sheet.name, columns=result.columns, rows=rows, layout=layout))
        write_seconds = time.monotonic() - writing_started - query_seconds
        written = WrittenFile(
            sheets=tuple(writer.sheets), truncated_cells=writer.truncated_cells, query_seconds=query_seconds, write_seconds=write_seconds
        )
        if written.row_count == 0 and template.options.on_empty == "fail":
            raise EmptyResultError("the query returned no rows (the report says on_empty: fail)")
        return written

    def export(
        self,
        export_id: str,
        template: ReportTemplate,
        values: Mapping[str, Any],
        created_at: dt.datetime,
        *,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        started = time.monotonic()
        local_created = created_at.astimezone(self.report_zone(template))
        file_name = export_file_name(template.title, values, local_created)
        key = f"{self.settings.exports_prefix}{created_at:%Y/%m/%d}/{export_id}/{template.name}.xlsx"
        with tempfile.TemporaryDirectory(prefix="export-", dir=self.settings.tmp_dir) as work_dir:
            path = os.path.join(work_dir, "export.xlsx")
            written = self.write_file(template, values, path, progress=progress)
            upload_started = time.monotonic()
            stored = self.storage.upload_export(path, key, file_name=file_name, content_type=XLSX_CONTENT_TYPE)
            upload_seconds = time.monotonic() - upload_started
        log_event("uploaded", "file uploaded", size_bytes=stored.size_bytes, upload_seconds=round(upload_seconds, 3))
        return ExportResult(
            row_count=written.row_count,
            truncated_cells=written.truncated_cells,
            stored=stored,
            file_name=file_name,
            query_seconds=written.query_seconds,
            total_seconds=time.monotonic() - started,
            sheets=written.sheets,
            write_seconds=written.write_seconds,
            upload_seconds=upload_seconds,
        )
