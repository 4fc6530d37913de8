"""The command line for report authors and operators: ``excel-export`` or ``python -m tools.cli``.

Never imported by app.py: click is a development and CLI dependency, not packaged for Lambda.
Each command group lives in its own module and is registered below with ``main.add_command``.
Exit status: 0 ok, 1 failed, 2 usage (click's own convention for usage errors).
"""

from __future__ import annotations

import sys

import click

from chalicelib import metrics
from tools.cli.context import CliContext
from tools.cli.export_command import export
from tools.cli.reports import reports
from tools.cli.schedules import schedules


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--stage",
    envvar="EXCEL_EXPORT_STAGE",
    metavar="NAME",
    help="Read this stage's settings from .chalice/config.json (local, dev, prod); "
    "without it the environment variables alone are used, as in the app.",
)
@click.pass_context
def main(ctx: click.Context, stage: str | None) -> None:
    """Report templates and exports of the Excel export service."""
    ctx.obj = CliContext(stage)
    # Standard output carries what the user asked for; the export's metrics line belongs to the log.
    metrics.write_to(lambda: sys.stderr)
    ctx.call_on_close(lambda: metrics.write_to(None))


main.add_command(reports)
main.add_command(export)
main.add_command(schedules)
