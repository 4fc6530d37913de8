"""The hostile-request table through chalice.test.Client: status, error code, field and message for each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from devstack import stack
from tests.helpers import local_chalice_client
from tests.hostile_requests import CASES, Hostile, check_answer, describe

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def client(aws_environment: stack.StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch, local_chalice_client(patch, tmp_path_factory.mktemp("exports")) as test_client:
        yield test_client


@pytest.mark.parametrize("case", CASES, ids=describe)
def test_hostile_request_in_process(client: Client, case: Hostile) -> None:
    response = client.http.request(case.method, case.path, headers=case.headers, body=case.data or b"")
    check_answer(case, response.status_code, json.loads(response.body))
    if case.code is not None:  # (the test client leaves a dict answer's default Content-Type unset)
        assert response.headers["Content-Type"] == "application/json"
