"""Is a rendered query one read-only SELECT? Checked with a real MySQL parser (sqlglot), not a regex.

This is one layer of several: values are only ever bound (templates.py), the driver never enables
multi-statements, the session is a READ ONLY transaction with a statement time limit
(database.py), and the operator gives the service a SELECT-only user on a read replica. A template
that fails this check is refused by ``reports check``/``publish`` and, should one reach S3 anyway,
fails its export with a template error before the database is touched.

Accepted: a single ``SELECT``, ``WITH ... SELECT``, or set operation of them (``UNION``...).
Refused, with the reason and never the SQL text:

- several statements, or any statement that is not a query (``INSERT``, ``SET``, ``CALL`` ...);
- writes nested in a query (``WITH d AS (DELETE ...)``), ``SELECT ... INTO``, locking reads
  (``FOR UPDATE``, ``LOCK IN SHARE MODE``);
- optimizer hints (``/*+ MAX_EXECUTION_TIME(0) */`` would lift the time limit on MySQL) and
  executable comments (``/*! ... */``, ``/*M! ... */``: MySQL runs what a parser skips as a comment);
- functions with effects outside the query: locks, sequences, server files, replication waits
  (``SLEEP`` and ``BENCHMARK`` only spend the query's own time, which the time limit bounds);
- anything sqlglot cannot parse: failing closed means an unusual but valid query must be
  rewritten, never that an unchecked one runs.

sqlglot is imported on first use, so an API cold start (which never renders SQL) does not pay for it.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

_DRIVER_MARK = re.compile(r"%%|%s")
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!", re.IGNORECASE)
_REFUSED_FUNCTIONS = frozenset(
    {
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "IS_FREE_LOCK",
        "IS_USED_LOCK",
        "LOAD_FILE",
        "NEXTVAL",
        "SETVAL",
        "LASTVAL",
        "MASTER_POS_WAIT",
        "SOURCE_POS_WAIT",
        "MASTER_GTID_WAIT",
        "WAIT_FOR_EXECUTED_GTID_SET",
    }
)


class UnsafeQueryError(ValueError):
    """The query is not a single read-only SELECT; the message says why and holds no SQL text."""


def parser_text(driver_sql: str) -> str:
    """The driver's SQL (``%s`` placeholders, ``%%`` for a percent sign) as the parser reads it (``?``)."""
    return _DRIVER_MARK.sub(lambda mark: "%" if mark.group(0) == "%%" else "?", driver_sql)


def check_read_only_query(driver_sql: str) -> None:
    """Raise UnsafeQueryError unless ``driver_sql`` is exactly one read-only SELECT."""
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    text = parser_text(driver_sql)
    dialect = _dialect()
    try:
        tokens = dialect.tokenize(text)
        _check_lexically(text, tokens)
        statements = [statement for statement in dialect.parser().parse(tokens, text) if statement is not None]
    except (ParseError, TokenError) as exc:
        raise UnsafeQueryError(f"the query cannot be parsed as MySQL ({_where(exc)}); only a plain SELECT is accepted") from None
    if len(statements) != 1:
        raise UnsafeQueryError(f"the query holds {len(statements)} statements; exactly one SELECT is accepted")
    statement = statements[0]
    if not isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise UnsafeQueryError(f"the statement is {_kind(statement)}; only SELECT or WITH ... SELECT is accepted")
    for node in statement.walk():
        reason = _refusal(node)
        if reason:
            raise UnsafeQueryError(f"the query {reason}; only a read-only SELECT is accepted")


@cache
def _dialect() -> Any:
    import sqlglot

    # sqlglot warns with the SQL text when it falls back to a generic command; refusing it is enough.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return sqlglot.Dialect.get_or_raise("mysql")


def _check_lexically(text: str, tokens: list[Any]) -> None:
    """Hints and executable comments live between tokens, where a parser sees only comments."""
    from sqlglot import TokenType

    position = 0
    for token in tokens:
        if token.token_type == TokenType.HINT:
            raise UnsafeQueryError("the query carries an optimizer hint (/*+ ... */), which could lift the time limit; remove it")
        _check_gap(text[position : token.start])
        position = token.end + 1
    _check_gap(text[position:])


def _check_gap(gap: str) -> None:
    if _EXECUTABLE_COMMENT.search(gap):
        raise UnsafeQueryError("the query has an executable comment (/*! ... */), which MySQL runs as SQL; remove it")


def _refusal(node: Any) -> str | None:
    from sqlglot import exp

    if isinstance(node, (exp.DML, exp.DDL, exp.Command, exp.Set, exp.Drop, exp.Alter, exp.LoadData, exp.TruncateTable)):
        return f"contains a {_kind(node)} statement"
    if isinstance(node, exp.Into):
        return "writes its result somewhere (SELECT ... INTO)"
    if isinstance(node, exp.Lock):
        return "takes row locks (FOR UPDATE / LOCK IN SHARE MODE)"
    if isinstance(node, exp.Hint):
        return "carries an optimizer hint"
    if isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()
        if name in _REFUSED_FUNCTIONS:
            return f"calls {name}(), which acts outside the query"
    return None


def _kind(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return str(node.this).upper() or "COMMAND"
    return type(node).__name__.upper()


def _where(exc: Exception) -> str:
    # sqlglot's message quotes the SQL around the error; only its position is passed on.
    errors = getattr(exc, "errors", None) or []
    if errors and errors[0].get("line"):
        return f"line {errors[0]['line']}, column {errors[0].get('col')}"
    return "unexpected text"
