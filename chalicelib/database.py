"""The MySQL read replica: a read-only, time-limited session and rows streamed from the cursor.

Rows flow as an iterator of tuples with column descriptions beside them; nothing here holds a
result set. The connection never enables multi-statements, runs in a read-only transaction, and
gets a server-side statement time limit (MySQL ``max_execution_time`` in ms, MariaDB
``max_statement_time`` in s).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import CLIENT, FIELD_TYPE

from chalicelib.errors import DatabaseError, DatabaseUnavailableError, QueryError
from chalicelib.secrets import DatabaseCredentials

if TYPE_CHECKING:  # the type only: the edge runs a rendered query, it does not render one
    from chalicelib.templating.template import RenderedQuery

# Errors where the server or the network is the problem, not the query.
_UNAVAILABLE_CODES = {1040, 1053, 2002, 2003, 2005, 2006, 2013, 2055}
_TRANSIENT_QUERY_CODES = {1205, 1213}  # lock wait timeout, deadlock
_NEAR_SQL = re.compile(r" near '.*", re.DOTALL)
logger = logging.getLogger(__name__)


_BINARY_CHARSET = 63  # MySQL's "binary" collation id; numbers and dates carry it too, so only string types count
_STRING_TYPES = {
    FIELD_TYPE.STRING,
    FIELD_TYPE.VAR_STRING,
    FIELD_TYPE.VARCHAR,
    FIELD_TYPE.BLOB,
    FIELD_TYPE.TINY_BLOB,
    FIELD_TYPE.MEDIUM_BLOB,
    FIELD_TYPE.LONG_BLOB,
    FIELD_TYPE.GEOMETRY,
}


# Decoders off: rows arrive as the server's text (bytes for binary columns) and chalicelib.files.cells
# converts each column once for the file it fills; pymysql's own decoders, then our conversion of
# their objects, cost ~11 of the cursor's ~26 µs per row (FACTS.md). Encoders stay for bound values.
_ENCODERS_ONLY: dict[Any, Any] = {key: value for key, value in pymysql.converters.conversions.items() if not isinstance(key, int)}


@dataclass(frozen=True)
class Column:
    name: str
    type_code: int
    scale: int
    binary: bool = False  # bytes, not text: the driver returns ``bytes`` for these columns
    length: int = 0  # the server's display length: a DECIMAL(M,D) is M digits plus sign and point


@dataclass
class QueryResult:
    columns: list[Column]
    rows: Iterator[tuple[Any, ...]]  # the server's text per value (None for NULL): see chalicelib.files.cells

    def decoded(self) -> Iterator[tuple[Any, ...]]:
        """The rows as pymysql's stock cursor returns them (int, Decimal, datetime...)."""
        return decoded_rows(self.columns, self.rows)


def connect(credentials: DatabaseCredentials, *, connect_timeout: int = 10) -> pymysql.connections.Connection[Any]:
    # The credentials' repr leaves the password out; the fields are named so no one is tempted to log the object.
    logger.debug("connecting", extra={"db_host": credentials.host, "db_port": credentials.port, "db_user": credentials.user})
    try:
        return pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.user,
            password=credentials.password,
            database=credentials.database,
            charset="utf8mb4",
            connect_timeout=connect_timeout,
            read_timeout=None,
            autocommit=True,
            client_flag=CLIENT.MULTI_RESULTS & ~CLIENT.MULTI_STATEMENTS,
            conv=_ENCODERS_ONLY,
        )
    except pymysql.err.MySQLError as exc:
        raise _wrap(exc, "could not connect to the database") from None


def prepare_read_only_session(connection: pymysql.connections.Connection[Any], timeout_seconds: int) -> None:
    """Read-only transaction with a statement time limit, whichever dialect the server speaks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        row = cursor.fetchone()
        version = str(row[0]) if row else ""
        if "mariadb" in version.lower():
            cursor.execute("SET SESSION max_statement_time = %s", (timeout_seconds,))
        else:
            cursor.execute("SET SESSION max_execution_time = %s", (timeout_seconds * 1000,))
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        cursor.execute("START TRANSACTION READ ONLY")


@contextmanager
def read_only_session(credentials: DatabaseCredentials, *, timeout_seconds: int) -> Iterator[pymysql.connections.Connection[Any]]:
    """One connection in one read-only transaction: every query on it reads the same snapshot."""
    connection = connect(credentials)
    try:
        try:
            prepare_read_only_session(connection, timeout_seconds)
        except pymysql.err.MySQLError as exc:
            raise _wrap(exc, "could not prepare the session") from None
        yield connection
    finally:
        with suppress(pymysql.err.MySQLError):
            connection.close()


@contextmanager
def run_query(connection: pymysql.connections.Connection[Any], query: RenderedQuery, *, batch_rows: int) -> Iterator[QueryResult]:
    """Run one query on a session and yield its columns and a row iterator (read them all)."""
    cursor: pymysql.cursors.SSCursor | None = None
    try:
        try:
            cursor = pymysql.cursors.SSCursor(connection)
            cursor.execute(query.sql, query.args)
        except pymysql.err.MySQLError as exc:
            raise _wrap(exc, "the query failed") from None
        columns = describe_columns(cursor.description or (), _charsets(cursor))
        _read_rows_faster(cursor)
        yield QueryResult(columns=columns, rows=_stream(cursor, batch_rows))
    except BaseException:
        _abandon_unread_rows(cursor)  # the session closes the connection next
        raise
    with suppress(pymysql.err.MySQLError):
        cursor.close()  # frees the connection for the session's next query


@contextmanager
def open_query(credentials: DatabaseCredentials, query: RenderedQuery, *, timeout_seconds: int, batch_rows: int) -> Iterator[QueryResult]:
    """One query on a session of its own; the connection closes afterwards."""
    with read_only_session(credentials, timeout_seconds=timeout_seconds) as connection, run_query(connection, query, batch_rows=batch_rows) as result:
        yield result


def _abandon_unread_rows(cursor: pymysql.cursors.SSCursor | None) -> None:
    # When the export stops early (a guard, a writer error) closing the cursor would read every
    # remaining row just to discard it; closing the connection drops them at once. pymysql would
    # then still try to drain the closed socket when the cursor is garbage-collected.
    result = getattr(cursor, "_result", None)
    if result is not None and getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False


def describe_columns(description: Any, charsets: Sequence[int] = ()) -> list[Column]:
    """Column names and type codes from the DB-API description; charsets tell BLOB from TEXT."""
    columns = []
    for index, entry in enumerate(description):
        name, type_code, _display, _size, precision, scale, _null_ok = entry
        binary = type_code in _STRING_TYPES and index < len(charsets) and charsets[index] == _BINARY_CHARSET
        columns.append(Column(name=str(name), type_code=int(type_code), scale=int(scale or 0), binary=binary, length=int(precision or 0)))
    return columns


def _charsets(cursor: pymysql.cursors.SSCursor) -> list[int]:
    # The DB-API description has no charset, and BLOB and TEXT share one type code; pymysql keeps
    # the server's field packets on the result it is reading.
    result = getattr(cursor, "_result", None)
    return [int(getattr(field, "charsetnr", 0)) for field in getattr(result, "fields", None) or ()]


def _read_rows_faster(cursor: pymysql.cursors.SSCursor) -> None:
    """Parse each row packet in one function instead of pymysql's three method calls per value.

    pymysql still connects, authenticates, reads the packets, the field descriptions, EOF and
    errors; only ``MySQLResult._read_row_from_packet`` (private; pymysql is pinned) is replaced on
    this one result, and only when its decoders are off as ``connect`` sets them. The MariaDB
    conformance tests (tests/functional/test_mysql_types.py) read every type through it.
    """
    result = getattr(cursor, "_result", None)
    converters = getattr(result, "converters", None)
    if result is None or converters is None or not hasattr(result, "_read_row_from_packet"):
        return
    if any(converter is not None for _encoding, converter in converters):
        return
    result._read_row_from_packet = _row_reader([encoding for encoding, _converter in converters])


def _row_reader(encodings: Sequence[str | None]) -> Any:
    """Values of the text protocol: a length-encoded string each, 0xFB for NULL (MySQL docs,
    "Protocol::LengthEncodedString"), decoded with the column's encoding or left as bytes."""
    little = int.from_bytes

    def read_row(packet: Any) -> tuple[Any, ...]:
        data: bytes = packet._data
        position: int = packet._position
        row: list[Any] = []
        append = row.append
        for encoding in encodings:
            if position >= len(data):
                break  # fewer values than columns, which pymysql tolerates too
            first = data[position]
            if first < 251:
                start, length = position + 1, first
            elif first == 251:
                append(None)
                position += 1
                continue
            else:
                size = 2 if first == 252 else 3 if first == 253 else 8
                start = position + 1 + size
                length = little(data[position + 1 : start], "little")
            position = start + length
            value = data[start:position]
            append(value.decode(encoding) if encoding is not None else value)
        packet._position = position
        return tuple(row)

    return read_row


def _stream(cursor: pymysql.cursors.SSCursor, batch_rows: int) -> Iterator[tuple[Any, ...]]:
    try:
        while True:
            batch = cursor.fetchmany(batch_rows)
            if not batch:
                return
            yield from batch
    except pymysql.err.MySQLError as exc:
        raise _wrap(exc, "reading rows failed") from None


def _wrap(exc: pymysql.err.MySQLError, context: str) -> DatabaseError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    detail = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
    detail = _NEAR_SQL.sub("", detail)  # the server quotes the SQL after "near": keep it out of messages
    if code in _UNAVAILABLE_CODES or isinstance(exc, pymysql.err.InterfaceError):
        return DatabaseUnavailableError(f"{context}: the database is unavailable (MySQL error {code})")
    error = QueryError(f"{context}: MySQL error {code}: {detail}")
    error.transient = code in _TRANSIENT_QUERY_CODES
    return error


def explain_queries(credentials: DatabaseCredentials, queries: list[RenderedQuery], *, timeout_seconds: int) -> list[str | None]:
    """EXPLAIN each query in one read-only session: the server resolves tables and columns without
    running it. Returns, per query, None or the server's full message (this is the author's own SQL,
    so the quoted fragment after "near" helps and is kept)."""
    with read_only_session(credentials, timeout_seconds=timeout_seconds) as connection:
        return [_explain(connection, query) for query in queries]


def _explain(connection: pymysql.connections.Connection[Any], query: RenderedQuery) -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {query.sql}", query.args)
            cursor.fetchall()
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else "?"
        detail = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
        return f"MySQL error {code}: {detail}"
    return None


def decoder_for(column: Column) -> Callable[[Any], Any] | None:
    """pymysql's stock decoder for the column (None: the value as it came), looked up on use."""
    from pymysql.converters import decoders, through

    decoder: Callable[[Any], Any] | None = decoders.get(column.type_code)
    return None if decoder is None or decoder is through else decoder


def decoded_rows(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """Rows of server text as the Python objects pymysql's stock cursor returns."""
    from chalicelib.files.cells import row_converter  # the one generated-converter rule

    convert = row_converter([decoder_for(column) for column in columns])
    return map(convert, rows)
