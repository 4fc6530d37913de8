"""The hostile-request table through chalice.test.Client: status, error code, field and message for each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

import app as export_app
from chalicelib import runtime, settings
from devstack import stack
from tests.hostile_requests import CASES, Hostile, check_answer, describe

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def client(aws_environment: stack.StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPORT_TMP_DIR", str(tmp_path_factory.mktemp("exports")))
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
        for name, value in {**config["environment_variables"], **config["stages"]["local"]["environment_variables"]}.items():
            patch.setenv(name, value)
        settings.get_settings.cache_clear()
        runtime.export_jobs.cache_clear()
        with Client(export_app.app, stage_name="local", project_dir=str(ROOT)) as test_client:
            yield test_client
        settings.get_settings.cache_clear()
        runtime.export_jobs.cache_clear()


@pytest.mark.parametrize("case", CASES, ids=describe)
def test_hostile_request_in_process(client: Client, case: Hostile) -> None:
    response = client.http.request(case.method, case.path, headers=case.headers, body=case.data or b"")
    check_answer(case, response.status_code, json.loads(response.body))
    if case.code is not None:  # (the test client leaves a dict answer's default Content-Type unset)
        assert response.headers["Content-Type"] == "application/json"
