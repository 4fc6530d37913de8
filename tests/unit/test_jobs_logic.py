from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.errors import BadRequestError
from chalicelib.exports.identity import export_key
from chalicelib.exports.service import history_query, new_export_id, validate_export_id
from chalicelib.retry import RetryPolicy
from chalicelib.templating.parameters import parse_declaration, resolve_parameters, to_json_params

SOURCE = "{#---\nparams:\n  day: {type: date}\n---#}\nSELECT {{ day }}"


def key_for(day: str, *, source: str = SOURCE, export_format: str = "xlsx") -> str:
    specs = {"day": parse_declaration("day", {"type": "date"})}
    params = to_json_params(resolve_parameters(specs, {"day": day}, today=dt.date(2026, 11, 30)))
    return export_key("orders", source, params, export_format)


def test_export_identity_uses_normalised_parameters_template_content_and_format() -> None:
    assert key_for("2026-11-29") == key_for("2026-11-29T00:00:00") == key_for("yesterday")
    assert key_for("2026-11-29") != key_for("2026-11-28")
    assert key_for("2026-11-29") != key_for("2026-11-29", source=SOURCE + " ")
    assert key_for("2026-11-29") != key_for("2026-11-29", export_format="csv")


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=5, base_seconds=1.0, max_seconds=5.0)
    assert [policy.delay(attempt, rng=lambda: 1.0) for attempt in range(1, 5)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.delay(1, rng=lambda: 0.0) == 0.5


def test_export_ids_sort_by_creation_time_and_are_validated() -> None:
    early = new_export_id(dt.datetime(2026, 11, 30, 9, 0, 0, 1000, tzinfo=dt.UTC))
    later = new_export_id(dt.datetime(2026, 11, 30, 9, 0, 0, 2000, tzinfo=dt.UTC))
    assert early < later
    assert validate_export_id(early) == early
    with pytest.raises(BadRequestError):
        validate_export_id("../../etc/passwd")


def test_history_query_validation() -> None:
    assert history_query({}) == (None, 20)
    assert history_query({"report": "orders_by_day", "limit": "5"}) == ("orders_by_day", 5)
    for query, field in (({"limit": "101"}, "limit"), ({"report": "A/B"}, "report"), ({"sort": "x"}, "sort")):
        with pytest.raises(BadRequestError) as caught:
            history_query(query)
        assert caught.value.field == field
