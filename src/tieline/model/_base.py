"""What every canonical record shares: identity, origin and provenance.

A record's id is derived from its kind and its origin (the system it came from
and that system's key for it), so the same source row always lands on the same
canonical id: a re-import or a retry finds the first attempt's record instead
of making a second one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.errors import ValidationFailed
from tieline.money import minor_unit

NAMESPACE = uuid.UUID("6f1c3a52-5d2e-4f0e-9a57-3c1d8e2b7a10")

# Provenance fields the store stamps; they are not part of a record's content,
# so a re-import that changes nothing else is "unchanged".
STAMP_FIELDS = frozenset({"changed_by", "changed_at", "version"})


def record_id(kind: str, system: str, key: str) -> str:
    """The canonical id of the `kind` record that `system` knows as `key`."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}\x1f{system}\x1f{key}"))


class Origin(BaseModel):
    """Which system a record came from, and that system's key for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1)
    key: str = Field(min_length=1)


class CanonicalRecord(BaseModel):
    """Base of every canonical record; `kind` names its table row and events."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: ClassVar[str]

    id: str = ""
    origin: Origin
    changed_by: str | None = None
    changed_at: datetime | None = None
    version: int = 0

    @model_validator(mode="after")
    def _derive_id(self) -> Self:
        if not self.id:
            object.__setattr__(
                self, "id", record_id(self.kind, self.origin.system, self.origin.key)
            )
        return self

    @property
    def subject(self) -> str:
        """The CloudEvents subject of this record: `<kind>/<id>`."""
        return f"{self.kind}/{self.id}"

    @property
    def status_value(self) -> str | None:
        """The record's status as a string, for kinds that have one."""
        value = getattr(self, "status", None)
        return None if value is None else str(getattr(value, "value", value))

    def content(self) -> dict[str, Any]:
        """The record as JSON-ready data, without the store's stamps."""
        return self.model_dump(mode="json", exclude=set(STAMP_FIELDS))


def check_rounded(amount: Decimal, currency: str, *, field: str, record: str) -> None:
    """Refuse an amount with more decimals than its currency's minor unit."""
    if amount != amount.quantize(Decimal(1).scaleb(-minor_unit(currency))):
        raise ValidationFailed(
            f"{amount} has more decimals than {currency} allows; round it first",
            record=record,
            field=field,
        )
