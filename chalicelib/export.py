"""The export pipeline: template -> parameters -> SQL -> rows -> workbook -> S3 object.

One pipeline serves the Lambda worker, the local background thread and the command line; each
step is a small method so callers can reuse a part (``check`` a template, ``render`` a query).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.database import open_query
from chalicelib.params import resolve_parameters
from chalicelib.secrets import SecretStore
from chalicelib.settings import Settings
from chalicelib.storage import ExportStorage, StoredFile
from chalicelib.templates import RenderedQuery, ReportTemplate, parse_template, validate_report_name
from chalicelib.workbook import WorkbookSummary, write_workbook

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass(frozen=True)
class ExportResult:
    row_count: int
    truncated_cells: int
    stored: StoredFile
    file_name: str
    query_seconds: float
    total_seconds: float


def export_file_name(title: str, params: Mapping[str, Any], created_at: dt.datetime, extension: str = "xlsx") -> str:
    """A human-readable file name: title, parameter values and the creation time."""
    values = [str(value) if not isinstance(value, list) else "+".join(map(str, value)) for value in params.values() if value is not None]
    parts = [title, *values, created_at.strftime("%Y%m%d-%H%M")]
    name = _UNSAFE_FILE_CHARS.sub("_", " ".join(part for part in parts if part)).strip()
    return f"{name[:150]}.{extension}"


class ExportPipeline:
    def __init__(self, settings: Settings, storage: ExportStorage, secrets: SecretStore) -> None:
        self.settings = settings
        self.storage = storage
        self.secrets = secrets

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

    def write_file(self, template: ReportTemplate, query: RenderedQuery, path: str) -> tuple[WorkbookSummary, float]:
        """Stream the query's rows into an .xlsx at ``path``; return the summary and query time."""
        credentials = self.secrets.database_credentials(self.settings.db_secret_name)
        started = time.monotonic()
        with open_query(
            credentials, query, timeout_seconds=self.settings.statement_timeout_seconds, batch_rows=self.settings.fetch_batch_rows
        ) as result:
            query_seconds = time.monotonic() - started
            summary = write_workbook(path, template.title, result.columns, result.rows, tmp_dir=os.path.dirname(path))
        return summary, query_seconds

    def export(self, export_id: str, template: ReportTemplate, values: Mapping[str, Any], created_at: dt.datetime) -> ExportResult:
        started = time.monotonic()
        query = self.render(template, values)
        local_created = created_at.astimezone(self.report_zone(template))
        file_name = export_file_name(template.title, values, local_created)
        key = f"{self.settings.exports_prefix}{created_at:%Y/%m/%d}/{export_id}/{template.name}.xlsx"
        with tempfile.TemporaryDirectory(prefix="export-", dir=self.settings.tmp_dir) as work_dir:
            path = os.path.join(work_dir, "export.xlsx")
            summary, query_seconds = self.write_file(template, query, path)
            stored = self.storage.upload_export(path, key, file_name=file_name, content_type=XLSX_CONTENT_TYPE)
        return ExportResult(
            row_count=summary.row_count,
            truncated_cells=summary.truncated_cells,
            stored=stored,
            file_name=file_name,
            query_seconds=query_seconds,
            total_seconds=time.monotonic() - started,
        )
