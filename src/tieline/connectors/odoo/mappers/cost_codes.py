"""Cost code <-> analytic account in tieline's "Cost codes" analytic plan."""

from __future__ import annotations

from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper
from tieline.model import CostCode

COST_CODE_PLAN = "Cost codes"


class CostCodeMapper(Mapper):
    """A cost code is an analytic account whose code is the cost code."""

    model: ClassVar[str] = "account.analytic.account"
    direct = (("code", "code"),)

    def to_odoo(self, cost_code: CostCode, *, plan_id: int) -> dict[str, Any]:
        """Values of the analytic account ("03 30 00 Cast-in-place concrete")."""
        return {
            **self.direct_to_odoo(cost_code),
            "name": f"{cost_code.code} {cost_code.name}",
            "plan_id": plan_id,
        }

    def natural_key(self, cost_code: CostCode, *, plan_id: int) -> list[Any]:
        """An account with the same code in the cost-code plan."""
        return [("plan_id", "=", plan_id), ("code", "=", cost_code.code)]
