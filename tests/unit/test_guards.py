"""The Lambda guards stop an export before /tmp or the invocation's time runs out."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.formats import CSV, XLSX, choose_format, open_writer
from chalicelib.files.guards import MIB, ExportGuard, GuardLimits, TimeLimitError, TmpSpaceError, remaining_time_of
from chalicelib.files.workbook import SheetSource

COLUMNS = [Column("Id", FIELD_TYPE.LONGLONG, 0), Column("Text", FIELD_TYPE.VAR_STRING, 0)]


def rows(count: int) -> Iterator[tuple[Any, ...]]:
    """Rows as the export's cursor hands them over: the server's text."""
    return ((str(number), f"row {number} " + "x" * 200) for number in range(count))


def write_through(guard: ExportGuard, work_dir: Path, count: int, extension: str = "xlsx") -> int:
    fmt = XLSX if extension == "xlsx" else CSV
    with open_writer(fmt, str(work_dir / f"out.{extension}"), tmp_dir=str(work_dir)) as writer:
        return writer.add_sheet(SheetSource(name="Rows", columns=COLUMNS, rows=guard.watch(rows(count)), text_rows=True)).row_count


class FakeLambdaClock:
    """Counts down like context.get_remaining_time_in_millis(), one second per call."""

    def __init__(self, start_ms: int) -> None:
        self.remaining_ms = start_ms

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= 1000
        return self.remaining_ms


def test_a_result_too_large_for_the_tmp_budget_stops_with_a_clear_reason(tmp_path: Path) -> None:
    limits = GuardLimits(tmp_budget_bytes=2 * MIB, tmp_reserve_bytes=MIB // 2, check_every_rows=500)
    guard = ExportGuard(str(tmp_path), XLSX.finish, limits)
    guard.check_start()
    with pytest.raises(TmpSpaceError, match=r"result too large for 2 MB /tmp: raise ephemeral storage or use csv.gz") as caught:
        write_through(guard, tmp_path, 100_000)
    assert "stopped after" in caught.value.message
    assert caught.value.transient is False


def test_the_same_result_fits_a_larger_budget(tmp_path: Path) -> None:
    guard = ExportGuard(str(tmp_path), XLSX.finish, GuardLimits(tmp_budget_bytes=512 * MIB, tmp_reserve_bytes=MIB, check_every_rows=500))
    assert write_through(guard, tmp_path, 100_000) == 100_000


def test_csv_needs_no_room_to_finish_so_it_fits_where_xlsx_does_not(tmp_path: Path) -> None:
    limits = GuardLimits(tmp_budget_bytes=3 * MIB, tmp_reserve_bytes=MIB // 4, check_every_rows=500)
    (tmp_path / "x").mkdir()
    (tmp_path / "c").mkdir()
    with pytest.raises(TmpSpaceError):
        write_through(ExportGuard(str(tmp_path / "x"), XLSX.finish, limits), tmp_path / "x", 8_000)
    assert write_through(ExportGuard(str(tmp_path / "c"), CSV.finish, limits), tmp_path / "c", 8_000, "csv") == 8_000


def test_too_little_free_space_fails_before_the_query(tmp_path: Path) -> None:
    everything_free = shutil.disk_usage(tmp_path).free
    guard = ExportGuard(str(tmp_path), XLSX.finish, GuardLimits(tmp_reserve_bytes=everything_free + MIB))
    with pytest.raises(TmpSpaceError, match="MB free in /tmp before writing"):
        guard.check_start()


def test_running_out_of_lambda_time_stops_the_rows_before_the_worker_is_killed(tmp_path: Path) -> None:
    clock = FakeLambdaClock(start_ms=40_000)
    limits = GuardLimits(time_reserve_seconds=30, check_every_rows=100)
    guard = ExportGuard(str(tmp_path), XLSX.finish, limits, remaining_millis=remaining_time_of(clock))
    guard.check_start()
    with pytest.raises(TimeLimitError, match="would not finish within the worker's time limit") as caught:
        write_through(guard, tmp_path, 100_000)
    assert "stopped after 900 rows" in caught.value.message  # 39 s at start, one second per check


def test_too_little_time_fails_before_the_query(tmp_path: Path) -> None:
    guard = ExportGuard(str(tmp_path), XLSX.finish, GuardLimits(time_reserve_seconds=30), remaining_millis=lambda: 3000)
    with pytest.raises(TimeLimitError, match="3 s of the worker's time left"):
        guard.check_start()


def test_without_a_lambda_context_there_is_no_time_limit(tmp_path: Path) -> None:
    assert remaining_time_of(None) is None
    guard = ExportGuard(str(tmp_path), XLSX.finish, GuardLimits(check_every_rows=100), remaining_millis=remaining_time_of(object()))
    assert write_through(guard, tmp_path, 1_000) == 1_000


@pytest.mark.parametrize(
    ("requested", "report_default", "expected"),
    [(None, None, "xlsx"), ("csv", None, "csv"), (None, "csv.gz", "csv.gz"), ("xlsx", "csv", "xlsx")],
)
def test_the_request_format_wins_over_the_report_default(requested: str | None, report_default: str | None, expected: str) -> None:
    assert choose_format(requested, report_default).name == expected


@pytest.mark.parametrize("requested", ["xls", "CSV", 3, ""])
def test_an_unknown_format_is_a_400_naming_the_field(requested: Any) -> None:
    from chalicelib.errors import BadRequestError

    with pytest.raises(BadRequestError) as caught:
        choose_format(requested)
    assert (caught.value.status_code, caught.value.field, caught.value.code) == (400, "format", "invalid_format")
