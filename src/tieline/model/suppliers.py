"""Suppliers and subcontractors, with every spelling they were seen under."""

from __future__ import annotations

import enum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.model._base import CanonicalRecord


class SupplierStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    BLOCKED = "blocked"
    # Found to be another supplier under another name; `merged_into` says which.
    MERGED = "merged"


class Address(BaseModel):
    """A postal address as the source gave it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)


class BankAccount(BaseModel):
    """Where a supplier is paid: an IBAN, or an account number and routing code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_number: str = Field(min_length=1)
    bank_code: str | None = None
    holder: str | None = None


class Supplier(CanonicalRecord):
    """A company that sells to or works for the group.

    `aliases` holds every spelling the supplier was seen under, the legal name
    included; `tax_id` is stored normalised (no spaces, country prefix kept).
    A merged supplier keeps its record, with `merged_into` naming the supplier
    that carries on for it.
    """

    kind: ClassVar[str] = "supplier"

    legal_name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    tax_id: str | None = None
    addresses: list[Address] = Field(default_factory=list)
    bank_accounts: list[BankAccount] = Field(default_factory=list)
    status: SupplierStatus = SupplierStatus.ACTIVE
    merged_into: str | None = None

    @model_validator(mode="after")
    def _merged_names_its_target(self) -> Self:
        merged = self.status is SupplierStatus.MERGED
        if merged != (self.merged_into is not None):
            raise ValueError("merged_into is set exactly when the status is merged")
        if self.merged_into is not None and self.merged_into == self.id:
            raise ValueError("a supplier cannot be merged into itself")
        return self
