"""Measure the cold-start import cost of a module (``app`` by default) in fresh interpreters.

``python -m devstack.import_time [module] [--runs N]`` prints the fastest, median and slowest
import; the fastest is the least disturbed by other work on a shared machine. Byte code is compiled
once first, as it is inside a Lambda package.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PROBE = "import time; started = time.perf_counter(); import {module}; print(time.perf_counter() - started)"


def import_seconds(module: str) -> float:
    result = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.import_time", description=__doc__)
    parser.add_argument("module", nargs="?", default="app")
    parser.add_argument("--runs", type=int, default=15)
    arguments = parser.parse_args(argv)
    import_seconds(arguments.module)  # compile byte code once
    times = sorted(import_seconds(arguments.module) * 1000 for _ in range(arguments.runs))
    median = statistics.median(times)
    print(f"import {arguments.module}: fastest {times[0]:.0f} ms, median {median:.0f} ms, slowest {times[-1]:.0f} ms ({arguments.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
