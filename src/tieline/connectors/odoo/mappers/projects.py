"""Project <-> project.project and its analytic account (the "Projects" plan)."""

from __future__ import annotations

from typing import Any, ClassVar

from tieline.connectors.odoo._versions import OdooVersion
from tieline.connectors.odoo.mappers._base import Mapper
from tieline.model import Project, ProjectStatus


class ProjectAccountMapper(Mapper):
    """The project's analytic account: its code is the project's code."""

    model: ClassVar[str] = "account.analytic.account"
    direct = (("name", "name"), ("code", "code"))

    def to_odoo(
        self, project: Project, *, plan_id: int, company_id: int
    ) -> dict[str, Any]:
        """Values of the analytic account."""
        return {
            **self.direct_to_odoo(project),
            "plan_id": plan_id,
            "company_id": company_id,
        }

    def natural_key(self, project: Project, *, plan_id: int) -> list[Any]:
        """An account with the project's code in the projects plan."""
        return [("plan_id", "=", plan_id), ("code", "=", project.code)]


class ProjectMapper(Mapper):
    """The project itself, pointing at its analytic account."""

    model: ClassVar[str] = "project.project"
    direct = (("name", "name"),)

    def to_odoo(
        self,
        project: Project,
        *,
        account_id: int,
        company_id: int,
        version: OdooVersion,
    ) -> dict[str, Any]:
        """Values of project.project (19 renamed analytic_account_id to account_id)."""
        return {
            **self.direct_to_odoo(project),
            version.project_account_field: account_id,
            "company_id": company_id,
            "active": project.status is not ProjectStatus.CLOSED,
        }

    def natural_key(self, account_id: int, version: OdooVersion) -> list[Any]:
        """The project already linked to the analytic account."""
        return [(version.project_account_field, "=", account_id)]
