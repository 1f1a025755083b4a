"""Periodic jobs: work a hub does on a schedule, once per interval, anywhere.

Operator's notes
----------------
A `JobRunner` runs in every worker process (`tieline serve`, role `worker`)
and runs the hub's periodic jobs: in a hub connected to Odoo, the pull of
records changed there and the read-back of the payments on posted bills;
with a workflow policy, the SLA sweep. The intervals are settings
(`TIELINE_ODOO_PULL_INTERVAL`, `TIELINE_ODOO_PAYMENT_INTERVAL`,
`TIELINE_SLA_SWEEP_INTERVAL`).

State lives in the `scheduled_jobs` table, one row per job: when it last
started and finished, with which outcome, summary and correlation id, and
when it is due next. So a restart neither repeats a job that has just run nor
forgets one that is overdue (it runs at once), and a shorter interval set
in the settings applies at the next start. A job is due when it never ran,
when its due time has passed, or when it finished an interval ago.

Several workers: a runner takes a due job's lease in one conditional UPDATE
before running it, so each job runs in one process at a time; a runner that
dies mid-run frees the job when its lease (`PeriodicJob.lease`) runs out.

Each run is one unit of work with its own correlation id, found in its log
lines, in the events it writes, and in `last_correlation_id`.

Outcomes: `ok`; `deferred` when the job raised a `RetryableError` (the
other system is down or not ready; logged at info, retried at the next
interval or after its `retry_after` when sooner); `failed` for any other
error (warning, with a traceback when it is not a `TielineError`).

Log lines: `job.finished` (info: job, outcome, summary, seconds,
correlation_id), `job.deferred` (info), `job.failed` (warning or error),
`jobs.loop_failed` (error; the runner waits a tick and goes on).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tieline._context import unit_of_work
from tieline.errors import ConfigurationError, RetryableError, StoreBusy, TielineError
from tieline.logging import get_logger
from tieline.store import Store, as_utc
from tieline.store._schema import scheduled_jobs

log = get_logger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A named piece of work run every `interval` seconds.

    `run()` opens its own store transactions and returns a one-line summary
    of what it did, for the log and the job's state.
    """

    name: str
    interval: float
    run: Callable[[], str]
    lease: float = 900.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.lease <= 0:
            raise ConfigurationError(
                f"job {self.name} needs a positive interval and lease"
            )


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job, as the runner recorded it."""

    job: str
    outcome: str
    summary: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class JobState:
    """A job's row: its last run and when it is due next."""

    name: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    next_due_at: datetime | None
    last_outcome: str | None
    last_summary: str | None
    last_correlation_id: str | None
    runs: int
    failures: int
    lease_owner: str | None
    lease_until: datetime | None


class JobRunner:
    """Runs the jobs that are due, each in one process at a time."""

    def __init__(
        self,
        store: Store,
        jobs: Sequence[PeriodicJob],
        *,
        owner: str | None = None,
        clock: Clock = _utc_now,
        tick: float = 1.0,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"two jobs share a name in {names}")
        self.store = store
        self.jobs = list(jobs)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{_short_id()}"
        self.clock = clock
        self.tick = tick
        self._known: set[str] = set()

    def run_due(self) -> list[JobRun]:
        """Run every job that is due now and free; returns what ran."""
        self._ensure_rows()
        rows = {state.name: state for state in job_states(self.store)}
        runs = []
        for job in self.jobs:
            if not _due(rows.get(job.name), job, self.clock()):
                continue
            if self._claim(job):
                runs.append(self._run(job))
        return runs

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run due jobs every `tick` seconds in a daemon thread until `stop`."""
        thread = threading.Thread(
            target=self._loop, args=(stop,), name="periodic-jobs", daemon=True
        )
        thread.start()
        log.info("jobs.started", jobs=[job.name for job in self.jobs])
        return thread

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_due()
            except StoreBusy as err:
                log.debug("jobs.store_busy", error=str(err))
            except Exception:
                log.exception("jobs.loop_failed")
            stop.wait(self.tick)

    def _ensure_rows(self) -> None:
        missing = [job.name for job in self.jobs if job.name not in self._known]
        if not missing:
            return
        for name in missing:
            try:
                with self.store.transaction() as tx:
                    exists = tx.connection.execute(
                        select(scheduled_jobs.c.name).where(
                            scheduled_jobs.c.name == name
                        )
                    ).first()
                    if exists is None:
                        tx.connection.execute(
                            insert(scheduled_jobs).values(name=name, runs=0, failures=0)
                        )
            except IntegrityError:
                pass  # another runner made the row first
            self._known.add(name)

    def _claim(self, job: PeriodicJob) -> bool:
        now = self.clock()
        table = scheduled_jobs.c
        with self.store.transaction() as tx:
            claimed = tx.connection.execute(
                update(scheduled_jobs)
                .where(
                    table.name == job.name,
                    or_(table.lease_until.is_(None), table.lease_until < now),
                    or_(
                        table.next_due_at.is_(None),
                        table.next_due_at <= now,
                        table.last_finished_at <= now - _seconds(job.interval),
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_until=now + _seconds(job.lease),
                    last_started_at=now,
                )
                .returning(table.name)
            ).first()
        return claimed is not None

    def _run(self, job: PeriodicJob) -> JobRun:
        with unit_of_work() as correlation_id:
            started = time.monotonic()
            retry_after = None
            try:
                summary = job.run()
                outcome = "ok"
            except RetryableError as err:
                outcome, summary, retry_after = "deferred", str(err), err.retry_after
                log.info("job.deferred", job=job.name, reason=summary)
            except TielineError as err:
                outcome, summary = "failed", f"{type(err).__name__}: {err}"
                log.warning("job.failed", job=job.name, error=summary)
            except Exception as err:
                outcome, summary = "failed", f"{type(err).__name__}: {err}"
                log.exception("job.failed", job=job.name, error=summary)
            self._finish(job, outcome, summary, correlation_id, retry_after)
            log.info(
                "job.finished",
                job=job.name,
                outcome=outcome,
                summary=summary,
                seconds=round(time.monotonic() - started, 3),
            )
        return JobRun(job.name, outcome, summary, correlation_id)

    def _finish(
        self,
        job: PeriodicJob,
        outcome: str,
        summary: str,
        correlation_id: str,
        retry_after: float | None,
    ) -> None:
        now = self.clock()
        wait = job.interval
        if retry_after is not None:
            wait = min(wait, max(retry_after, 0.0))
        table = scheduled_jobs.c
        with self.store.transaction() as tx:
            tx.connection.execute(
                update(scheduled_jobs)
                .where(table.name == job.name, table.lease_owner == self.owner)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    last_finished_at=now,
                    next_due_at=now + _seconds(wait),
                    last_outcome=outcome,
                    last_summary=summary[:2000],
                    last_correlation_id=correlation_id,
                    runs=table.runs + 1,
                    failures=0 if outcome == "ok" else table.failures + 1,
                )
            )


def job_states(store: Store) -> list[JobState]:
    """Every job's row, by name."""
    with store.read() as tx:
        rows = tx.connection.execute(
            select(scheduled_jobs).order_by(scheduled_jobs.c.name)
        ).all()
    return [_state(row._mapping) for row in rows]


def _state(row: Any) -> JobState:
    return JobState(
        name=row["name"],
        last_started_at=_utc(row["last_started_at"]),
        last_finished_at=_utc(row["last_finished_at"]),
        next_due_at=_utc(row["next_due_at"]),
        last_outcome=row["last_outcome"],
        last_summary=row["last_summary"],
        last_correlation_id=row["last_correlation_id"],
        runs=row["runs"],
        failures=row["failures"],
        lease_owner=row["lease_owner"],
        lease_until=_utc(row["lease_until"]),
    )


def _due(state: JobState | None, job: PeriodicJob, now: datetime) -> bool:
    """Whether the row says the job should run now (the claim checks again)."""
    if state is None:
        return True
    if state.lease_until is not None and state.lease_until >= now:
        return False  # another run holds it
    if state.next_due_at is None or state.next_due_at <= now:
        return True
    finished = state.last_finished_at
    return finished is not None and finished <= now - _seconds(job.interval)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _short_id() -> str:
    return uuid.uuid4().hex[:8]


__all__ = ["JobRun", "JobRunner", "JobState", "PeriodicJob", "job_states"]
