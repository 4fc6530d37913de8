"""The canary script (canary/export_canary.js) against the local API, through `node --test`.

The node suite uses stand-ins for the Synthetics module and the Secrets Manager client, shaped like
the runtime's own (canary/test/stand-ins.js says from where); canary/test/runtime-modules/ goes on
NODE_PATH, so the script's own ``require`` finds them as it finds the real ones in the runtime. The
secret lives in the stack's real Secrets Manager endpoint and the API is the real local API.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess

import pytest

from devstack import stack

pytestmark = pytest.mark.stack

NODE_SUITE = stack.ROOT / "canary" / "test" / "canary.test.js"
RUNTIME_MODULES = stack.ROOT / "canary" / "test" / "runtime-modules"
API_KEY_SECRET = "excel-export/local/api-key"


def test_canary_script_passes_its_node_suite_against_the_local_api(local_stack: stack.StackConfig) -> None:
    api_key = f"local-canary-{secrets.token_hex(8)}"
    stack.put_secret(local_stack, API_KEY_SECRET, json.dumps({"api_key": api_key}))
    assert local_stack.s3_fault_proxy_port is not None
    env = {
        **os.environ,
        "API_URL": local_stack.api_url,
        "AWS_ENDPOINT_URL": local_stack.s3_endpoint,
        "API_KEY_SECRET": API_KEY_SECRET,
        "CANARY_TEST_API_KEY": api_key,
        "FAULT_PROXY_URL": f"http://127.0.0.1:{local_stack.s3_fault_proxy_port}",
        "NODE_PATH": str(RUNTIME_MODULES),
    }
    result = subprocess.run(["node", "--test", str(NODE_SUITE)], env=env, capture_output=True, text=True, timeout=240, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    counts = {name: int(value) for name, value in re.findall(r"^# (pass|fail|skipped) (\d+)$", result.stdout, re.MULTILINE)}
    assert counts == {"pass": 15, "fail": 0, "skipped": 0}, report
