"""The ``schedules`` commands: check, list, render and run the schedules in schedules.yaml.

A click group of its own, attached to the main command line (``excel-export schedules ...``).
Command-line tooling only: app.py never imports it and the Lambda package does not need click.
Exit status: 0 ok, 1 failed (invalid schedules, a refused export), 2 usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from chalicelib.errors import ExportServiceError, TemplateError
from chalicelib.templating.sources import FolderTemplateSource
from chalicelib.templating.template import ReportTemplate, parse_template
from tools.canaries import RenderError, render_template
from tools.cli.context import DEFAULT_REPORTS, PROJECT_DIR, shown_path
from tools.cron import CronError
from tools.schedules import (
    CanaryRequest,
    Schedule,
    ScheduleFileError,
    canary_request,
    check_parameters,
    due_runs,
    load_schedules,
    read_schedules,
)

DEFAULT_FILE = PROJECT_DIR / "schedules.yaml"
CANARY_SCRIPT = PROJECT_DIR / "canary" / "export_canary.js"
OUTPUT_NAME = "canaries.yaml"


def _now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time such as 2026-11-30T09:00+09:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset, e.g. 2026-11-30T09:00+09:00 or 2026-11-30T00:00Z")
    return moment


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(file), hint=exc.strerror) from None


def _load(file: Path, now: dt.datetime) -> list[Schedule]:
    text = _read_text(file)
    try:
        return load_schedules(text, shown_path(file), now=now)
    except ScheduleFileError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None


def _templates(folder: Path) -> tuple[dict[str, ReportTemplate], list[str]]:
    """The folder's templates, read as ``reports check`` reads them, and each one that fails, at its file and line."""
    source = FolderTemplateSource(folder, shown_as=shown_path(folder))
    templates, errors = {}, []
    try:
        names = source.names()
    except ExportServiceError as exc:  # no such folder
        return {}, [exc.message]
    for name in names:
        try:
            templates[name] = parse_template(name, source.read(name))
        except TemplateError as exc:
            errors.append(f"{source.location(name)}:{exc.line or 1}: {exc.detail}")
        except ExportServiceError as exc:
            errors.append(f"{source.location(name)}: {exc.message}")
    return templates, errors


file_option = click.option(
    "--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_FILE, show_default="schedules.yaml", help="The schedules file."
)
now_option = click.option("--now", "now_text", metavar="ISO", help="Pretend it is this moment (with a UTC offset), e.g. 2026-11-30T09:00+09:00.")


@click.group(name="schedules")
def schedules() -> None:
    """Daily exports as code: schedules.yaml -> CloudWatch Synthetics canaries."""


@schedules.command()
@file_option
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_REPORTS,
    show_default="reports/",
    help="Report templates to check parameters against.",
)
def check(file: Path, reports: Path) -> None:
    """Validate the schedules file: fields, cron, time zone, UTC conversion, report parameters.

    Every mistake of the file is reported in one run, each at the line of its field.
    """
    read = read_schedules(_read_text(file), shown_path(file), now=_now(None))
    templates, template_errors = _templates(reports)
    found = read.problems + check_parameters(read.parameters, templates, shown_path(file))
    problems = [str(problem) for problem in sorted(found, key=lambda problem: problem.line or 0)]
    for message in template_errors + problems:
        click.echo(f"error: {message}", err=True)
    if template_errors or problems:
        raise SystemExit(1)
    enabled = sum(1 for schedule in read.schedules if schedule.enabled)
    click.echo(f"ok: {len(read.schedules)} schedules in {shown_path(file)} ({enabled} enabled)")


@schedules.command(name="list")
@file_option
@now_option
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 50), help="How many coming runs to show.")
def list_schedules(file: Path, now_text: str | None, count: int) -> None:
    """Each schedule with its UTC cron and its next runs, in its own zone and in UTC."""
    now = _now(now_text)
    for schedule in _load(file, now):
        state = "enabled" if schedule.enabled else "disabled"
        click.echo(f"{schedule.name} ({state}): report {schedule.report}, params {json.dumps(schedule.params, ensure_ascii=False)}")
        click.echo(f"  cron {schedule.cron.text!r} in {schedule.timezone}  ->  {schedule.utc_cron(now).expression} in UTC")
        for moment in schedule.cron.next_runs(schedule.zone, now, count):
            utc = moment.astimezone(dt.UTC)
            click.echo(f"  {moment:%a %Y-%m-%d %H:%M} {moment.tzname()}  =  {utc:%a %Y-%m-%d %H:%M} UTC")


@schedules.command()
@file_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help=f"Write DIR/{OUTPUT_NAME} instead of printing.")
def render(file: Path, out_dir: Path | None) -> None:
    """CloudFormation (canary, role, alarm) for every enabled schedule, to merge into the deployment."""
    now = _now(None)
    try:
        text = render_template(_load(file, now), CANARY_SCRIPT.read_text(encoding="utf-8"), now=now)
    except (RenderError, CronError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    if out_dir is None:
        click.echo(text, nl=False)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / OUTPUT_NAME
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {shown_path(target)}")


@schedules.command()
@click.argument("name", required=False)
@file_option
@click.option("--at", "at_text", metavar="ISO", help="Fire as if the canary ran at this moment, e.g. 2026-11-30T09:00+09:00 (default: now).")
@click.option("--due", is_flag=True, help="Fire every enabled schedule with a run in the last --window.")
@click.option("--window", default=60, show_default=True, type=click.IntRange(1, 7 * 24 * 60), help="Minutes --due looks back.")
@click.option("--api-url", envvar="EXPORT_API_URL", help="The API to call (default: the local stack, API_PORT).")
@click.option("--wait/--no-wait", default=False, help="Wait until the export finishes and show its status.")
def run(name: str | None, file: Path, at_text: str | None, due: bool, window: int, api_url: str | None, wait: bool) -> None:
    """Fire a schedule against the local stack exactly as its canary would (same payload and key)."""
    if bool(name) == due:
        raise click.UsageError("give a schedule NAME or --due (not both)")
    at = _now(at_text)
    loaded = _load(file, at)
    if due:
        firings = due_runs(loaded, at, dt.timedelta(minutes=window))
        if not firings:
            click.echo(f"nothing due in the {window} minutes before {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC")
    else:
        chosen = [schedule for schedule in loaded if schedule.name == name]
        if not chosen:
            raise click.UsageError(f"no schedule named {name!r} in {shown_path(file)} (have: {', '.join(s.name for s in loaded)})")
        firings = [(chosen[0], at)]
    base = (api_url or _local_api_url()).rstrip("/")
    failures = sum(0 if _fire(base, canary_request(schedule, moment), wait) else 1 for schedule, moment in firings)
    if failures:
        raise SystemExit(1)


def _local_api_url() -> str:
    # the local stack's API (devstack): same API_PORT variable and default
    return f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}"


def _fire(base: str, request: CanaryRequest, wait: bool) -> bool:
    click.echo(
        f"{request.schedule}: firing of {request.scheduled_at:%Y-%m-%d %H:%M} {request.scheduled_at.tzname()} "
        f"({request.scheduled_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC), Idempotency-Key {request.idempotency_key}"
    )
    click.echo(f"  POST {base}/exports {json.dumps(request.body, ensure_ascii=False)}")
    status, answer = _post(f"{base}/exports", request.body, {"Idempotency-Key": request.idempotency_key})
    click.echo(f"  -> {status} {json.dumps(answer, ensure_ascii=False)}")
    if not 200 <= status < 300:
        return False
    if wait and isinstance(answer, dict) and answer.get("export_id"):
        final = _wait(base, str(answer["export_id"]))
        click.echo(f"  export {final.get('export_id')}: {final.get('status')}, {final.get('row_count')} rows")
        return final.get("status") == "succeeded"
    return True


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **headers}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)  # noqa: S310 - the operator's API
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the URL is the operator's API
            return int(response.status), _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach the API at {url}: {exc.reason} (is the local stack up? `make up`)") from None


def _wait(base: str, export_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/exports/{export_id}", timeout=30) as response:  # noqa: S310
            status = json.loads(response.read())
        if status.get("status") in ("succeeded", "failed", "expired"):
            break
        time.sleep(0.5)
    return status


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode("utf-8", "replace")


def main(argv: Sequence[str] | None = None) -> None:
    schedules.main(args=list(argv) if argv is not None else None, prog_name="excel-export schedules")


if __name__ == "__main__":
    main(sys.argv[1:])
