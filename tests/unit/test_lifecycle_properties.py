"""Random interleavings of submit, claim, start, heartbeat, finish, crash and read over the ledger
and its in-memory twin: never two live exports for one identity, never a stranded ``running``
after a read, never an export id handed out that does not exist.

Each rule performs the same ledger calls, in the same order, as ``ExportJobs._submit`` (create,
claim, discard on join) and ``ExportWorker`` (start, beat, succeed, remember, release); the clock
only moves when a rule says so, so the stale window is crossed at arbitrary points.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chalicelib.exports import lifecycle
from chalicelib.exports.ledger import ExportLedger, Handle, Joined, RecordChangedError
from chalicelib.exports.lifecycle import ExportRecord, ExportState, Outcome, StaleWindows
from chalicelib.records import InMemoryRecordStore

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.UTC)
WINDOWS = StaleWindows(running=dt.timedelta(seconds=60), queued=dt.timedelta(seconds=300))
KEYS = ("k1", "k2")
OUTCOME = Outcome(row_count=1, size_bytes=10, s3_key="exports/x.xlsx", file_name="x.xlsx")


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.ledger = ExportLedger(
            InMemoryRecordStore(), InMemoryRecordStore(), windows=WINDOWS, idempotency_ttl_seconds=3600, clock=lambda: self.now
        )
        self.counter = 0
        self.handed_out: set[str] = set()  # every export id a client was given
        self.workers: dict[str, Handle] = {}  # live workers and the version they last wrote
        self.crashed: set[str] = set()

    def _new_id(self) -> str:
        self.counter += 1
        stamp = self.now + dt.timedelta(microseconds=self.counter * 1000)
        return f"{stamp:%Y%m%d-%H%M%S}-{self.counter % 1000:03d}{self.counter:07x}"

    @rule(key=st.sampled_from(KEYS))
    def submit(self, key: str) -> None:
        record = ExportRecord(self._new_id(), key, "orders", "Orders", {}, "xlsx", ExportState.QUEUED, "api", self.now)
        handle = self.ledger.create(record)
        admission = self.ledger.claim(key, record.export_id)
        if isinstance(admission, Joined):
            self.ledger.discard(handle)
            self.handed_out.add(admission.export_id)
            joined = self.ledger.load(admission.export_id)
            # Joining a finished export would strand the identity: nothing would ever run again.
            assert joined is not None and not joined.record.state.finished, "a request joined a finished export"
        else:
            self.handed_out.add(record.export_id)
            self.workers[record.export_id] = handle  # dispatched: a worker will pick it up

    @rule(data=st.data())
    def worker_starts(self, data: st.DataObject) -> None:
        waiting = sorted(i for i, h in self.workers.items() if h.record.state is ExportState.QUEUED and i not in self.crashed)
        if not waiting:
            return
        export_id = data.draw(st.sampled_from(waiting))
        handle = self.workers[export_id]
        try:
            self.workers[export_id] = self.ledger.commit(handle, lifecycle.start(handle.record, self.now), "running")
        except RecordChangedError:
            del self.workers[export_id]  # a reader declared it lost first: the worker does nothing

    @rule(data=st.data())
    def worker_beats(self, data: st.DataObject) -> None:
        running = sorted(i for i, h in self.workers.items() if h.record.state is ExportState.RUNNING and i not in self.crashed)
        if not running:
            return
        export_id = data.draw(st.sampled_from(running))
        handle = self.workers[export_id]
        try:
            self.workers[export_id] = self.ledger.commit(handle, lifecycle.beat(handle.record, self.now), "beat")
        except RecordChangedError:
            del self.workers[export_id]

    @rule(data=st.data(), succeeds=st.booleans())
    def worker_finishes(self, data: st.DataObject, succeeds: bool) -> None:
        running = sorted(i for i, h in self.workers.items() if h.record.state is ExportState.RUNNING and i not in self.crashed)
        if not running:
            return
        export_id = data.draw(st.sampled_from(running))
        handle = self.workers.pop(export_id)
        change = (
            lifecycle.succeed(handle.record, OUTCOME, self.now) if succeeds else lifecycle.fail(handle.record, {"code": "query_failed"}, self.now)
        )
        try:
            done = self.ledger.commit(handle, change, "finished")
        except RecordChangedError:
            return  # declared lost meanwhile: the verdict stands
        if done.record.state is ExportState.SUCCEEDED:
            self.ledger.remember_success(done.record)
        self.ledger.release(done.record.export_key, export_id)

    @rule(data=st.data())
    def worker_crashes(self, data: st.DataObject) -> None:
        alive = sorted(set(self.workers) - self.crashed)
        if alive:
            self.crashed.add(data.draw(st.sampled_from(alive)))

    @rule(seconds=st.sampled_from((1, 10, 30, 59, 61, 120, 301)))
    def time_passes(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @rule(data=st.data())
    def someone_reads(self, data: st.DataObject) -> None:
        if not self.handed_out:
            return
        export_id = data.draw(st.sampled_from(sorted(self.handed_out)))
        settled = self.ledger.settle(export_id)
        assert settled is not None, f"export {export_id} was handed out but does not exist"
        assert not settled.handle.record.is_stale(self.now, WINDOWS), "a read left a dead export unfinished"

    @invariant()
    def no_export_is_lost(self) -> None:
        for export_id in self.handed_out:
            assert self.ledger.load(export_id) is not None, f"export {export_id} was handed out but does not exist"

    @invariant()
    def at_most_one_live_export_per_identity(self) -> None:
        live: dict[str, list[str]] = {}
        for export_id in self.handed_out:
            handle = self.ledger.load(export_id)
            assert handle is not None
            if not handle.record.state.finished and not handle.record.is_stale(self.now, WINDOWS):
                live.setdefault(handle.record.export_key, []).append(export_id)
        assert all(len(ids) == 1 for ids in live.values()), live


LifecycleMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TestLifecycleInterleavings = LifecycleMachine.TestCase
