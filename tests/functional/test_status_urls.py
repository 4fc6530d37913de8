"""POST /exports through the app, for both shapes of event: status_url and Location are live links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.local import LambdaContext

import app as export_app
from devstack import stack
from tests.helpers import local_chalice_client
from tests.unit.test_api_urls import api_gateway_event, chalice_local_event

pytestmark = pytest.mark.stack
BODY = {"report": "orders_by_day", "params": {"day": "2026-11-29"}}


def post(event: dict[str, Any]) -> dict[str, Any]:
    event = event | {"body": json.dumps(BODY)}
    answer: dict[str, Any] = export_app.app(event, LambdaContext("api_handler", memory_size=256, max_runtime_ms=30_000))
    assert answer["statusCode"] in (200, 202), answer
    return answer


@pytest.mark.parametrize(
    ("event", "base"),
    [
        (api_gateway_event(), "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/api"),
        (chalice_local_event("127.0.0.1:8000"), "http://127.0.0.1:8000"),
    ],
    ids=["api-gateway", "chalice-local"],
)
def test_status_url_and_location_lead_to_the_export(
    event: dict[str, Any], base: str, aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_chalice_client(monkeypatch, tmp_path):
        answer = post(event)
    body = json.loads(answer["body"])
    assert body["status_url"] == f"{base}/exports/{body['export_id']}"
    assert answer["headers"]["Location"] == body["status_url"]
