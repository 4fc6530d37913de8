from __future__ import annotations

import io

from tools.cli.progress import ProgressDisplay


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_sees_rows_rate_and_elapsed_time_redrawn_in_place() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, live=True, clock=clock)
    clock.now += 1.0
    display("Summary", 30)
    clock.now += 1.0
    display("Orders", 2000)
    clock.now += 0.05  # too soon to redraw
    display("Orders", 3000)
    display.finish()
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0].rstrip() == "Summary: 30 rows  30 rows/s  0:01.0"
    assert frames[1].rstrip() == "Orders: 2,030 rows  1,015 rows/s  0:02.0"
    assert frames[2].rstrip() == "Orders: 3,030 rows  1,478 rows/s  0:02.0"
    assert stream.getvalue().endswith("\n")


def test_off_a_terminal_nothing_is_drawn() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, live=False)
    display("Orders", 1000)
    display.finish()
    assert stream.getvalue() == ""
    assert display.rows == 1000
