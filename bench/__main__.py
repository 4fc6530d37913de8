"""Run the benchmark: ``python -m bench [--rows 100000,1000000] [--skip naive_openpyxl]``.

``python -m bench coldstart ...`` runs the API handler's cold-start benchmark instead (bench/coldstart.py).

Starts a private MariaDB (``BENCH_DB_PORT``, default 13317, data under ``.stack/bench``), seeds
the order-like table once for the largest N, runs every measurement in a fresh process per N,
and prints the table with the ratios the issue sets as targets.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.seed import seed_orders
from devstack import stack

ROOT = Path(__file__).resolve().parent.parent
# The cursor floor runs first: it reads the table into MariaDB's buffer pool, so no measurement
# after it pays for a cold cache (a first run right after seeding showed the pipeline at 0.66x).
KINDS = ["fetch_floor", "pipeline", "xlsxwriter_floor", "naive_xlsxwriter", "naive_openpyxl", "pipeline_csv_gz", "rustpy_xlsxwriter"]
LABELS = {
    "pipeline": "export pipeline: query -> xlsx (ours)",
    "fetch_floor": "raw floor: unbuffered cursor fetch only",
    "xlsxwriter_floor": "raw floor: XlsxWriter constant_memory from memory",
    "naive_xlsxwriter": "naive: fetchall + XlsxWriter default mode",
    "naive_openpyxl": "naive: fetchall + openpyxl default mode",
    "pipeline_csv_gz": "export pipeline: query -> csv.gz (ours)",
    "rustpy_xlsxwriter": "candidate: cursor -> rustpy-xlsxwriter 0.8.0 (Rust)",
}


@dataclass(frozen=True)
class Measurement:
    kind: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def measure(kind: str, rows: int, port: int) -> Measurement:
    work_dir = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=ROOT / ".stack" / "bench")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.measure", kind, str(rows), work_dir, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, in KiB on Linux
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if process.returncode != 0:
        raise SystemExit(f"{kind} at {rows:,} rows failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    assert result["rows"] == rows, result
    return Measurement(kind, rows, float(result["seconds"]), usage.ru_maxrss / 1024)


def medians(runs: list[Measurement]) -> list[Measurement]:
    """One measurement per (kind, N): the median time and the median peak RSS of its runs."""
    grouped: dict[tuple[str, int], list[Measurement]] = {}
    for run in runs:
        grouped.setdefault((run.kind, run.rows), []).append(run)
    return [
        Measurement(kind, rows, statistics.median(run.seconds for run in group), statistics.median(run.peak_rss_mb for run in group))
        for (kind, rows), group in grouped.items()
    ]


def table(results: list[Measurement]) -> str:
    lines = ["| N | measurement | seconds | rows/s | peak RSS (MB) |", "|---:|---|---:|---:|---:|"]
    for result in results:
        lines.append(
            f"| {result.rows:,} | {LABELS[result.kind]} | {result.seconds:.1f} | {result.rows_per_second:,.0f} | {result.peak_rss_mb:,.0f} |"
        )
    return "\n".join(lines)


def ratios(results: list[Measurement]) -> str:
    found = {(result.kind, result.rows): result for result in results}
    lines = ["| target | measured | met |", "|---|---:|:---:|"]
    for rows in sorted({result.rows for result in results}):
        pipeline, fetch, floor = (found.get((kind, rows)) for kind in ("pipeline", "fetch_floor", "xlsxwriter_floor"))
        if pipeline and fetch and floor:
            ratio = pipeline.rows_per_second / min(fetch.rows_per_second, floor.rows_per_second)
            lines.append(f"| pipeline rows/s >= 0.8x the slower raw floor (N={rows:,}) | {ratio:.2f}x | {_met(ratio >= 0.8)} |")
    largest, smallest = max(found, key=lambda key: key[1])[1], min(found, key=lambda key: key[1])[1]
    big, small = found.get(("pipeline", largest)), found.get(("pipeline", smallest))
    if big and small and largest != smallest:
        growth = big.peak_rss_mb / small.peak_rss_mb
        lines.append(f"| pipeline peak RSS at {largest:,} within 1.3x of {smallest:,} | {growth:.2f}x | {_met(growth <= 1.3)} |")
    if big:
        lines.append(f"| pipeline peak RSS at {largest:,} under 150 MB | {big.peak_rss_mb:.0f} MB | {_met(big.peak_rss_mb < 150)} |")
    for naive_kind in ("naive_xlsxwriter", "naive_openpyxl"):
        naive = found.get((naive_kind, largest))
        if big and naive:
            saving = naive.peak_rss_mb / big.peak_rss_mb
            lines.append(f"| >= 3x less peak memory than {naive_kind} at {largest:,} | {saving:.1f}x | {_met(saving >= 3)} |")
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["coldstart"]:
        from bench import coldstart

        return coldstart.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--skip", default="", help="comma-separated measurements to leave out")
    parser.add_argument("--only", default="", help="comma-separated measurements to run (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="run the measurements this many times, interleaved, and report the median of each")
    arguments = parser.parse_args(argv)
    sizes = [int(size) for size in arguments.rows.split(",")]
    kinds = [kind for kind in (arguments.only.split(",") if arguments.only else KINDS) if kind not in arguments.skip.split(",")]
    if "rustpy_xlsxwriter" in kinds and importlib.util.find_spec("rustpy_xlsxwriter") is None:
        print("[bench] rustpy-xlsxwriter is not installed (pip install rustpy-xlsxwriter==0.8.0): skipping it", flush=True)
        kinds.remove("rustpy_xlsxwriter")
    port = int(os.environ.get("BENCH_DB_PORT", "13317"))
    config = stack.StackConfig(directory=ROOT / ".stack" / "bench", db_port=port, s3_port=0, slack_port=0, api_port=0)
    config.directory.mkdir(parents=True, exist_ok=True)
    stack.start_mariadb(config)
    try:
        seed_orders(config, max(sizes))
        runs: list[Measurement] = []
        for rows in sizes:
            # Interleaved rounds: on a shared machine the speed drifts over minutes, and the ratio
            # targets compare measurements taken at different times; medians of rounds damp that.
            for _round in range(max(arguments.repeat, 1)):
                for kind in kinds:
                    result = measure(kind, rows, port)
                    speed = f"{result.seconds:7.1f} s {result.rows_per_second:9,.0f} rows/s {result.peak_rss_mb:7,.0f} MB"
                    print(f"[bench] {LABELS[kind]:52} N={rows:>9,}: {speed}", flush=True)
                    runs.append(result)
        results = medians(runs)
    finally:
        if not os.environ.get("KEEP_BENCH_DB"):
            stack.stop_process(config, "mariadb")
    report = f"{table(results)}\n\n{ratios(results)}\n"
    print("\n" + report)
    (config.directory / "results.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
