"""Importing the app does no work: no AWS client, no connection, no secret read, no settings parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Runs in a fresh interpreter, with every way of doing work at import time turned into a recorded event.
PROBE = r"""
import json, socket, sys, time
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
started = time.perf_counter()
import app
seconds = time.perf_counter() - started
from chalicelib import runtime, settings
events += ["settings parsed"] if settings.get_settings.cache_info().currsize else []
events += ["service built"] if runtime.export_jobs.cache_info().currsize else []
worker_only = [name for name in ("sqlglot", "pymysql", "xlsxwriter") if name in sys.modules]
print(json.dumps({"events": events, "worker_only": worker_only, "seconds": seconds}))
"""


def test_importing_app_creates_no_client_opens_no_connection_and_reads_no_secret() -> None:
    # No region and an unreachable endpoint: any client or request made at import would show up or fail.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", PYTHONPATH=str(ROOT))
    env.pop("EXPORT_BUCKET", None)  # settings that cannot be parsed must not matter to an import
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["events"] == []
    # The SQL parser, the MySQL driver and the workbook writer load when the worker first needs them.
    assert report["worker_only"] == []
    assert result.stderr == ""
