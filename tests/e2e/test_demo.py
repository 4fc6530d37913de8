"""`make demo` run twice: the second answer comes from the cache (200), and the demo still verifies the file."""

from __future__ import annotations

import pytest

from devstack import stack
from devstack.demo import run_demo
from tests.conftest import TEST_ORDERS

pytestmark = pytest.mark.stack


def test_the_demo_can_run_twice_in_a_row(local_stack: stack.StackConfig, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(local_stack, orders=TEST_ORDERS, report="orders_range") == 0
    first = capsys.readouterr().out
    assert run_demo(local_stack, orders=TEST_ORDERS, report="orders_range") == 0
    second = capsys.readouterr().out
    assert "<== 202 " in first or "<== 200 " in first  # another test may have run the same export within the hour
    assert "<== 200 " in second and '"cached": true' in second
    assert "identical order ids: True" in second
