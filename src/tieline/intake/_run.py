"""One import run: its counts, its rejects and flags, and its run folder.

Every run gets a folder `<data dir>/runs/<UTC time>-<profile>-<id>/` holding
`rejects.csv` and `flags.csv` (columns: file, row, field, reason) and
`summary.json`. A reject is input that did not go in; a flag is input that
went in but that a person should look at (a clash, a tie, a sum that differs
from its parts).
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

from tieline.store import Action, Change

ISSUE_COLUMNS = ("file", "row", "field", "reason")


class ExitCode(IntEnum):
    """What `tieline import` exits with."""

    OK = 0
    FAILED = 1
    REJECTED = 2


@dataclass(frozen=True, slots=True)
class Issue:
    """A reject or a flag: where in the input, which field, and why."""

    file: str
    row: str
    field: str
    reason: str


@dataclass
class RunReport:
    """The outcome of a run, as printed and as kept in `summary.json`."""

    run_id: str
    profile: str
    run_dir: Path
    dry_run: bool
    read: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[Issue] = field(default_factory=list)
    flags: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure: str | None = None
    counts_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def exit_code(self) -> ExitCode:
        if self.failure is not None:
            return ExitCode.FAILED
        return ExitCode.REJECTED if self.rejects else ExitCode.OK

    def summary(self) -> dict[str, object]:
        """The run's figures, in the order people read them."""
        return {
            "run_id": self.run_id,
            "profile": self.profile,
            "dry_run": self.dry_run,
            "read": self.read,
            "created": self.counts[Action.CREATED.value],
            "updated": self.counts[Action.UPDATED.value],
            "unchanged": self.counts[Action.UNCHANGED.value],
            # Rows, not reasons: a row with two bad fields is one rejected row
            # with two lines in rejects.csv.
            "rejected": len({(issue.file, issue.row) for issue in self.rejects}),
            "flagged": len(self.flags),
            "by_kind": dict(sorted(self.counts_by_kind.items())),
            "notes": self.notes,
            "failure": self.failure,
            "run_dir": str(self.run_dir),
        }


class ImportRun:
    """Collects what one run did and writes its run folder at the end."""

    def __init__(self, *, profile: str, runs_dir: Path, dry_run: bool = False) -> None:
        run_id = str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in profile)
        self.report = RunReport(
            run_id=run_id,
            profile=profile,
            run_dir=runs_dir / f"{stamp}-{safe}-{run_id[:8]}",
            dry_run=dry_run,
        )

    def read(self, count: int = 1) -> None:
        """Count `count` input rows or documents read."""
        self.report.read += count

    def reject(self, file: str, row: object, field: str, reason: str) -> None:
        """Keep a row that did not go in, with its reason."""
        self.report.rejects.append(Issue(file, str(row), field, reason))

    def flag(self, file: str, row: object, field: str, reason: str) -> None:
        """Note a row that went in but needs a person's eye."""
        self.report.flags.append(Issue(file, str(row), field, reason))

    def note(self, text: str) -> None:
        """A sentence for the run's summary (e.g. why a project has no award)."""
        self.report.notes.append(text)

    def record(self, change: Change) -> None:
        """Count what `save` did to one record."""
        self.report.counts[change.action.value] += 1
        self.report.counts_by_kind[f"{change.record.kind}.{change.action.value}"] += 1

    def fail(self, reason: str) -> None:
        """Mark the run itself as failed (exit 1)."""
        self.report.failure = reason

    def write(self) -> RunReport:
        """Write the run folder and return the report."""
        folder = self.report.run_dir
        folder.mkdir(parents=True, exist_ok=True)
        _write_issues(folder / "rejects.csv", self.report.rejects)
        _write_issues(folder / "flags.csv", self.report.flags)
        (folder / "summary.json").write_text(
            json.dumps(self.report.summary(), indent=2) + "\n", encoding="utf-8"
        )
        return self.report


def _write_issues(path: Path, issues: list[Issue]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ISSUE_COLUMNS)
        for issue in issues:
            writer.writerow((issue.file, issue.row, issue.field, issue.reason))
