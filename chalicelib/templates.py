"""Report templates: the YAML header and Jinja2 SQL body, rendered with bound parameters only.

A template is ``<name>.sql``: a Jinja comment ``{#--- ... ---#}`` holding a YAML header (title,
description, params...), then the SQL. Rendering never pastes a value into SQL text: every
``{{ expression }}`` becomes a driver placeholder (``%s``, or ``%s, %s, ...`` for a list) and its
value goes to the bound-argument list. Rendering runs in Jinja2's sandbox with no loader, so a
template can neither reach Python internals nor include other files. Pure logic, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from chalicelib.errors import BadRequestError, TemplateError
from chalicelib.params import DeclarationError, ParameterSpec, parse_declaration, to_json_params

REPORT_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_HEADER = re.compile(r"\A\{#---[ \t]*\n(?P<yaml>.*?)\n---#\}", re.DOTALL)
_PLACEHOLDER_MARK = "\x00bind\x00"
# Filters that exist to emit text unescaped; with bound rendering they would be harmless
# (their output is bound too), but they signal a misunderstanding, so templates may not use them.
_FORBIDDEN_FILTERS = ("safe", "raw", "forceescape")
_HEADER_KEYS = {"title", "description", "params", "timezone"}


def validate_report_name(name: str, field_name: str = "report") -> str:
    if not isinstance(name, str) or not REPORT_NAME.match(name):
        raise BadRequestError("report name must be 1-64 characters of a-z, 0-9, '_' or '-'", field=field_name, code="invalid_report_name")
    return name


@dataclass(frozen=True)
class RenderedQuery:
    sql: str  # pymysql "format" paramstyle: %s placeholders, literal % doubled
    args: tuple[Any, ...]


@dataclass(frozen=True)
class ReportTemplate:
    name: str
    title: str
    description: str
    params: Mapping[str, ParameterSpec]
    body: str  # the whole Jinja source, header included, so line numbers match the file
    timezone: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "params": [spec.describe() for spec in self.params.values()],
        }

    def render(self, values: Mapping[str, Any]) -> RenderedQuery:
        return render_sql(self, values)


def parse_template(name: str, source: str) -> ReportTemplate:
    """Parse a template file's text; raise TemplateError naming the file and line."""
    filename = f"{name}.sql"
    if "\x00" in source:
        raise TemplateError("template contains a NUL character", source=filename, line=1)
    match = _HEADER.match(source)
    if match is None:
        raise TemplateError("template must start with a {#--- YAML header ---#} comment", source=filename, line=1)
    header = _load_header(match.group("yaml"), filename)
    params = _parse_params(header.get("params"), filename, source)
    template = ReportTemplate(
        name=name,
        title=str(header.get("title") or name),
        description=str(header.get("description") or ""),
        params=params,
        body=source,
        timezone=str(header["timezone"]) if header.get("timezone") else None,
        options={key: value for key, value in header.items() if key not in _HEADER_KEYS},
    )
    _check_body(template, filename)
    return template


def _load_header(text: str, filename: str) -> dict[str, Any]:
    try:
        header = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for 0-based, +1 for the {#--- line
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError(f"invalid YAML header: {problem}", source=filename, line=line) from exc
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise TemplateError("YAML header must be a mapping of keys (title, params...)", source=filename, line=2)
    return header


def _parse_params(raw: Any, filename: str, source: str) -> dict[str, ParameterSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TemplateError("params must be a mapping of name to declaration", source=filename, line=_line_of("params:", source))
    specs = {}
    for name, declaration in raw.items():
        try:
            specs[str(name)] = parse_declaration(str(name), declaration)
        except DeclarationError as exc:
            raise TemplateError(str(exc), source=filename, line=_line_of(f"{name}:", source)) from exc
    return specs


def _line_of(needle: str, source: str) -> int:
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip().startswith(needle):
            return number
    return 1


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_no_finalize)
    for name in _FORBIDDEN_FILTERS:
        environment.filters.pop(name, None)
    return environment


def _no_finalize(value: Any) -> Any:
    return value


def _check_body(template: ReportTemplate, filename: str) -> None:
    environment = _environment()
    try:
        tree = environment.parse(template.body)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Jinja syntax error: {exc.message}", source=filename, line=exc.lineno) from exc
    for node in tree.find_all(nodes.Filter):
        if node.name in _FORBIDDEN_FILTERS:
            raise TemplateError(f"filter '{node.name}' is not allowed: values are always bound", source=filename, line=node.lineno)
    for statement in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise TemplateError("include/import/extends are not allowed in report templates", source=filename, line=statement.lineno)
    undeclared = sorted(meta.find_undeclared_variables(tree) - set(template.params))
    if undeclared:
        line = _first_use_line(tree, undeclared[0])
        raise TemplateError(f"variable '{undeclared[0]}' is used but not declared in params", source=filename, line=line)


def _first_use_line(tree: nodes.Template, name: str) -> int:
    for node in tree.find_all(nodes.Name):
        if node.name == name:
            return int(node.lineno)
    return 1


class _Binder:
    """Collects the values of ``{{ ... }}`` outputs in render order, emitting marks instead."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def __call__(self, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            if not value:
                # An empty IN () is a syntax error; NULL matches nothing, which is what an empty list means.
                self.args.append(None)
                return _PLACEHOLDER_MARK
            self.args.extend(_bindable(item) for item in value)
            return ", ".join([_PLACEHOLDER_MARK] * len(value))
        self.args.append(_bindable(value))
        return _PLACEHOLDER_MARK


def _bindable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, Decimal, dt.date, dt.time, dt.timedelta)):
        return value
    return str(value)


def render_sql(template: ReportTemplate, values: Mapping[str, Any]) -> RenderedQuery:
    binder = _Binder()

    # pass_context stops Jinja from folding constant outputs at compile time, which would
    # bind them before (and out of order with) the values bound at render time.
    @pass_context
    def bind(_context: Context, value: Any) -> str:
        return binder(value)

    environment = _environment()
    environment.finalize = bind
    try:
        text = environment.from_string(template.body).render(**values)
    except (UndefinedError, SecurityError, TypeError, ValueError) as exc:
        raise TemplateError(f"rendering failed: {exc}", source=f"{template.name}.sql") from exc
    # pymysql formats the query with Python's % operator when arguments are given, so a literal
    # % in the template text (LIKE 'a%') must be doubled; placeholders are inserted afterwards.
    sql = text.replace("%", "%%").replace(_PLACEHOLDER_MARK, "%s").strip()
    if not sql:
        raise TemplateError("rendered query is empty", source=f"{template.name}.sql")
    return RenderedQuery(sql=sql, args=tuple(binder.args))


def describe_params(values: Mapping[str, Any]) -> dict[str, Any]:
    return to_json_params(values)
