"""``reports list|check|render|publish``: the report author's commands."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

import click

from chalicelib.database import explain_queries
from chalicelib.errors import ExportServiceError
from chalicelib.templating.parameters import ParameterSpec, resolve_parameters
from chalicelib.templating.sources import FolderTemplateSource, TemplateSource
from chalicelib.templating.template import RenderedQuery, ReportTemplate, parse_template, render_sheets, validate_report_name
from tools.cli.context import CliContext, fails_cleanly, params_option, parse_param_options, source_option
from tools.cli.publishing import Outcome, check_one, publish_templates
from tools.template_check import CheckResult, Problem, locate_database_error, render_problems

_PLACEHOLDER = re.compile(r"%%|%s")


@click.group()
def reports() -> None:
    """List, check, preview and publish report templates."""


def _names(source: TemplateSource, requested: Sequence[str]) -> list[str]:
    if not requested:
        return source.names()
    for name in requested:
        validate_report_name(name, "NAME")
    return list(requested)


def _check(source: TemplateSource, name: str) -> CheckResult:
    return check_one(source, name, today=dt.date.today())  # the same check publish_templates runs


# list ----------------------------------------------------------------------------------------
def _param_summary(spec: ParameterSpec) -> str:
    text = f"{spec.name}: {spec.type_label}"
    described = spec.describe()
    if "default" in described:
        text += f" = {described['default']}"
    elif spec.required:
        text += " (required)"
    if spec.choices is not None:
        text += " in (" + ", ".join(str(choice) for choice in described["choices"]) + ")"
    return text


@reports.command("list")
@source_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as GET /reports answers) instead of a table.")
@click.pass_obj
@fails_cleanly
def list_reports(cli: CliContext, source: str | None, as_json: bool) -> None:
    """Name, title, sheets and parameters of every template."""
    templates = cli.source(source)
    loaded: list[tuple[str, ReportTemplate | str]] = []
    for name in templates.names():
        try:
            loaded.append((name, parse_template(name, templates.read(name))))
        except ExportServiceError as exc:
            loaded.append((name, exc.message))
    broken = sum(isinstance(item, str) for _, item in loaded)
    if as_json:
        described = [item.describe() if isinstance(item, ReportTemplate) else {"name": name, "error": item} for name, item in loaded]
        click.echo(json.dumps({"reports": described}, indent=2, ensure_ascii=False))
    else:
        for name, item in loaded:
            if isinstance(item, str):
                click.echo(f"{name:<22} ERROR {item}")
                continue
            sheets = f"{len(item.sheets)} sheets" if len(item.sheets) > 1 else "1 sheet"
            click.echo(f"{name:<22} {item.title}  [{sheets}]")
            for spec in item.params.values():
                click.echo(f"{'':<22}   {_param_summary(spec)}")
        click.echo(f"{len(loaded)} reports in {templates}" + (f", {broken} broken (run: reports check)" if broken else ""))
    if broken:
        raise click.exceptions.Exit(1)


# check ---------------------------------------------------------------------------------------
@reports.command("check")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@source_option
@click.option("--db", is_flag=True, help="Also EXPLAIN every query, rendered with the defaults, against the stage's database.")
@click.pass_obj
@fails_cleanly
def check_reports(cli: CliContext, names: tuple[str, ...], source: str | None, db: bool) -> None:
    """Lint templates without a database (all of them without NAME).

    Checks the YAML header, parameter types and defaults, that every variable used is declared and
    every declared parameter used, Jinja syntax, no raw-text filter, sheet names, and renders every
    query with sample values. Exit status 1 if any template has an error.
    """
    templates = cli.source(source)
    results = [_check(templates, name) for name in _names(templates, names)]
    if db:
        for result in results:
            if result.ok and result.template is not None:
                result.problems.extend(_explain(cli, result.template, result.file))
    errors = warnings = 0
    for result in results:
        for problem in result.problems:
            click.echo(str(problem), err=problem.severity == "error")
        errors += 0 if result.ok else 1
        warnings += sum(problem.severity == "warning" for problem in result.problems)
        if result.ok:
            sheets = len(result.template.sheets) if result.template else 0
            explained = f" (EXPLAIN ok: {sheets} {'query' if sheets == 1 else 'queries'})" if db and sheets else ""
            click.echo(f"ok      {result.file}{explained}{slack_access(result.template)}")
    click.echo(f"checked {len(results)} templates: {len(results) - errors} ok, {errors} with errors, {warnings} warnings")
    if errors:
        raise click.exceptions.Exit(1)


def slack_access(template: ReportTemplate | None) -> str:
    """Who may run the report from Slack's /export, so an open report is never a surprise."""
    if template is None:
        return ""
    options = template.options
    if not options.slack_users and not options.slack_channels:
        return "  [Slack: open to the whole workspace]"
    allowed = [f"users {', '.join(options.slack_users)}"] if options.slack_users else []
    allowed += [f"channels {', '.join(options.slack_channels)}"] if options.slack_channels else []
    return f"  [Slack: only {'; '.join(allowed)}]"


def _explain(cli: CliContext, template: ReportTemplate, file: str) -> list[Problem]:
    rendered, problems = render_problems(template, file, today=cli.today(template))
    if problems:
        return problems
    credentials = cli.secrets.database_credentials(cli.settings.db_secret_name)
    answers = explain_queries(credentials, [sheet.query for sheet in rendered], timeout_seconds=cli.settings.statement_timeout_seconds)
    return [
        Problem(file, locate_database_error(template, index, answer), f"EXPLAIN of sheet '{rendered[index].name}' failed: {answer}")
        for index, answer in enumerate(answers)
        if answer is not None
    ]


# render --------------------------------------------------------------------------------------
def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (str, dt.date)):
        return "'" + str(value).replace("'", "''") + "'"
    return str(value)


def annotate(query: RenderedQuery) -> str:
    """The SQL exactly as the driver gets it, each line's bound values shown beside it as a comment."""
    values = iter(query.args)
    lines = []
    for line in query.sql.splitlines():
        count = _PLACEHOLDER.findall(line).count("%s")  # a doubled %% is a literal percent sign, not a placeholder
        bound = [_literal(next(values)) for _ in range(count)]
        lines.append(f"{line}    -- %s = {', '.join(bound)}" if bound else line)
    return "\n".join(lines)


@reports.command("render")
@click.argument("name")
@params_option
@source_option
@click.option("--json", "as_json", is_flag=True, help="Print {sheets: [{name, sql, args}]} instead.")
@click.pass_obj
@fails_cleanly
def render_report(cli: CliContext, name: str, params: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """Print each query's final SQL with %s placeholders and the values bound to them.

    Relative dates resolve in the report's time zone (header timezone, else REPORT_TIMEZONE, else Asia/Seoul).
    """
    templates = cli.source(source)
    template = parse_template(validate_report_name(name, "NAME"), templates.read(name))
    values = resolve_parameters(template.params, parse_param_options(params, template.params), today=cli.today(template))
    sheets = render_sheets(template, values)
    if as_json:
        body = [{"name": sheet.name, "sql": sheet.query.sql, "args": [_json_arg(arg) for arg in sheet.query.args]} for sheet in sheets]
        click.echo(json.dumps({"report": name, "sheets": body}, indent=2, ensure_ascii=False))
        return
    for number, sheet in enumerate(sheets, start=1):
        click.echo(f"-- sheet {number}/{len(sheets)}: {sheet.name}")
        click.echo(annotate(sheet.query))
        click.echo(f"-- bound values, in order: {sheet.query.args!r}")
        click.echo("")


def _json_arg(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.time, dt.timedelta)) or not isinstance(value, (str, int, float, bool, type(None))):
        return str(value)
    return value


# publish -------------------------------------------------------------------------------------
@reports.command("publish")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@source_option
@click.option("--dry-run", is_flag=True, help="Show what would change (by content hash); upload nothing.")
@click.option("--db", is_flag=True, help="Also refuse templates whose queries fail EXPLAIN against the stage's database (as check --db).")
@click.pass_obj
@fails_cleanly
def publish_reports(cli: CliContext, names: tuple[str, ...], source: str | None, dry_run: bool, db: bool) -> None:
    """Upload templates to s3://$EXPORT_BUCKET/$TEMPLATES_PREFIX, refusing any that fail `check` (and with --db, EXPLAIN).

    Exit status 1 if any template was refused (the others are still published).
    """
    local = cli.source(source)
    if not isinstance(local, FolderTemplateSource):
        raise click.BadParameter("publish reads templates from a folder", param_hint="--source")
    storage = cli.storage
    click.echo(f"publishing {local} -> s3://{storage.bucket}/{storage.templates_prefix}" + (" (dry run: nothing is written)" if dry_run else ""))

    def explain(result: CheckResult) -> list[Problem]:
        return _explain(cli, result.template, result.file) if result.template is not None else []

    summary = publish_templates(
        local,
        storage,
        _names(local, names),
        dry_run=dry_run,
        extra_check=explain if db else None,
        report=lambda outcome: _echo_outcome(outcome, dry_run),
    )
    action = "would upload" if dry_run else "uploaded"
    new, changed = summary.count("new"), summary.count("changed")
    click.echo(f"{action} {new + changed} ({new} new, {changed} changed), {summary.count('unchanged')} unchanged, {summary.refused} refused")
    if summary.refused:
        raise click.exceptions.Exit(1)


def _echo_outcome(outcome: Outcome, dry_run: bool) -> None:
    if outcome.state == "refused":
        click.echo(f"refused    {outcome.name:<22} {outcome.problem}", err=True)
        for problem in outcome.problems[1:]:
            click.echo(f"{'':<34}{problem}", err=True)  # every mistake, as `check` shows them
        return
    shown = f"sha256 {outcome.remote_digest[:12]} -> {outcome.digest[:12]}" if outcome.state == "changed" else f"sha256 {outcome.digest[:12]}"
    verb = outcome.state if outcome.state == "unchanged" or not dry_run else f"{outcome.state}*"
    click.echo(f"{verb:<10} {outcome.name:<22} {shown}")
