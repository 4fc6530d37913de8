"""Lambda guards: stop an export cleanly before /tmp or the invocation's time runs out.

A Lambda worker that fills /tmp dies with ENOSPC halfway through a file, and one that reaches its
timeout is killed without a word: either way the status would stay ``running`` and nobody would
hear. The guard watches the row stream and, every few thousand rows and once at its end, projects
what finishing the file will need (a finished .xlsx briefly needs about twice its streamed row
data plus the archive; closing and uploading take time too). When the projection does not fit it
raises an error that the job turns into a ``failed`` status with the reason, and a Slack message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.errors import ExportServiceError

MIB = 1024 * 1024
RemainingMillis = Callable[[], int]
Row = TypeVar("Row")


class ResourceLimitError(ExportServiceError):
    """The export would not fit in this worker; retrying the same way cannot help."""

    code = "resource_limit"


class TmpSpaceError(ResourceLimitError):
    code = "tmp_space_exhausted"


class TimeLimitError(ResourceLimitError):
    code = "time_limit"


def remaining_time_of(context: Any) -> RemainingMillis | None:
    """The Lambda context's clock; None where the worker runs without one (a local thread)."""
    method = getattr(context, "get_remaining_time_in_millis", None)
    return method if callable(method) else None


@dataclass(frozen=True)
class GuardLimits:
    tmp_budget_bytes: int | None = None  # None: whatever the work directory's file system has free
    tmp_reserve_bytes: int = 16 * MIB  # never used by the file: room for the runtime and other writers
    time_reserve_seconds: float = 30.0  # upload, status and Slack after the file is finished
    check_every_rows: int = 2000


@dataclass(frozen=True)
class FinishCost:
    """What finishing a file needs, per byte streamed to disk and per second spent streaming."""

    space_factor: float
    time_factor: float


class ExportGuard:
    def __init__(
        self,
        work_dir: str,
        cost: FinishCost,
        limits: GuardLimits,
        *,
        remaining_millis: RemainingMillis | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._work_dir = work_dir
        self._cost = cost
        self._limits = limits
        self._remaining_millis = remaining_millis
        self._clock = clock
        self._started = clock()
        usage = shutil.disk_usage(work_dir)
        self._free_at_start = usage.free
        self._writer: object = None
        self._temp_free_at_start = shutil.disk_usage(tempfile.gettempdir()).free if not _same_file_system(work_dir) else None
        available = usage.free - limits.tmp_reserve_bytes
        self._budget = min(limits.tmp_budget_bytes, available) if limits.tmp_budget_bytes else available
        # The size users can act on: the configured budget, or the whole /tmp (Lambda's ephemeral storage).
        self._budget_label = limits.tmp_budget_bytes or usage.total

    def check_start(self) -> None:
        if self._budget <= 0:
            raise TmpSpaceError(f"only {self._free_at_start // MIB} MB free in /tmp before writing: raise ephemeral storage or use csv.gz")
        remaining = self._remaining_seconds()
        if remaining is not None and remaining < self._limits.time_reserve_seconds:
            raise TimeLimitError(f"only {remaining:.0f} s of the worker's time left before the query: raise the worker timeout")

    def watch(self, rows: Iterable[Row]) -> Iterator[Row]:
        """Pass rows through, checking every few thousand and once more at the end."""
        every = self._limits.check_every_rows
        count = 0
        for row in rows:
            yield row
            count += 1
            if count % every == 0:
                self.check(count)
        self.check(count)

    def follow_writer(self, writer: object) -> None:
        """A writer with a ``finish_cost`` (the fast writer) keeps its temp file open but unlinked
        in $TMPDIR (FACTS.md): a directory walk cannot see it, so its space is measured as free
        space lost, and finishing costs what that writer needs, not the format's default."""
        self._writer = writer

    def _writer_cost(self) -> FinishCost | None:
        cost = getattr(self._writer, "finish_cost", None)
        return cost if isinstance(cost, FinishCost) else None

    def _used_bytes(self) -> int:
        used = directory_bytes(self._work_dir)
        if self._writer_cost() is None:
            return used
        lost = self._free_at_start - shutil.disk_usage(self._work_dir).free
        if self._temp_free_at_start is not None:
            lost += self._temp_free_at_start - shutil.disk_usage(tempfile.gettempdir()).free
        return max(used, lost)

    def check(self, rows_written: int) -> None:
        used = self._used_bytes()
        # Someone else filling the same /tmp (another export in a warm container) counts too.
        squeezed = shutil.disk_usage(self._work_dir).free < self._limits.tmp_reserve_bytes
        cost = self._writer_cost() or self._cost
        if squeezed or used * cost.space_factor > self._budget:
            raise TmpSpaceError(
                f"result too large for {self._budget_label // MIB} MB /tmp: raise ephemeral storage or use csv.gz "
                f"(stopped after {rows_written:,} rows, {used // MIB} MB written)"
            )
        remaining = self._remaining_seconds()
        if remaining is None:
            return
        elapsed = self._clock() - self._started
        needed = self._limits.time_reserve_seconds + elapsed * cost.time_factor
        if remaining < needed:
            raise TimeLimitError(
                f"the export would not finish within the worker's time limit: stopped after {rows_written:,} rows "
                f"with {remaining:.0f} s left; narrow the parameters or use csv.gz"
            )

    def _remaining_seconds(self) -> float | None:
        return self._remaining_millis() / 1000 if self._remaining_millis is not None else None


def _same_file_system(work_dir: str) -> bool:
    return os.stat(work_dir).st_dev == os.stat(tempfile.gettempdir()).st_dev


def directory_bytes(path: str) -> int:
    """Bytes in the files under ``path`` (the writer's output and its temp files)."""
    total = 0
    for entry in os.scandir(path):
        with suppress(FileNotFoundError):  # a temp file the writer removed meanwhile
            if entry.is_dir(follow_symlinks=False):
                total += directory_bytes(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total
