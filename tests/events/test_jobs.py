"""Periodic jobs run once per interval, in one process, across restarts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tieline.errors import RetryableError
from tieline.events.jobs import JobRunner, JobState, PeriodicJob, job_states
from tieline.store import Store
from tieline.store._schema import outbox
from tieline.testing.waiting import wait_for

START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class Counting:
    """A job body that counts its runs and can be told to fail."""

    runs: int = 0
    fail_with: Exception | None = None

    def __call__(self) -> str:
        self.runs += 1
        if self.fail_with is not None:
            raise self.fail_with
        return f"run {self.runs}"


def _state(store: Store, name: str) -> JobState:
    (found,) = [s for s in job_states(store) if s.name == name]
    return found


def test_a_job_runs_once_per_interval(store: Store) -> None:
    clock, body = Clock(), Counting()
    runner = JobRunner(store, [PeriodicJob("pull", 60, body)], clock=clock)

    # Given a job that never ran: it runs at once, then not again at once
    (first,) = runner.run_due()
    assert runner.run_due() == []

    # When the interval has not quite passed, then has
    clock.advance(59)
    assert runner.run_due() == []
    clock.advance(1)
    (second,) = runner.run_due()

    # Then it ran twice, and its row says so
    assert (first.outcome, first.summary, second.summary) == ("ok", "run 1", "run 2")
    state = _state(store, "pull")
    assert (state.runs, state.failures, state.last_outcome) == (2, 0, "ok")
    assert state.next_due_at == clock.now + timedelta(seconds=60)


def test_a_restart_neither_repeats_nor_forgets_a_job(store: Store) -> None:
    clock, body = Clock(), Counting()
    JobRunner(store, [PeriodicJob("sweep", 300, body)], clock=clock).run_due()

    # When the hub restarts (a new runner, a new owner) 10 seconds later
    clock.advance(10)
    restarted = JobRunner(store, [PeriodicJob("sweep", 300, body)], clock=clock)

    # Then the job does not run again until its interval has passed
    assert restarted.run_due() == []
    clock.advance(290)
    assert [run.job for run in restarted.run_due()] == ["sweep"]
    assert body.runs == 2


def test_a_shorter_interval_applies_after_a_restart(store: Store) -> None:
    clock, body = Clock(), Counting()
    JobRunner(store, [PeriodicJob("pull", 3600, body)], clock=clock).run_due()

    clock.advance(120)
    faster = JobRunner(store, [PeriodicJob("pull", 60, body)], clock=clock)

    assert [run.job for run in faster.run_due()] == ["pull"]


def test_a_job_held_by_one_worker_is_not_run_by_another(store: Store) -> None:
    clock = Clock()
    other_runs: list[object] = []
    body = Counting()
    other = JobRunner(store, [PeriodicJob("pull", 60, body)], clock=clock)

    def run_while_the_other_tries() -> str:
        # While this worker runs the job, the other worker finds it taken
        other_runs.extend(other.run_due())
        return "done"

    mine = JobRunner(store, [PeriodicJob("pull", 60, run_while_the_other_tries)])
    mine.clock = clock

    assert [run.job for run in mine.run_due()] == ["pull"]
    assert other_runs == []
    assert body.runs == 0


def test_a_lease_left_by_a_dead_worker_frees_the_job(store: Store) -> None:
    clock = Clock()
    dead = JobRunner(store, [PeriodicJob("pull", 60, Counting(), lease=120)])
    dead.clock = clock
    # Given a worker that took the job and died before finishing it
    dead._ensure_rows()
    assert dead._claim(dead.jobs[0])
    body = Counting()
    alive = JobRunner(store, [PeriodicJob("pull", 60, body, lease=120)], clock=clock)

    # Then nobody runs it until the lease runs out, then another worker does
    assert alive.run_due() == []
    clock.advance(121)
    assert [run.job for run in alive.run_due()] == ["pull"]


def test_failures_are_recorded_and_a_deferral_honours_retry_after(
    store: Store,
) -> None:
    clock = Clock()
    body = Counting(fail_with=RetryableError("Odoo is down", retry_after=5))
    runner = JobRunner(store, [PeriodicJob("pull", 600, body)], clock=clock)

    (deferred,) = runner.run_due()
    assert (deferred.outcome, deferred.summary) == ("deferred", "Odoo is down")

    # Retried after 5 seconds, not 600; a plain error is counted as failed
    clock.advance(5)
    body.fail_with = ValueError("bad row")
    (failed,) = runner.run_due()
    assert (failed.outcome, failed.summary) == ("failed", "ValueError: bad row")
    assert _state(store, "pull").failures == 2

    clock.advance(600)
    body.fail_with = None
    (ok,) = runner.run_due()
    assert ok.outcome == "ok"
    assert _state(store, "pull").failures == 0


def test_each_run_has_its_own_correlation_id_carried_by_its_events(
    store: Store,
) -> None:
    clock = Clock()

    def emit() -> str:
        with store.transaction() as tx:
            tx.emit("tieline.test.ticked", "test/1", {})
        return "emitted"

    runner = JobRunner(store, [PeriodicJob("tick", 1, emit)], clock=clock)
    (first,) = runner.run_due()
    clock.advance(1)
    (second,) = runner.run_due()

    with store.engine.connect() as connection:
        ids = connection.execute(
            select(outbox.c.correlation_id).order_by(outbox.c.seq)
        ).all()
    assert [row.correlation_id for row in ids] == [
        first.correlation_id,
        second.correlation_id,
    ]
    assert first.correlation_id != second.correlation_id
    assert _state(store, "tick").last_correlation_id == second.correlation_id


def test_the_runner_thread_runs_due_jobs_until_stopped(store: Store) -> None:
    body = Counting()
    stop = threading.Event()
    thread = JobRunner(store, [PeriodicJob("pull", 3600, body)], tick=0.01).start(stop)
    try:
        wait_for(lambda: body.runs == 1, "the first run")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert body.runs == 1
