"""The export pipeline: template -> parameters -> SQL -> rows -> file (xlsx/csv/csv.gz) -> S3 object.

One pipeline serves the Lambda worker, the local background thread and the command line; each
step is a small method so callers can reuse a part (``check`` a template, ``render`` a query).
A template with several ``-- sheet:`` queries runs them one after another, each streamed into its
own sheet of the same file; a sheet longer than Excel allows continues on further sheets.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from chalicelib.errors import EmptyResultError
from chalicelib.files.formats import DEFAULT_FORMAT, ExportFormat, TableWriter, open_writer
from chalicelib.files.guards import MIB, ExportGuard, GuardLimits, RemainingMillis, TmpSpaceError
from chalicelib.observability import log_event, rows_progress
from chalicelib.secrets import DatabaseCredentials, SecretStore
from chalicelib.settings import Settings
from chalicelib.storage import ExportStorage, StoredFile
from chalicelib.templating.parameters import resolve_parameters
from chalicelib.templating.presentation import display_params, display_value, file_timestamp
from chalicelib.templating.sources import S3TemplateSource, TemplateSource
from chalicelib.templating.template import RenderedQuery, ReportTemplate, parse_template, render_sheets, validate_report_name

if TYPE_CHECKING:
    from chalicelib.files.workbook import SheetLayout, SheetSummary

_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_MAX_FILE_NAME = 150  # characters, extension included: well inside every file system's limit
_PROGRESS_EVERY_ROWS = 1000

# Told (sheet name, rows written to it so far) while rows stream; the command line draws progress with it.
ProgressCallback = Callable[[str, int], None]
WriteResult = TypeVar("WriteResult")


@dataclass(frozen=True)
class WrittenFile:
    sheets: Sequence[SheetSummary]
    truncated_cells: int
    query_seconds: float
    write_seconds: float = 0.0  # streaming rows from the cursor into the file, after the queries started
    numbers_as_text: int = 0
    writer: str = "xlsxwriter"  # the engine that wrote the file (chalicelib.files.formats.open_writer chooses)

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
    format: str = DEFAULT_FORMAT.name
    numbers_as_text: int = 0
    writer: str = "xlsxwriter"


@dataclass(frozen=True)
class QueryLimits:
    timeout_seconds: int
    batch_rows: int
    rows_log_seconds: float = 10.0


def stream_sheet(
    writer: TableWriter,
    connection: Any,
    query: RenderedQuery,
    limits: QueryLimits,
    name: str,
    *,
    layout: SheetLayout | None = None,
    guard: ExportGuard | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[SheetSummary, float]:
    """Run one query on a read-only session and stream its rows into one sheet of ``writer``;
    return the sheet and the query time.

    The hot path, shared by the worker and the benchmark: an unbuffered cursor read in batches,
    the rows/s log, the guard's pass-through and the format's writer; no row is kept.
    """
    # Imported here, not at the top: the API function never queries or writes a file, and
    # pymysql and XlsxWriter would add about a third to its cold start (README, "Cold start").
    from chalicelib.database import run_query
    from chalicelib.files.workbook import SheetLayout, SheetSource

    started = time.monotonic()
    log_event("query_started", "query started", sheet=name, bound_values=len(query.args))
    with run_query(connection, query, batch_rows=limits.batch_rows) as result:
        query_seconds = time.monotonic() - started
        rows: Iterable[Sequence[Any]] = rows_progress(result.rows, sheet=name, every_seconds=limits.rows_log_seconds)
        if guard is not None:
            guard.follow_writer(writer)
            rows = guard.watch(rows)
        rows = rows if progress is None else _reporting(rows, name, progress)
        summary = writer.add_sheet(SheetSource(name=name, columns=result.columns, rows=rows, layout=layout or SheetLayout(), text_rows=True))
    return summary, query_seconds


def stream_query_to_file(
    credentials: DatabaseCredentials,
    query: RenderedQuery,
    limits: QueryLimits,
    destination: tuple[ExportFormat, str, str],
    *,
    guard: ExportGuard | None = None,
    rows_per_sheet: int | None = None,
    fast: bool = True,
) -> WrittenFile:
    """One query into a new file (format, path, sheet title), as the benchmark measures it.
    ``fast=False`` keeps to the XlsxWriter reference writer."""
    from chalicelib.database import read_only_session
    from chalicelib.files.workbook import SheetLayout

    fmt, path, title = destination

    def write(use_fast: bool) -> WrittenFile:
        writing_started = time.monotonic()
        with (
            read_only_session(credentials, timeout_seconds=limits.timeout_seconds) as connection,
            open_writer(fmt, path, tmp_dir=os.path.dirname(path), rows_per_sheet=rows_per_sheet, layouts=[SheetLayout()], fast=use_fast) as writer,
        ):
            _sheet, query_seconds = stream_sheet(writer, connection, query, limits, title, guard=guard)
        return _written_file(writer, query_seconds, writing_started)

    return with_split_fallback(write, fast=fast)


def with_split_fallback(write: Callable[[bool], WriteResult], *, fast: bool = True) -> WriteResult:
    """Write with the fast writer if allowed; when a sheet outgrows Excel's row limit, write the
    whole file again with the reference writer, which continues on further sheets.

    The fast writer's sheet list is fixed before its first row (chalicelib/files/fastbook.py), so it
    cannot add a continuation sheet; results that large are rare and better as csv.gz anyway.
    """
    from chalicelib.files.fastbook import SheetLimitReached

    if not fast:
        return write(False)
    try:
        return write(True)
    except SheetLimitReached as exc:
        log_event("writer_fallback", "a sheet passed the row limit: writing the file again with the reference writer", sheet=str(exc))
        return write(False)


def _written_file(writer: TableWriter, query_seconds: float, writing_started: float) -> WrittenFile:
    """What a closed writer wrote, and how the time since ``writing_started`` divided."""
    return WrittenFile(
        sheets=tuple(writer.sheets),
        truncated_cells=writer.truncated_cells,
        numbers_as_text=writer.numbers_as_text,
        writer=writer.engine,
        query_seconds=query_seconds,
        write_seconds=time.monotonic() - writing_started - query_seconds,
    )


def export_file_name(title: str, params: Mapping[str, Any], created_at: dt.datetime, extension: str = "xlsx") -> str:
    """A human-readable file name: title, parameter values and the creation time in the report's
    zone (``created_at`` is already there), the zone named. A name too long loses its middle (the
    end of the parameter values), never the timestamp or the extension."""
    values = [display_value(value) for value in params.values() if value is not None]
    head = _UNSAFE_FILE_CHARS.sub("_", " ".join(part for part in (title, *values) if part)).strip()
    stamp = _UNSAFE_FILE_CHARS.sub("_", file_timestamp(created_at))
    room = _MAX_FILE_NAME - len(stamp) - len(extension) - 2  # the space before the stamp, the dot
    if len(head) > room:
        head = head[: room - 1].rstrip() + "…"
    return f"{head} {stamp}.{extension}" if head else f"{stamp}.{extension}"


def title_row_text(template: ReportTemplate, values: Mapping[str, Any]) -> str:
    shown = display_params(values)
    return f"{template.title} ({shown})" if shown else template.title


def sheet_layout(template: ReportTemplate, values: Mapping[str, Any]) -> SheetLayout:
    from chalicelib.files.workbook import SheetLayout

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
    def __init__(
        self,
        settings: Settings,
        storage: ExportStorage,
        secrets: SecretStore,
        templates: TemplateSource | None = None,
        *,
        rows_per_sheet: int | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.secrets = secrets
        self.templates: TemplateSource = templates or S3TemplateSource(storage)
        self.rows_per_sheet = rows_per_sheet  # None: Excel's own limit; tests lower it

    def load_template(self, name: str) -> ReportTemplate:
        validate_report_name(name)
        return parse_template(name, self.templates.read(name))

    def report_zone(self, template: ReportTemplate) -> ZoneInfo:
        return ZoneInfo(template.timezone) if template.timezone else self.settings.zone

    def report_today(self, template: ReportTemplate, now: dt.datetime | None = None) -> dt.date:
        """The day relative dates (``today``, ``yesterday``) mean: today in the report's time zone."""
        return (now or dt.datetime.now(dt.UTC)).astimezone(self.report_zone(template)).date()

    def resolve(self, template: ReportTemplate, supplied: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """Validate and coerce parameters; relative dates are resolved in the report's time zone."""
        return resolve_parameters(template.params, supplied, today=self.report_today(template, now))

    def file_name(self, template: ReportTemplate, values: Mapping[str, Any], created_at: dt.datetime, fmt: ExportFormat = DEFAULT_FORMAT) -> str:
        return export_file_name(template.title, values, created_at.astimezone(self.report_zone(template)), fmt.extension)

    def write_file(
        self,
        template: ReportTemplate,
        values: Mapping[str, Any],
        path: str,
        *,
        fmt: ExportFormat = DEFAULT_FORMAT,
        guard: ExportGuard | None = None,
        progress: ProgressCallback | None = None,
        export_id: str | None = None,
    ) -> WrittenFile:
        """Stream each sheet's rows into a file at ``path``, one query after another."""
        try:
            watchers = (guard, progress)
            return with_split_fallback(lambda fast: self._write_sheets(template, values, path, fmt, watchers, export_id=export_id, fast=fast))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # another writer took the space the guard counted on
                raise TmpSpaceError("/tmp filled up while writing the file: raise ephemeral storage or use csv.gz") from None
            raise

    def _write_sheets(
        self,
        template: ReportTemplate,
        values: Mapping[str, Any],
        path: str,
        fmt: ExportFormat,
        watchers: tuple[ExportGuard | None, ProgressCallback | None],
        *,
        export_id: str | None,
        fast: bool,
    ) -> WrittenFile:
        from chalicelib.database import read_only_session

        guard, progress = watchers
        sheets = render_sheets(template, values)  # every query renders before the database is touched
        layout = sheet_layout(template, values)
        credentials = self.secrets.database_credentials(self.settings.db_secret_name)
        limits = QueryLimits(self.settings.statement_timeout_seconds, self.settings.fetch_batch_rows, self.settings.rows_log_seconds)
        query_seconds = 0.0
        writing_started = time.monotonic()
        # One session for every sheet: one connection, and one snapshot the sheets agree on.
        with (
            read_only_session(credentials, timeout_seconds=limits.timeout_seconds) as connection,
            open_writer(
                fmt,
                path,
                tmp_dir=os.path.dirname(path),
                rows_per_sheet=self.rows_per_sheet,
                layouts=[layout] * len(sheets),
                export_id=export_id,
                fast=fast,
            ) as writer,
        ):
            for sheet in sheets:
                _summary, seconds = stream_sheet(writer, connection, sheet.query, limits, sheet.name, layout=layout, guard=guard, progress=progress)
                query_seconds += seconds
        written = _written_file(writer, query_seconds, writing_started)
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
        fmt: ExportFormat = DEFAULT_FORMAT,
        remaining_millis: RemainingMillis | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        started = time.monotonic()
        file_name = self.file_name(template, values, created_at, fmt)
        key = f"{self.settings.exports_prefix}{created_at:%Y/%m/%d}/{export_id}/{template.name}.{fmt.extension}"
        with tempfile.TemporaryDirectory(prefix="export-", dir=self.settings.tmp_dir) as work_dir:
            guard = ExportGuard(work_dir, fmt.finish, self.guard_limits(), remaining_millis=remaining_millis)
            guard.check_start()
            path = os.path.join(work_dir, f"export.{fmt.extension}")
            written = self.write_file(template, values, path, fmt=fmt, guard=guard, progress=progress, export_id=export_id)
            upload_started = time.monotonic()
            stored = self.storage.files.upload(path, key, file_name=file_name, content_type=fmt.content_type)
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
            format=fmt.name,
            numbers_as_text=written.numbers_as_text,
            writer=written.writer,
        )

    def guard_limits(self) -> GuardLimits:
        return GuardLimits(tmp_budget_bytes=self.settings.tmp_budget_mb * MIB or None)
