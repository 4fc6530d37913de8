"""Shared fixtures: the local stack on test-only ports, started once per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import stack
from devstack.seed import seed

ROOT = Path(__file__).resolve().parent.parent
TEST_ORDERS = 3000


def _test_config() -> stack.StackConfig:
    env = {
        "STACK_DIR": os.environ.get("TEST_STACK_DIR", str(ROOT / ".stack" / "test")),
        "DB_PORT": os.environ.get("TEST_DB_PORT", "13307"),
        "S3_PORT": os.environ.get("TEST_S3_PORT", "15000"),
        "SLACK_PORT": os.environ.get("TEST_SLACK_PORT", "19000"),
        "API_PORT": os.environ.get("TEST_API_PORT", "18000"),
        "S3_FAULT_PROXY_PORT": os.environ.get("TEST_S3_FAULT_PROXY_PORT", str(int(os.environ.get("TEST_S3_PORT", "15000")) + 1)),
        # The most a developer could turn on: the secret-leak test reads what the API logged at DEBUG.
        "LOG_LEVEL": "DEBUG",
        # A dead worker is found within STALE_SECONDS: short here so the kill test takes seconds.
        "HEARTBEAT_SECONDS": os.environ.get("TEST_HEARTBEAT_SECONDS", "2"),
        "STALE_SECONDS": os.environ.get("TEST_STALE_SECONDS", "10"),
    }
    return stack.StackConfig.from_environment(env)


# Tiers by what a test needs, read from its fixtures, so `make test-fast` (-m "not stack and not
# package") can never start MariaDB or moto_server: a test that asks for the stack is a stack test
# whatever its file says, and one that asks for the packaged template needs `chalice package`.
_NEEDS = {"local_stack": "stack", "aws_environment": "stack", "packaged_template": "package"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[stack.StackConfig]:
    config = _test_config()
    stack.up(config)
    try:
        seed(config, TEST_ORDERS)
        yield config
    finally:
        if not os.environ.get("KEEP_TEST_STACK"):
            stack.down(config)


@pytest.fixture(scope="session")
def aws_environment(local_stack: stack.StackConfig) -> Iterator[stack.StackConfig]:
    """Point this process's boto3 clients at the test stack's S3/Secrets Manager endpoint."""
    saved = {name: os.environ.get(name) for name in local_stack.aws_environment()}
    os.environ.update(local_stack.aws_environment())
    try:
        yield local_stack
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
