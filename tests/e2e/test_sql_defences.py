"""SQL defence in depth against the real MariaDB: bound values round-trip unchanged, and the session
refuses writes, several statements and over-long queries even when the parser check is bypassed."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from chalicelib.database import open_query
from chalicelib.errors import QueryError
from chalicelib.secrets import DatabaseCredentials
from chalicelib.templating.template import RenderedQuery, render_sql
from devstack import stack
from tests.helpers import database_rows
from tests.strategies import values
from tests.unit.test_render_properties import ROUND_TRIP

pytestmark = pytest.mark.stack


def credentials(config: stack.StackConfig, *, admin: bool = False) -> DatabaseCredentials:
    user, password = (stack.ADMIN_USER, stack.ADMIN_PASSWORD) if admin else (stack.READONLY_USER, stack.READONLY_PASSWORD)
    return DatabaseCredentials(host="127.0.0.1", port=config.db_port, user=user, database=stack.DATABASE, password=password)


def run(config: stack.StackConfig, query: RenderedQuery, *, admin: bool = False, timeout_seconds: int = 30) -> list[tuple[Any, ...]]:
    with open_query(credentials(config, admin=admin), query, timeout_seconds=timeout_seconds, batch_rows=100) as result:
        return list(result.decoded())


def same_value(sent: Any, returned: Any) -> bool:
    """What a bound value reads back as from ``SELECT %s`` (a quoted date is text; a boolean is 1 or 0)."""
    if isinstance(sent, bool):
        return bool(returned == int(sent))
    if isinstance(sent, float):
        return bool(float(returned) == sent)
    if isinstance(sent, Decimal):
        return bool(Decimal(str(returned)) == sent)
    if isinstance(sent, dt.datetime):
        return bool(dt.datetime.fromisoformat(str(returned)) == sent)
    if isinstance(sent, dt.date):
        return bool(dt.date.fromisoformat(str(returned)) == sent)
    return bool(returned == sent) and type(returned) is type(sent)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_select_value_round_trips_through_mariadb_unchanged(local_stack: stack.StackConfig, value: Any) -> None:
    query = render_sql(ROUND_TRIP, {"v": value})
    [row] = run(local_stack, query)
    sent = value if isinstance(value, list) else [value]
    assert len(row) == len(sent)
    assert all(same_value(item, returned) for item, returned in zip(sent, row, strict=True)), (sent, row)


def server_error(config: stack.StackConfig, sql: str, *, admin: bool, timeout_seconds: int = 30) -> str:
    with pytest.raises(QueryError) as caught:
        run(config, RenderedQuery(sql=sql, args=()), admin=admin, timeout_seconds=timeout_seconds)
    return caught.value.message


def test_a_write_is_refused_by_the_read_only_transaction_even_for_a_user_who_may_write(local_stack: stack.StackConfig) -> None:
    before = database_rows(local_stack, "SELECT name FROM users WHERE id = 1")
    message = server_error(local_stack, "UPDATE users SET name = 'changed' WHERE id = 1", admin=True)
    assert "MySQL error 1792" in message and "READ ONLY transaction" in message
    assert database_rows(local_stack, "SELECT name FROM users WHERE id = 1") == before


def test_the_service_user_may_not_write_at_all(local_stack: stack.StackConfig) -> None:
    message = server_error(local_stack, "UPDATE users SET name = 'changed' WHERE id = 1", admin=False)
    assert "MySQL error 1792" in message or "MySQL error 1142" in message


def test_several_statements_are_a_syntax_error_because_multi_statements_are_off(local_stack: stack.StackConfig) -> None:
    count = database_rows(local_stack, "SELECT COUNT(*) FROM users")
    message = server_error(local_stack, "SELECT 1; DELETE FROM users", admin=True)
    assert "MySQL error 1064" in message
    assert "DELETE" not in message  # the server's quote of the SQL is cut from messages
    assert database_rows(local_stack, "SELECT COUNT(*) FROM users") == count


def test_the_statement_time_limit_stops_a_long_query(local_stack: stack.StackConfig) -> None:
    started = time.monotonic()
    message = server_error(local_stack, "SELECT COUNT(*) FROM orders a, orders b, orders c", admin=False, timeout_seconds=1)
    assert "max_statement_time" in message or "MySQL error 1969" in message
    assert time.monotonic() - started < 10
