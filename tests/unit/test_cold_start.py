"""Importing the app does no work: no AWS client, no connection, no secret read, no settings parsed;
and it imports only what every API route needs (the import contract, measured in bench/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

# Runs in a fresh interpreter, with every way of doing work at import time turned into a recorded event.
PROBE = r"""
import json, socket
events = []
real_connect = socket.socket.connect
def connect(self, address):
    events.append(f"socket.connect {address}")
    return real_connect(self, address)
socket.socket.connect = connect
import botocore.session
real_create_client = botocore.session.Session.create_client
def create_client(self, service, *args, **kwargs):
    events.append(f"boto client {service}")
    return real_create_client(self, service, *args, **kwargs)
botocore.session.Session.create_client = create_client
import app
from chalicelib import runtime, settings
events += ["settings parsed"] if settings.get_settings.cache_info().currsize else []
events += ["service built"] if runtime.export_jobs.cache_info().currsize else []
print(json.dumps({"events": events}))
"""


def test_importing_app_creates_no_client_opens_no_connection_and_reads_no_secret() -> None:
    report = _probe(PROBE)
    assert report["events"] == []  # what loads at import is the next test's NOT_AT_IMPORT contract


# Each of these cost a measurable share of a cold start under the API handler's CPU share
# (bench/README.md "Cold start"), and a route that needs one imports it when it runs:
# boto3 (and s3transfer): clients are botocore's, the transfer manager only uploads (worker, CLI);
# botocore's session and client machinery: made with the first client, never at import;
# jinja2 and yaml: only routes that parse a template; rsa and pyasn1: only a CloudFront link;
# urllib.request: only a Slack webhook post; slack_sdk: only the Slack app's endpoints;
# rustpy_xlsxwriter: only the worker's fast writer.
NOT_AT_IMPORT = (
    "boto3",
    "s3transfer",
    "botocore.session",
    "botocore.client",
    "urllib3",
    "jinja2",
    "yaml",
    "rsa",
    "pyasn1",
    "urllib.request",
    "sqlglot",
    "pymysql",
    "xlsxwriter",
    "rustpy_xlsxwriter",
    "slack_sdk",
)
CONTRACT_PROBE = r"""
import json, sys
import app
print(json.dumps({"events": [], "modules": sorted(sys.modules)}))
"""


def test_importing_app_imports_nothing_a_route_loads_on_first_use() -> None:
    # A package counts as imported when any of its modules is ("jinja2.sandbox" loads "jinja2").
    loaded = set(_probe(CONTRACT_PROBE)["modules"])
    assert sorted(name for name in NOT_AT_IMPORT if name in loaded) == []


def test_the_import_contract_can_fail() -> None:
    # The same probe sees a heavy import when one happens, so the contract above is not vacuous.
    loaded = set(_probe(CONTRACT_PROBE.replace("import app", "import app, chalicelib.storage, jinja2, boto3"))["modules"])
    assert {"jinja2", "boto3", "botocore.session"} <= loaded


def _probe(code: str) -> dict[str, Any]:
    # No region and an unreachable endpoint: any client or request made at import would show up or fail.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", PYTHONPATH=str(ROOT))
    env.pop("EXPORT_BUCKET", None)  # settings that cannot be parsed must not matter to an import
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr == ""
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
