"""What a builder gets: the tables read, the transaction, the run to report to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from tieline.errors import ValidationFailed
from tieline.intake._run import ImportRun
from tieline.intake.profile import Profile
from tieline.intake.readers import Row, Table
from tieline.model import CanonicalRecord
from tieline.store import Change, Transaction


@dataclass
class BuildContext:
    """One build: profile, tables by name, transaction, run, and progress."""

    profile: Profile
    tables: dict[str, Table]
    tx: Transaction
    run: ImportRun
    actor: str
    advance: Callable[[int], None] = field(default=lambda _n: None)

    @property
    def options(self) -> dict[str, Any]:
        """The profile's builder options."""
        return self.profile.options

    def save(self, record: CanonicalRecord) -> Change:
        """Save a record and count what happened to it."""
        change = self.tx.save(record, actor=self.actor)
        self.run.record(change)
        return change

    def save_many(self, records: Sequence[CanonicalRecord]) -> list[Change]:
        """Save records in one batch (see `Transaction.save_many`) and count them."""
        changes = self.tx.save_many(records, actor=self.actor)
        for change in changes:
            self.run.record(change)
        return changes

    def reject_row(self, row: Row, field: str, reason: str) -> None:
        """Keep `row` out, with the field at fault and why."""
        self.run.reject(row.file, row.number, field, reason)

    def flag_row(self, row: Row, field: str, reason: str) -> None:
        """Let `row` in, but note it for a person."""
        self.run.flag(row.file, row.number, field, reason)


def describe_invalid(err: ValidationError | ValidationFailed) -> tuple[str, str]:
    """The (field, reason) of a model validation failure, for a reject report."""
    if isinstance(err, ValidationFailed):
        return err.field or "", err.reason
    first = err.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "record"
    return location, first["msg"]
