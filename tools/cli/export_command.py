"""``export NAME -p k=v``: one export from a terminal, through the worker's own code.

With an upload (the default) the export is recorded and run by ``ExportJobs`` exactly as the
Lambda worker runs it: status object, pipeline, S3 object, Slack message. ``--no-upload`` stops
after the pipeline has written the file (there is then no link to send to Slack).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from chalicelib.exports.messages import format_params, human_size  # format_params: the same text as Slack and the title row
from chalicelib.exports.service import ExportJobs
from chalicelib.files.pipeline import ExportPipeline, WrittenFile
from chalicelib.templating.template import ReportTemplate
from tools.cli.context import CliContext, fails_cleanly, params_option, parse_param_options, source_option
from tools.cli.progress import ProgressDisplay, elapsed_text


@click.command("export")
@click.argument("name")
@params_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Also keep the .xlsx here (with --no-upload: the only copy).")
@click.option("--no-upload", is_flag=True, help="Write the file locally only: no S3 object, no status, no Slack message.")
@click.option("--no-slack", is_flag=True, help="Upload, but send no Slack message.")
@source_option
@click.option("--requested-by", default=None, help="Who asked, as shown in the status (default: cli/<your user name>).")
@click.option("--progress/--no-progress", "progress", default=None, help="Show the progress line (default: when stderr is a terminal).")
@click.pass_obj
@fails_cleanly
def export(
    cli: CliContext,
    name: str,
    params: tuple[str, ...],
    out: str | None,
    no_upload: bool,
    no_slack: bool,
    source: str | None,
    requested_by: str | None,
    progress: bool | None,
) -> None:
    """Run one export of report NAME now, with the same pipeline as the worker.

    Exit status 1 if the export failed, 2 for a bad parameter.
    """
    templates = cli.source(source)
    jobs = cli.jobs(templates)
    template = jobs.pipeline.load_template(name)
    supplied = parse_param_options(params, template.params)
    display = ProgressDisplay(sys.stderr, live=progress if progress is not None else sys.stderr.isatty())
    if no_upload:
        _export_locally(jobs.pipeline, template, supplied, out, display)
        return
    # A terminal export always runs: the cache and single-flight serve API callers.
    body = {"report": name, "params": supplied, "requested_by": requested_by or f"cli/{_user()}", "refresh": True}
    queued = jobs.submit(body, dispatch=False).body
    try:
        if queued.get("deduplicated"):
            # An identical export is already running elsewhere: wait for it rather than run it twice.
            status = _wait_for(jobs, str(queued["export_id"]))
        else:
            status = jobs.run(queued["export_id"], progress=display, notify=not no_slack).to_json()
    finally:
        display.finish()
    if status["status"] == "succeeded" and out:
        jobs.storage.files.download(str(status["s3_key"]), out)
    _print_status(jobs.public_status(queued["export_id"]), status, out, jobs.storage.bucket)
    if status["status"] != "succeeded":
        raise click.exceptions.Exit(1)


def _wait_for(jobs: ExportJobs, export_id: str) -> dict[str, Any]:
    click.echo(f"an identical export is already running: {export_id}; waiting for it", err=True)
    while True:
        settled = jobs.ledger.settle(export_id)  # a dead worker is found here too, not waited for
        if settled is not None and settled.handle.record.state.finished:
            return settled.handle.record.to_json()
        time.sleep(1)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _export_locally(pipeline: ExportPipeline, template: ReportTemplate, supplied: dict[str, Any], out: str | None, display: ProgressDisplay) -> None:
    created_at = dt.datetime.now(dt.UTC)
    values = pipeline.resolve(template, supplied, now=created_at)
    path = Path(out) if out else Path(pipeline.file_name(template, values, created_at))
    started = time.monotonic()
    try:
        written: WrittenFile = pipeline.write_file(template, values, str(path.resolve()), progress=display)
    finally:
        display.finish()
    seconds = time.monotonic() - started
    _echo_facts(
        [
            ("report", f"{template.name} ({template.title})"),
            ("params", format_params(values)),
            ("rows", _rows_text(written.row_count, [(sheet.name, sheet.row_count) for sheet in written.sheets])),
            ("time", _time_text(written.row_count, seconds)),
            ("file", f"{path} ({human_size(os.path.getsize(path))})"),
            ("upload", "none (--no-upload)"),
        ]
    )


def _print_status(public: dict[str, Any], status: dict[str, Any], out: str | None, bucket: str) -> None:
    facts = [("export", f"{status['export_id']} {status['status']}"), ("report", f"{status['report']} ({status.get('title')})")]
    facts.append(("params", format_params(status.get("params") or {})))
    if status["status"] != "succeeded":
        error = status.get("error") or {}
        facts.append(("error", f"{error.get('code')}: {error.get('message')}"))
    else:
        sheets = [(sheet["name"], sheet["row_count"]) for sheet in status.get("sheets") or []]
        facts.append(("rows", _rows_text(int(status["row_count"]), sheets)))
        facts.append(("time", _time_text(int(status["row_count"]), float(status.get("duration_seconds") or 0))))
        facts.append(("file", f"{status['file_name']} ({human_size(int(status['size_bytes']))})"))
        facts.append(("stored", f"s3://{bucket}/{status['s3_key']}"))
        facts.append(("link", str(public.get("download_url"))))
        if out:
            facts.append(("saved", out))
    facts.append(("slack", "sent" if status.get("notified") else f"not sent ({status.get('notify_skipped') or status.get('notify_error')})"))
    _echo_facts(facts)


def _echo_facts(facts: list[tuple[str, str]]) -> None:
    for label, text in facts:
        click.echo(f"{label:<8} {text}")


def _rows_text(total: int, sheets: list[tuple[str, int]]) -> str:
    if len(sheets) < 2:
        return f"{total:,}"
    return f"{total:,} (" + ", ".join(f"{name}: {rows:,}" for name, rows in sheets) + ")"


def _time_text(rows: int, seconds: float) -> str:
    rate = rows / seconds if seconds > 0 else 0.0
    return f"{elapsed_text(seconds)} ({rate:,.0f} rows/s)"
