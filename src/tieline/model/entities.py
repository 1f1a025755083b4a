"""Legal entities, projects, cost codes and the crosswalk between code systems."""

from __future__ import annotations

import enum
from datetime import date
from typing import ClassVar

from pydantic import Field

from tieline.model._base import CanonicalRecord
from tieline.model._types import CurrencyCode


class LegalEntity(CanonicalRecord):
    """A company of the group: it owns projects, commitments and books."""

    kind: ClassVar[str] = "legal_entity"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    base_currency: CurrencyCode
    country: str | None = None
    tax_id: str | None = None


class ProjectStatus(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    CLOSED = "closed"


class Project(CanonicalRecord):
    """A construction project, owned by one legal entity, costed in one currency.

    `code` is the project's business code (it need not be unique: two source
    rows with one code stay two projects); `origin.key` is the source's own key.
    """

    kind: ClassVar[str] = "project"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    legal_entity_id: str
    currency: CurrencyCode
    cost_code_system: str = Field(min_length=1)
    status: ProjectStatus = ProjectStatus.ACTIVE
    start_date: date | None = None
    end_date: date | None = None
    location: str | None = None


class CostCode(CanonicalRecord):
    """One node of a cost-code hierarchy (MasterFormat, a company WBS, ...).

    `project_id` scopes a code to one project; `None` means the code belongs
    to the whole code system.
    """

    kind: ClassVar[str] = "cost_code"

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    parent_code: str | None = None
    level: int | None = Field(default=None, ge=1)
    project_id: str | None = None


class CostCodeCrosswalk(CanonicalRecord):
    """States that `from_code` in one system corresponds to `to_code` in another."""

    kind: ClassVar[str] = "cost_code_crosswalk"

    from_system: str
    from_code: str
    to_system: str
    to_code: str
