"""Run the benchmark: ``python -m bench [--rows 100000,1000000] [--skip naive_openpyxl]``.

``python -m bench coldstart ...`` runs the API handler's cold-start benchmark instead (bench/coldstart.py).

Starts a private MariaDB (``BENCH_DB_PORT``, default 13317, data under ``.stack/bench``), seeds
the order-like table once for the largest N, runs every measurement in a fresh process per N,
and prints the table with the ratios the issue sets as targets.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from bench import coldstart
from bench.seed import seed_orders
from devstack import stack
from tools.command_line import exit_status

ROOT = Path(__file__).resolve().parent.parent
# The cursor floor runs first: it reads the table into MariaDB's buffer pool, so no measurement
# after it pays for a cold cache (a first run right after seeding showed the pipeline at 0.66x).
KINDS = ["fetch_floor", "text_cursor", "pipeline", "xlsxwriter_floor", "pipeline_reference", "pipeline_csv_gz", "naive_xlsxwriter", "naive_openpyxl"]
LABELS = {
    "pipeline": "export pipeline: query -> xlsx (ours, fast writer)",
    "pipeline_reference": "export pipeline: query -> xlsx (XlsxWriter reference)",
    "fetch_floor": "raw floor: stock pymysql cursor, rows discarded",
    "text_cursor": "our cursor (decoders off), rows discarded",
    "xlsxwriter_floor": "raw floor: XlsxWriter constant_memory from memory",
    "naive_xlsxwriter": "naive: fetchall + XlsxWriter default mode",
    "naive_openpyxl": "naive: fetchall + openpyxl default mode",
    "pipeline_csv_gz": "export pipeline: query -> csv.gz (ours)",
}
# What the worker imports to run an export, cold, per writer (app.py is what Lambda loads first).
WORKER_IMPORTS = {
    "fast writer": "app, chalicelib.files.pipeline, chalicelib.database, chalicelib.files.fastbook, rustpy_xlsxwriter",
    "reference writer": "app, chalicelib.files.pipeline, chalicelib.database, chalicelib.files.workbook, xlsxwriter",
}
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Measurement:
    kind: str
    rows: int
    seconds: float
    peak_rss_mb: float
    peak_tmp_mb: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def measure(kind: str, rows: int, port: int) -> Measurement:
    work_dir = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=ROOT / ".stack" / "bench")
    # The native writer's temp file is open but unlinked in $TMPDIR (FACTS.md): only the file
    # system's free space shows it, so the child's TMPDIR is the work directory and the parent
    # samples free space while it runs (other processes writing to the same disk add noise).
    environment = {**os.environ, "TMPDIR": work_dir}
    free_at_start = shutil.disk_usage(work_dir).free
    peak_tmp = 0
    try:
        with tempfile.TemporaryFile("w+") as output_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.measure", kind, str(rows), work_dir, str(port)],
                cwd=ROOT,
                stdout=output_file,
                text=True,
                env=environment,
            )
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)  # the child's own peak RSS, in KiB on Linux
                if pid:
                    break
                peak_tmp = max(peak_tmp, free_at_start - shutil.disk_usage(work_dir).free)
                time.sleep(POLL_SECONDS)
            process.returncode = os.waitstatus_to_exitcode(status)
            output_file.seek(0)
            output = output_file.read()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if process.returncode != 0:
        raise SystemExit(f"{kind} at {rows:,} rows failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    assert result["rows"] == rows, result
    return Measurement(kind, rows, float(result["seconds"]), usage.ru_maxrss / 1024, peak_tmp / 1e6)


def medians(runs: list[Measurement]) -> list[Measurement]:
    """One measurement per (kind, N): the median time and the median peak RSS of its runs."""
    grouped: dict[tuple[str, int], list[Measurement]] = {}
    for run in runs:
        grouped.setdefault((run.kind, run.rows), []).append(run)
    return [
        Measurement(
            kind,
            rows,
            statistics.median(run.seconds for run in group),
            statistics.median(run.peak_rss_mb for run in group),
            statistics.median(run.peak_tmp_mb for run in group),
        )
        for (kind, rows), group in grouped.items()
    ]


def table(results: list[Measurement]) -> str:
    lines = ["| N | measurement | seconds | rows/s | peak RSS (MB) | peak /tmp (MB) |", "|---:|---|---:|---:|---:|---:|"]
    for result in results:
        lines.append(
            f"| {result.rows:,} | {LABELS[result.kind]} | {result.seconds:.2f} | {result.rows_per_second:,.0f} "
            f"| {result.peak_rss_mb:,.0f} | {result.peak_tmp_mb:,.0f} |"
        )
    return "\n".join(lines)


def ratios(results: list[Measurement]) -> str:
    """The issue's targets: ratios of rows/s within one run (medians of interleaved rounds)."""
    found = {(result.kind, result.rows): result for result in results}
    lines = ["| target (issue 15) | measured | met |", "|---|---:|:---:|"]

    def ratio(kind: str, floor: str, rows: int) -> float | None:
        mine, other = found.get((kind, rows)), found.get((floor, rows))
        return mine.rows_per_second / other.rows_per_second if mine and other else None

    targets = [
        ("pipeline", "fetch_floor", 0.7, "query -> xlsx >= 0.7x the stock cursor floor"),
        ("pipeline", "xlsxwriter_floor", 3.5, "query -> xlsx >= 3.5x the XlsxWriter floor"),
        ("pipeline_csv_gz", "fetch_floor", 0.8, "query -> csv.gz >= 0.8x the stock cursor floor"),
        ("text_cursor", "fetch_floor", 1.0, "our cursor (decoders off) vs the stock cursor"),
        ("pipeline", "pipeline_reference", 1.0, "fast writer pipeline vs the reference writer pipeline"),
    ]
    for rows in sorted({result.rows for result in results}):
        for kind, floor, target, label in targets:
            value = ratio(kind, floor, rows)
            if value is not None:
                lines.append(f"| {label} (N={rows:,}) | {value:.2f}x | {_met(value >= target)} |")
    largest, smallest = max(found, key=lambda key: key[1])[1], min(found, key=lambda key: key[1])[1]
    big, small = found.get(("pipeline", largest)), found.get(("pipeline", smallest))
    if big and small and largest != smallest:
        growth = big.peak_rss_mb / small.peak_rss_mb
        lines.append(f"| pipeline peak RSS at {largest:,} within 1.2x of {smallest:,} | {growth:.2f}x | {_met(growth <= 1.2)} |")
    if big:
        lines.append(f"| pipeline peak RSS at {largest:,} under 100 MB | {big.peak_rss_mb:.0f} MB | {_met(big.peak_rss_mb < 100)} |")
    return "\n".join(lines)


def import_times(rounds: int) -> str:
    """Cold import of the worker per writer, each in a fresh interpreter, rounds interleaved."""
    timings: dict[str, list[float]] = {name: [] for name in WORKER_IMPORTS}
    for _round in range(max(rounds, 3)):
        for name, modules in WORKER_IMPORTS.items():
            code = f"import time; started = time.perf_counter(); import {modules}; print(time.perf_counter() - started)"
            output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
            timings[name].append(float(output))
    lines = ["| worker cold import | median ms | runs |", "|---|---:|---:|"]
    for name, values in timings.items():
        lines.append(f"| {name}: {WORKER_IMPORTS[name]} | {statistics.median(values) * 1000:.0f} | {len(values)} |")
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


@click.group(invoke_without_command=True, help="Run the export benchmark (or, with `coldstart`, the API's cold-start benchmark).")
@click.option("--rows", default="100000,1000000", show_default=True, help="comma-separated row counts")
@click.option("--skip", default="", help="comma-separated measurements to leave out")
@click.option("--only", default="", help="comma-separated measurements to run (default: all)")
@click.option("--repeat", type=int, default=1, show_default=True, help="rounds, interleaved; each figure is the median of its rounds")
@click.option("--imports", is_flag=True, help="also time the worker's cold import per writer")
@click.pass_context
def cli(ctx: click.Context, /, **options: Any) -> None:
    if ctx.invoked_subcommand is None:
        ctx.exit(run(SimpleNamespace(**options)))


cli.add_command(coldstart.cli)


def main(argv: list[str] | None = None) -> int:
    return exit_status(cli, argv, "python -m bench")


def run(arguments: SimpleNamespace) -> int:
    sizes = [int(size) for size in arguments.rows.split(",")]
    kinds = [kind for kind in (arguments.only.split(",") if arguments.only else KINDS) if kind not in arguments.skip.split(",")]
    if "pipeline" in kinds and importlib.util.find_spec("rustpy_xlsxwriter") is None:
        raise SystemExit("rustpy-xlsxwriter is not installed (it is in requirements.txt): make sure the venv is current")
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
                    speed = f"{result.seconds:7.2f} s {result.rows_per_second:9,.0f} rows/s {result.peak_rss_mb:7,.0f} MB"
                    speed += f" {result.peak_tmp_mb:7,.0f} MB /tmp"
                    print(f"[bench] {LABELS[kind]:52} N={rows:>9,}: {speed}", flush=True)
                    runs.append(result)
        results = medians(runs)
    finally:
        if not os.environ.get("KEEP_BENCH_DB"):
            stack.stop_process(config, "mariadb")
    report = f"{table(results)}\n\n{ratios(results)}\n"
    if arguments.imports:
        report += f"\n{import_times(arguments.repeat)}\n"
    print("\n" + report)
    (config.directory / "results.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
