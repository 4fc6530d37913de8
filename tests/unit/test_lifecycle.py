"""The export lifecycle: every transition checked, the record round-trips, and the ledger's claims,
liveness, history and idempotency records behave alike over the in-memory twin (no I/O here; the
same ledger runs over S3 in tests/e2e/test_export_lifecycle.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from chalicelib.exports import lifecycle
from chalicelib.exports.ledger import ExportLedger, Joined, RecordChangedError, Won, newest_first
from chalicelib.exports.lifecycle import ExportRecord, ExportState, Outcome, StaleWindows, TransitionError
from chalicelib.records import InMemoryRecordStore

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.UTC)
WINDOWS = StaleWindows(running=dt.timedelta(seconds=120), queued=dt.timedelta(seconds=900))
OUTCOME = Outcome(row_count=3, size_bytes=100, s3_key="exports/2026/12/01/x/r.xlsx", file_name="r.xlsx")


def record(export_id: str = "20261201-090000-0001234567", key: str = "k1", state: ExportState = ExportState.QUEUED) -> ExportRecord:
    return ExportRecord(export_id, key, "orders", "Orders", {"day": "2026-11-30"}, "xlsx", state, "alice", T0, template_sha256="0" * 64)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def ledger(clock: Callable[[], dt.datetime]) -> ExportLedger:
    return ExportLedger(InMemoryRecordStore(), InMemoryRecordStore(), windows=WINDOWS, idempotency_ttl_seconds=3600, clock=clock)


# transitions ---------------------------------------------------------------------------------
def test_the_happy_path_queued_running_succeeded() -> None:
    running = lifecycle.start(record(), T0)
    assert running.state is ExportState.RUNNING and running.heartbeat_at == T0
    attempt = lifecycle.begin_attempt(running, T0)
    assert attempt.attempts == 1
    done = lifecycle.succeed(lifecycle.beat(attempt, T0 + dt.timedelta(seconds=5)), OUTCOME, T0 + dt.timedelta(seconds=9))
    assert done.state is ExportState.SUCCEEDED and done.outcome == OUTCOME and done.error is None
    notified = lifecycle.record_notification(done, delivered=True)
    assert notified.notified is True and not lifecycle.awaits_notification(notified)


@pytest.mark.parametrize(
    ("transition", "from_states"),
    [
        (lambda r: lifecycle.start(r, T0), (ExportState.QUEUED, ExportState.RUNNING)),
        (lambda r: lifecycle.beat(r, T0), (ExportState.RUNNING,)),
        (lambda r: lifecycle.begin_attempt(r, T0), (ExportState.RUNNING,)),
        (lambda r: lifecycle.succeed(r, OUTCOME, T0), (ExportState.RUNNING,)),
        (lambda r: lifecycle.fail(r, {"code": "x"}, T0), (ExportState.QUEUED, ExportState.RUNNING)),
        (lambda r: lifecycle.lose(r, T0, "gone"), (ExportState.QUEUED, ExportState.RUNNING)),
        (lambda r: lifecycle.record_notification(r, delivered=True), (ExportState.SUCCEEDED, ExportState.FAILED)),
    ],
    ids=["start", "beat", "begin_attempt", "succeed", "fail", "lose", "record_notification"],
)
def test_each_transition_refuses_every_state_it_cannot_leave(
    transition: Callable[[ExportRecord], ExportRecord], from_states: tuple[ExportState, ...]
) -> None:
    for state in ExportState:
        if state in from_states:
            transition(record(state=state))
        else:
            with pytest.raises(TransitionError):
                transition(record(state=state))


def test_a_finished_export_never_runs_again_and_a_lost_one_says_why() -> None:
    lost = lifecycle.lose(lifecycle.start(record(), T0), T0, "no sign of life for 130 s")
    assert lost.state is ExportState.FAILED and lost.error is not None and lost.error["code"] == "worker_lost"
    assert lifecycle.awaits_notification(lost)
    with pytest.raises(TransitionError):
        lifecycle.start(lost, T0)


def test_the_record_round_trips_through_json_and_keeps_unknown_fields() -> None:
    done = lifecycle.succeed(lifecycle.start(record(), T0), OUTCOME, T0)
    body = done.to_json()
    assert body["status"] == "succeeded" and body["s3_key"] == OUTCOME.s3_key and body["row_count"] == 3
    assert ExportRecord.from_json(body) == done
    newer = {**body, "notify_slack_user": "U123", "slack_channel": "C1", "timezone": "Asia/Seoul", "channel_hint": "x"}
    again = ExportRecord.from_json(newer)
    assert (again.notify_slack_user, again.slack_channel, again.timezone) == ("U123", "C1", "Asia/Seoul")
    assert again.to_json()["channel_hint"] == "x" and again.to_json()["notify_slack_user"] == "U123"


def test_staleness_counts_from_the_last_sign_of_life_with_a_window_per_state() -> None:
    queued = record()
    assert not queued.is_stale(T0 + dt.timedelta(seconds=899), WINDOWS)
    assert queued.is_stale(T0 + dt.timedelta(seconds=901), WINDOWS)
    running = lifecycle.beat(lifecycle.start(queued, T0), T0 + dt.timedelta(seconds=100))
    assert not running.is_stale(T0 + dt.timedelta(seconds=219), WINDOWS)
    assert running.is_stale(T0 + dt.timedelta(seconds=221), WINDOWS)
    assert not lifecycle.fail(running, {"code": "x"}, T0).is_stale(T0 + dt.timedelta(days=9), WINDOWS)


# the ledger over the in-memory twin ----------------------------------------------------------
def test_a_conditional_commit_has_one_winner() -> None:
    book = ledger(Clock())
    handle = book.create(record())
    book.commit(handle, lifecycle.start(handle.record, T0), "running")
    with pytest.raises(RecordChangedError):
        book.commit(handle, lifecycle.fail(handle.record, {"code": "x"}, T0), "failed")


def test_a_live_claim_is_joined_a_finished_or_missing_one_taken_over() -> None:
    clock = Clock()
    book = ledger(clock)
    first = book.create(record("20261201-090000-0000000001"))
    assert isinstance(book.claim("k1", first.record.export_id), Won) and book.claims() == ["k1"]
    assert book.claim("k1", "20261201-090000-0000000002") == Joined(first.record.export_id, "queued")
    # The claim's export finished (its worker released nothing, as if it crashed just after).
    book.commit(first, lifecycle.fail(first.record, {"code": "x"}, T0), "failed")
    won = book.claim("k1", "20261201-090000-0000000003")
    assert isinstance(won, Won) and won.taken_over_from == first.record.export_id
    # A claim whose status record is missing (an older version wrote it, or it was removed): taken over.
    book.claim("k2", "20261201-090000-00000000ff")  # a claim with no status record behind it
    won = book.claim("k2", "20261201-090000-0000000004")
    assert isinstance(won, Won) and won.taken_over_from == "20261201-090000-00000000ff"


def test_a_read_past_the_stale_window_fails_the_export_once_and_frees_its_identity() -> None:
    clock = Clock()
    book = ledger(clock)
    lost_ids: list[str] = []
    book.on_lost = lost_ids.append
    handle = book.create(record())
    assert isinstance(book.claim("k1", handle.record.export_id), Won)
    book.commit(handle, lifecycle.start(handle.record, clock()), "running")
    clock.advance(119)
    settled = book.settle(handle.record.export_id)
    assert settled is not None and settled.handle.record.state is ExportState.RUNNING and not settled.lost
    clock.advance(2)
    settled = book.settle(handle.record.export_id)
    assert (
        settled is not None
        and settled.lost
        and settled.handle.record.error
        == {
            "code": "worker_lost",
            "message": "the worker stopped without finishing (no sign of life for 121 s); ask again for a new export",
            "attempts": 0,
        }
    )
    assert book.claims() == []
    again = book.settle(handle.record.export_id)
    assert again is not None and not again.lost  # declared once, then only read
    assert lost_ids == [handle.record.export_id]
    assert isinstance(book.claim("k1", "20261201-090300-0000000009"), Won)


def test_history_reads_one_page_newest_first() -> None:
    book = ledger(Clock())
    ids = [f"20261201-0900{second:02d}-{second:03d}0000000" for second in range(30)]
    for export_id in ids:
        book.index(record(export_id))
    assert book.newest(None, 5) == list(reversed(ids))[:5]
    assert book.newest("orders", 2) == [ids[-1], ids[-2]]
    assert book.newest("customers", 5) == []
    assert newest_first(ids[1]) < newest_first(ids[0])


def test_an_idempotency_record_keeps_the_request_it_was_made_for() -> None:
    clock = Clock()
    book = ledger(clock)
    assert book.reserve_idempotency("daily-1", "hash-a")
    assert not book.reserve_idempotency("daily-1", "hash-b")
    pending = book.find_idempotency("daily-1")
    assert pending is not None and pending.state == "pending" and pending.request_hash == "hash-a"
    book.complete_idempotency("daily-1", "hash-a", "20261201-090000-0000000001", 202)
    done = book.find_idempotency("daily-1")
    assert done is not None and (done.state, done.export_id, done.status_code) == ("done", "20261201-090000-0000000001", 202)
    clock.advance(3601)
    assert book.find_idempotency("daily-1") is None


def test_the_heartbeat_and_stale_window_are_settings_with_a_safe_ratio() -> None:
    from chalicelib.settings import Settings, SettingsError

    base = {"EXPORT_BUCKET": "b", "DB_SECRET_NAME": "d", "SLACK_SECRET_NAME": "s"}
    defaults = Settings.from_environment(base)
    assert (defaults.heartbeat_seconds, defaults.stale_seconds, defaults.queued_stale_seconds) == (20, 120, 900)
    assert Settings.from_environment(base | {"HEARTBEAT_SECONDS": "2", "STALE_SECONDS": "10"}).stale_seconds == 10
    with pytest.raises(SettingsError, match=r"HEARTBEAT_SECONDS .* at most a third of STALE_SECONDS"):
        Settings.from_environment(base | {"HEARTBEAT_SECONDS": "60", "STALE_SECONDS": "120"})


def test_a_heartbeat_that_outlives_its_export_stops_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    # The export thread may finish the record between the heartbeat's wait and its beat (or while
    # Heartbeat.__exit__'s join times out on a slow write): the beat must end the thread, not crash it.
    import threading

    from chalicelib.exports.worker import Heartbeat, TrackedRecord

    crashes: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    clock = Clock()
    books = ledger(clock)
    handle = books.commit(books.create(record()), lifecycle.start(record(), T0), "running")
    tracked = TrackedRecord(books, handle)
    tracked.move(lambda current: lifecycle.succeed(current, OUTCOME, T0), "succeeded")
    heartbeat = Heartbeat(tracked, clock, interval_seconds=0.01)
    with heartbeat:
        heartbeat._thread.join(timeout=2)  # a beat finds the record finished: the thread must end by itself
        assert not heartbeat._thread.is_alive()
    assert crashes == []
    assert books.load(handle.record.export_id).record.state is ExportState.SUCCEEDED  # type: ignore[union-attr]
