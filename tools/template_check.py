"""Finding report authors' mistakes before a template is published (pure, no database).

``parse_template`` already refuses what would break an export (bad YAML, unknown types, wrong
defaults, undeclared variables, unsafe Jinja); this adds what is legal but almost certainly wrong
(a declared parameter no query reads, sheet names Excel would alter, formats for columns no query
mentions) and renders every query with sample values, as an export would. Every problem names the
file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ExportServiceError, TemplateError
from chalicelib.templating.parameters import ParameterSpec, resolve_parameters
from chalicelib.templating.template import (
    REPORT_NAME_RULE,
    RenderedSheet,
    ReportTemplate,
    declaration_line,
    is_report_name,
    read_template,
    render_sheets,
    sheet_name_problem,
    without_header,
)

_SAMPLES: dict[str, Any] = {"string": "x", "integer": 1, "decimal": "1", "boolean": "true", "date": "today", "datetime": "today"}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    severity: str = "error"  # "error" fails the check (and publish); "warning" is shown only

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    name: str
    file: str
    template: ReportTemplate | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(problem.severity == "error" for problem in self.problems)


def check_template(name: str, source: str, *, file: str, today: dt.date) -> CheckResult:
    """Every problem found in one template's text; ``file`` is how the file is shown to the author."""
    if not is_report_name(name):
        return CheckResult(name, file, None, [Problem(file, 1, f"the file name must be {REPORT_NAME_RULE}, then .sql")])
    template, errors = read_template(name, source)
    problems = [Problem(file, exc.line or 1, exc.detail) for exc in errors]
    if template is None:
        return CheckResult(name, file, None, problems)
    # The lint checks look at what could be read, so independent mistakes all show in one run.
    unreadable_query = any(exc.detail.startswith("Jinja syntax error") for exc in errors)  # its variables are unknown
    problems += [*([] if unreadable_query else _unused_parameters(template, file)), *_sheet_names(template, file), *_column_formats(template, file)]
    if errors:  # rendering a half-read template would only repeat the mistakes above
        return CheckResult(name, file, None, sorted(problems, key=lambda problem: problem.line))
    problems += render_problems(template, file, today=today)[1]
    return CheckResult(name, file, template, sorted(problems, key=lambda problem: problem.line))


def sample_values(params: Mapping[str, ParameterSpec]) -> dict[str, Any]:
    """A value for every parameter: its default, else its first choice, else one of its type."""
    values: dict[str, Any] = {}
    for name, spec in params.items():
        if spec.default is not None:
            continue
        scalar_type = spec.item_type or spec.type
        sample = spec.choices[0] if spec.choices else spec.minimum if spec.minimum is not None else _SAMPLES[scalar_type]
        values[name] = [sample] if spec.is_list else sample
    return values


def render_problems(template: ReportTemplate, file: str, *, today: dt.date) -> tuple[list[RenderedSheet], list[Problem]]:
    """Render every sheet with sample values, as an export would; a failure is a problem at its line."""
    try:
        values = resolve_parameters(template.params, sample_values(template.params), today=today)
        return render_sheets(template, values), []
    except TemplateError as exc:
        return [], [Problem(file, exc.line or 1, exc.detail)]
    except ExportServiceError as exc:
        return [], [Problem(file, 1, f"the queries cannot be rendered with sample values: {exc.message}")]


def _unused_parameters(template: ReportTemplate, file: str) -> list[Problem]:
    return [
        Problem(file, declaration_line(template.body, name), f"parameter '{name}' is declared but no query uses it")
        for name in template.params
        if name not in template.variables
    ]


def _sheet_names(template: ReportTemplate, file: str) -> list[Problem]:
    """Names from ``-- sheet:`` markers that Excel would refuse (the export would have to alter them)."""
    if len(template.sheets) < 2 and template.sheets[0].line == 1:
        return []  # no markers: the sheet is named after the title, cut to fit, which is intended
    problems: list[Problem] = []
    seen: set[str] = set()
    for sheet in template.sheets:
        problem = sheet_name_problem(sheet.name, seen)
        if problem:
            problems.append(Problem(file, sheet.line, problem))
        seen.add(sheet.name.lower())
    return problems


def _column_formats(template: ReportTemplate, file: str) -> list[Problem]:
    # Without a database the result columns are unknown; a name that appears nowhere in the SQL is a likely typo.
    sql = without_header(template.body)
    return [
        Problem(file, _line_of_text(template.body, name), f"column format for '{name}': no query mentions a column of that name", "warning")
        for name in template.options.columns
        if name not in sql
    ]


def _line_of_text(source: str, text: str) -> int:
    for number, line in enumerate(source.splitlines(), start=1):
        if text in line:
            return number
    return 1


def locate_database_error(template: ReportTemplate, sheet_index: int, message: str) -> int:
    """The line a MySQL error is most likely about: where the unknown name or the quoted SQL appears."""
    sheet = template.sheets[sheet_index]
    lines = sheet.source.splitlines()
    for pattern in (r"Unknown column '(?:[^']*\.)?([^'.]+)'", r"Table '(?:[^']*\.)?([^'.]+)' doesn't exist", r"near '([^'\n]{1,40})"):
        match = re.search(pattern, message)
        if match:
            for number, line in enumerate(lines, start=1):
                if number >= sheet.line and match.group(1) in line:
                    return number
    return sheet.line
