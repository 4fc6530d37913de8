"""Report templates: the YAML header and Jinja2 SQL body, rendered with bound parameters only.

A template is ``<name>.sql``: a Jinja comment ``{#--- ... ---#}`` holding a YAML header (title,
description, params, layout options...), then the SQL: one query, or several, each after a marker
line ``-- sheet: <Sheet name>`` and written to its own sheet, all sharing the parameters. Rendering never pastes a value into SQL text: every
``{{ expression }}`` becomes a driver placeholder (``%s``, or ``%s, %s, ...`` for a list) and its
value goes to the bound-argument list, and the result must be one read-only SELECT (sqlcheck.py).
Rendering runs in Jinja2's sandbox with no loader, so a
template can neither reach Python internals nor include other files. Pure logic, no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import BadRequestError, TemplateError
from chalicelib.templating.options import OPTION_KEYS, ReportOptions, read_options
from chalicelib.templating.parameters import DeclarationError, ParameterSpec, check_range, parse_declaration
from chalicelib.templating.sqlcheck import UnsafeQueryError, check_read_only_query

if TYPE_CHECKING:
    from jinja2 import Template, nodes
    from jinja2.runtime import Context
    from jinja2.sandbox import SandboxedEnvironment

# YAML and Jinja are imported by the functions that parse or render a template: the API routes
# that never read one (GET /exports/{id}) do not pay for them on a cold start (bench/README.md).

# The one report-name rule (API, CLI, template checks and schedules all use it): it is also the
# template's file name and part of every S3 key, so no path trick can hide in it.
REPORT_NAME = re.compile(r"[a-z0-9_-]{1,64}")  # used with fullmatch: "$" accepts a trailing newline
REPORT_NAME_RULE = "1-64 characters of a-z, 0-9, '_' or '-'"
# The one set of sheet-name rules: the writers clean a name with them, the template check tells the
# author what the writers would have to change.
EXCEL_SHEET_NAME_LIMIT = 31
INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEADER = re.compile(r"\A\{#---[ \t]*\n(?P<yaml>.*?)\n---#\}", re.DOTALL)
_PLACEHOLDER_MARK = "\x00bind\x00"
# Filters that exist to emit text unescaped; with bound rendering they would be harmless
# (their output is bound too), but they signal a misunderstanding, so templates may not use them.
_FORBIDDEN_FILTERS = ("safe", "raw", "forceescape")
_HEADER_KEYS = ("title", "description", "params", "timezone", *OPTION_KEYS)
_SHEET_MARKER = re.compile(r"^[ \t]*--[ \t]*sheet:(?P<name>.*)$", re.MULTILINE | re.IGNORECASE)
_SQL_LINE_COMMENT = re.compile(r"--[^\n]*")


def validate_report_name(name: str, field_name: str = "report") -> str:
    if not isinstance(name, str) or not REPORT_NAME.fullmatch(name):
        raise BadRequestError(f"report name must be {REPORT_NAME_RULE}", field=field_name, code="invalid_report_name")
    return name


def is_report_name(name: object) -> TypeGuard[str]:
    return isinstance(name, str) and REPORT_NAME.fullmatch(name) is not None


def excel_sheet_name(name: str) -> str:
    """A valid Excel sheet name: no []:*?/\\, not blank, at most 31 characters."""
    cleaned = INVALID_SHEET_CHARS.sub("_", name).strip().strip("'")
    return (cleaned or "Sheet1")[:EXCEL_SHEET_NAME_LIMIT]


def continuation_sheet_name(base: str, number: int) -> str:
    """``Orders (2)``: the name of a sheet a long result continues on, still within Excel's limit."""
    suffix = f" ({number})"
    return base[: EXCEL_SHEET_NAME_LIMIT - len(suffix)] + suffix


def sheet_name_problem(name: str, seen: set[str]) -> str | None:
    """Why Excel would refuse a ``-- sheet:`` name as written (``seen``: the lower-cased names before it)."""
    if not name:
        return "sheet name is empty: write '-- sheet: <Sheet name>'"
    if INVALID_SHEET_CHARS.search(name):
        return f"sheet name '{name}' contains one of [ ] : * ? / \\ which Excel does not allow"
    if len(name) > EXCEL_SHEET_NAME_LIMIT:
        return f"sheet name '{name}' is {len(name)} characters; Excel allows {EXCEL_SHEET_NAME_LIMIT}"
    if name.startswith("'") or name.endswith("'"):
        return f"sheet name '{name}' starts or ends with an apostrophe, which Excel does not allow"
    if name.lower() == "history":
        return "sheet name 'History' is reserved by Excel"
    if name.lower() in seen:
        return f"sheet name '{name}' is used twice (Excel ignores case in sheet names)"
    return None


@dataclass(frozen=True)
class RenderedQuery:
    sql: str  # pymysql "format" paramstyle: %s placeholders, literal % doubled
    args: tuple[Any, ...]


@dataclass(frozen=True)
class SheetQuery:
    """One query of a template and the sheet it fills; ``source`` keeps the file's line numbers."""

    name: str
    line: int  # the line of its ``-- sheet:`` marker (1 for a template without markers)
    source: str  # Jinja source, preceded by blank lines so Jinja's line numbers are the file's
    variables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RenderedSheet:
    name: str
    query: RenderedQuery


@dataclass(frozen=True)
class ReportTemplate:
    name: str
    title: str
    description: str
    params: Mapping[str, ParameterSpec]
    body: str  # the whole file, header included
    timezone: str | None = None
    options: ReportOptions = field(default_factory=ReportOptions)
    sheets: tuple[SheetQuery, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.sql"

    @property
    def variables(self) -> frozenset[str]:
        """Every variable the queries read (declared ones, as undeclared ones are refused)."""
        return frozenset().union(*(sheet.variables for sheet in self.sheets))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "params": [spec.describe() for spec in self.params.values()],
            "sheets": [sheet.name for sheet in self.sheets],
        }

    def render(self, values: Mapping[str, Any]) -> RenderedQuery:
        return render_sql(self, values)


class TemplateMistakesError(TemplateError):
    """Every independent mistake found in one template, in line order; the first is the message."""

    def __init__(self, errors: list[TemplateError]) -> None:
        self.errors = sorted(errors, key=lambda error: error.line or 0)
        first = self.errors[0]
        super().__init__(first.detail, source=first.source, line=first.line)


# Every request that names a report reads its text again (S3, a few KB) and would parse it again
# (2.6 ms on a developer's core, most of it the YAML header; several times that at the API
# function's CPU share). A warm function keeps the texts it parsed last: an edited text is another
# key, so a published change is seen at once. A text with mistakes raises and is not kept.
@functools.lru_cache(maxsize=64)
def parse_template(name: str, source: str) -> ReportTemplate:
    """Parse a template file's text; raise TemplateError (TemplateMistakesError: all of them) naming the file and line."""
    template, errors = read_template(name, source)
    if errors:
        raise TemplateMistakesError(errors)
    assert template is not None
    return template


def read_template(name: str, source: str) -> tuple[ReportTemplate | None, list[TemplateError]]:
    """The template as far as it could be read, and every independent mistake in it.

    Only a file that has no readable header yields no template; otherwise each part (header keys,
    each declaration, time zone, each option, each sheet's Jinja) is checked on its own, a broken
    part left out, so an author sees every mistake of a file in one run of ``reports check``.
    """
    filename = f"{name}.sql"
    if "\x00" in source:
        return None, [TemplateError("template contains a NUL character", source=filename, line=1)]
    match = _HEADER.match(source)
    if match is None:
        return None, [TemplateError("template must start with a {#--- YAML header ---#} comment", source=filename, line=1)]
    try:
        header = _load_header(match.group("yaml"), filename)
    except TemplateError as exc:
        return None, [exc]
    known = ", ".join(_HEADER_KEYS)
    errors = [
        TemplateError(f"unknown header key {key!r}; known keys: {known}", source=filename, line=_line_of(f"{key}:", source))
        for key in header
        if key not in _HEADER_KEYS
    ]
    params, broken = _parse_params(header.get("params"), filename, source, errors)
    title = str(header.get("title") or name)
    sheets = _split_sheets(source, match.end(), title, filename, errors)
    timezone = None
    try:
        timezone = _timezone(header.get("timezone"), filename, source)
    except TemplateError as exc:
        errors.append(exc)
    template = ReportTemplate(
        name=name,
        title=title,
        description=str(header.get("description") or ""),
        params=MappingProxyType(params),  # read-only: parse_template hands one template to many requests
        body=source,
        timezone=timezone,
        options=_parse_options(header, filename, source, errors),
        # A variable whose declaration is broken is reported there, not again as undeclared.
        sheets=tuple(_check_sheet(sheet, set(params) | broken, filename, errors) for sheet in sheets),
    )
    return template, errors


def _timezone(value: Any, filename: str, source: str) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        message = f"timezone {value!r} is not a known IANA time zone (e.g. Asia/Seoul, UTC)"
        raise TemplateError(message, source=filename, line=_line_of("timezone:", source)) from None
    return str(value)


def _parse_options(header: Mapping[str, Any], filename: str, source: str, errors: list[TemplateError]) -> ReportOptions:
    options, problems = read_options(header)
    for exc in problems:
        line = _line_of(f"{exc.key}:", source)
        if exc.column is not None:
            line = _line_of(f"{exc.column}:", source, after=line) or _line_of(f"'{exc.column}':", source, after=line) or line
        errors.append(TemplateError(str(exc), source=filename, line=line))
    return options


def _split_sheets(source: str, body_start: int, title: str, filename: str, errors: list[TemplateError]) -> list[SheetQuery]:
    """One query per ``-- sheet:`` marker, or the whole file as one sheet named after the title."""
    markers = list(_SHEET_MARKER.finditer(source, body_start))
    if not markers:
        return [SheetQuery(name=title, line=1, source=source)]
    prelude = source[body_start : markers[0].start()]
    if _SQL_LINE_COMMENT.sub("", prelude).strip():
        offset = len(prelude) - len(prelude.lstrip())
        line = source.count("\n", 0, body_start + offset) + 1
        errors.append(TemplateError("SQL before the first '-- sheet:' marker belongs to no sheet", source=filename, line=line))
    sheets = []
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(source)
        line = source.count("\n", 0, marker.start()) + 1
        body = source[marker.end() : end]
        if not _SQL_LINE_COMMENT.sub("", body).strip():
            errors.append(TemplateError(f"sheet {marker.group('name').strip()!r} has no query", source=filename, line=line))
            continue
        # Blank lines in place of everything above keep Jinja's line numbers equal to the file's.
        sheets.append(SheetQuery(name=marker.group("name").strip(), line=line, source="\n" * (line - 1) + body))
    return sheets


def _load_header(text: str, filename: str) -> dict[str, Any]:
    import yaml

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


def _parse_params(raw: Any, filename: str, source: str, errors: list[TemplateError]) -> tuple[dict[str, ParameterSpec], set[str]]:
    """The well-formed declarations, and the names of the broken ones (each broken one is an error)."""
    if raw is None:
        return {}, set()
    if not isinstance(raw, dict):
        errors.append(TemplateError("params must be a mapping of name to declaration", source=filename, line=_line_of("params:", source)))
        return {}, set()
    specs, broken = {}, set()
    for name, declaration in raw.items():
        try:
            specs[str(name)] = parse_declaration(str(name), declaration)
        except DeclarationError as exc:
            errors.append(TemplateError(str(exc), source=filename, line=declaration_line(source, str(name))))
            broken.add(str(name))
    for name, spec in specs.items():
        try:
            if spec.at_most not in broken:  # a broken declaration is reported once, at its own line
                check_range(spec, specs)
        except DeclarationError as exc:
            errors.append(TemplateError(str(exc), source=filename, line=declaration_line(source, name)))
    return specs, broken


def _line_of(needle: str, source: str, *, after: int = 0) -> int:
    for number, line in enumerate(source.splitlines(), start=1):
        if number > after and line.strip().startswith(needle):
            return number
    return 1 if after == 0 else 0


def without_header(source: str) -> str:
    """The SQL part of a template's text: the header comment replaced by as many blank lines."""
    match = _HEADER.match(source)
    return source if match is None else "\n" * match.group(0).count("\n") + source[match.end() :]


def declaration_line(source: str, param: str) -> int:
    """The header line declaring a parameter (searched below ``params:`` so a ``title:`` param is found)."""
    return _line_of(f"{param}:", source, after=_line_of("params:", source)) or 1


@functools.cache
def _environment() -> SandboxedEnvironment:
    """The one sandbox every template is parsed, checked and rendered in (built on first use)."""
    from jinja2 import StrictUndefined, pass_context
    from jinja2.sandbox import SandboxedEnvironment

    # pass_context stops Jinja from folding constant outputs at compile time, which would
    # bind them before (and out of order with) the values bound at render time.
    @pass_context
    def bind(_context: Context, value: Any) -> Any:
        binder = _BINDER.get()
        return value if binder is None else binder(value)

    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=bind)
    for name in _FORBIDDEN_FILTERS:
        environment.filters.pop(name, None)
    return environment


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A sheet's Jinja compiled once per text (compiling is most of a render), then rendered per request."""
    return _environment().from_string(source)


def _check_sheet(sheet: SheetQuery, declared: set[str], filename: str, errors: list[TemplateError]) -> SheetQuery:
    """Parse one query's Jinja; record unsafe constructs and undeclared variables; note what it reads."""
    from jinja2 import TemplateSyntaxError, meta, nodes

    environment = _environment()
    try:
        tree = environment.parse(sheet.source)
    except TemplateSyntaxError as exc:
        errors.append(TemplateError(f"Jinja syntax error: {exc.message}", source=filename, line=exc.lineno))
        return sheet
    refused = len(errors)
    for node in tree.find_all(nodes.Filter):
        if node.name in _FORBIDDEN_FILTERS:
            errors.append(TemplateError(f"filter '{node.name}' is not allowed: values are always bound", source=filename, line=node.lineno))
    for statement in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        errors.append(TemplateError("include/import/extends are not allowed in report templates", source=filename, line=statement.lineno))
    if len(errors) > refused:
        # Jinja's own analysis compiles the tree, which fails on a removed filter: every name read will do.
        variables = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    else:
        variables = meta.find_undeclared_variables(tree)
    for name in sorted(variables - declared):
        errors.append(TemplateError(f"variable '{name}' is used but not declared in params", source=filename, line=_first_use_line(tree, name)))
    return SheetQuery(name=sheet.name, line=sheet.line, source=sheet.source, variables=frozenset(variables))


def _first_use_line(tree: nodes.Template, name: str) -> int:
    from jinja2 import nodes

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


# The binder of the render running in this thread (None while a template is only checked).
_BINDER: ContextVar[_Binder | None] = ContextVar("template_binder", default=None)


def _bindable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, Decimal, dt.date, dt.time, dt.timedelta)):
        return value
    return str(value)


def render_sheets(template: ReportTemplate, values: Mapping[str, Any]) -> list[RenderedSheet]:
    """Every sheet's query, in order, rendered with the same parameter values."""
    return [RenderedSheet(name=sheet.name, query=_render(template, sheet, values)) for sheet in template.sheets]


def render_sql(template: ReportTemplate, values: Mapping[str, Any]) -> RenderedQuery:
    """The first sheet's query: all there is for a template without ``-- sheet:`` markers."""
    return _render(template, template.sheets[0], values)


def _render(template: ReportTemplate, sheet: SheetQuery, values: Mapping[str, Any]) -> RenderedQuery:
    from jinja2 import UndefinedError
    from jinja2.exceptions import SecurityError

    binder = _Binder()
    token = _BINDER.set(binder)  # this render's, in this thread only: the environment is shared
    try:
        text = _compiled(sheet.source).render(**values)
    except (UndefinedError, SecurityError, TypeError, ValueError, OverflowError) as exc:
        # OverflowError: the sandbox refuses range() past 100,000 items with it.
        raise TemplateError(f"rendering failed: {exc}", source=template.file_name, line=sheet.line) from exc
    finally:
        _BINDER.reset(token)
    # pymysql formats the query with Python's % operator when arguments are given, so a literal
    # % in the template text (LIKE 'a%') must be doubled; placeholders are inserted afterwards.
    sql = text.replace("%", "%%").replace(_PLACEHOLDER_MARK, "%s").strip()
    if not sql:
        raise TemplateError(f"the query of sheet {sheet.name!r} renders empty", source=template.file_name, line=sheet.line)
    # Every path to the database renders here (export, check, EXPLAIN), so this is where a query
    # that is not one read-only SELECT is stopped.
    try:
        check_read_only_query(sql)
    except UnsafeQueryError as exc:
        raise TemplateError(f"sheet {sheet.name!r}: {exc}", source=template.file_name, line=sheet.line) from None
    return RenderedQuery(sql=sql, args=tuple(binder.args))
