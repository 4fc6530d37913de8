"""Measure the cold-start import cost of a module (``app`` by default) in fresh interpreters.

``python -m devstack.import_time [module] [--runs N]`` prints the fastest, median and slowest
import; the fastest is the least disturbed by other work on a shared machine. Byte code is compiled
once first, as it is inside a Lambda package.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
_PROBE = "import time; started = time.perf_counter(); import {module}; print(time.perf_counter() - started)"


def import_seconds(module: str) -> float:
    result = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


@click.command(help=__doc__)
@click.argument("module", default="app")
@click.option("--runs", type=int, default=15, show_default=True)
def cli(module: str, runs: int) -> None:
    import_seconds(module)  # compile byte code once
    times = sorted(import_seconds(module) * 1000 for _ in range(runs))
    median = statistics.median(times)
    print(f"import {module}: fastest {times[0]:.0f} ms, median {median:.0f} ms, slowest {times[-1]:.0f} ms ({runs} runs)")


if __name__ == "__main__":
    cli(prog_name="python -m devstack.import_time")
