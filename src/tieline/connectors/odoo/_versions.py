"""Every difference between Odoo versions that the connector relies on.

Sources: the recorded fields_get of Odoo 17 and 19 and their READMEs. Odoo
19 renamed fields on projects, order lines, payments and users, answers
JSON-2 with real HTTP statuses, and keeps JSON-RPC/XML-RPC only as
deprecated (removal is announced for Odoo 20).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OdooVersion:
    """What differs between Odoo versions, decided once from the major number."""

    major: int

    @property
    def has_json2(self) -> bool:
        """JSON-2 (`/json/2/<model>/<method>`) exists from 19 on."""
        return self.major >= 19

    @property
    def has_legacy_rpc(self) -> bool:
        """`/jsonrpc` and `/xmlrpc/2` answer up to 19 (removed in 20)."""
        return self.major <= 19

    @property
    def project_account_field(self) -> str:
        """project.project's analytic account: `account_id` in 19."""
        return "account_id" if self.major >= 19 else "analytic_account_id"

    @property
    def order_line_uom_field(self) -> str:
        """purchase.order.line's unit: `product_uom_id` in 19."""
        return "product_uom_id" if self.major >= 19 else "product_uom"

    @property
    def order_line_taxes_field(self) -> str:
        """purchase.order.line's taxes: `tax_ids` in 19."""
        return "tax_ids" if self.major >= 19 else "taxes_id"

    @property
    def payment_reference_field(self) -> str:
        """account.payment's reference: `memo` in 19 (it was `ref`)."""
        return "memo" if self.major >= 19 else "ref"

    @property
    def user_groups_field(self) -> str:
        """res.users' groups: `group_ids` in 19."""
        return "group_ids" if self.major >= 19 else "groups_id"

    @property
    def done_payment_states(self) -> frozenset[str]:
        """account.payment states that mean the money went (19 adds in_process)."""
        if self.major >= 19:
            return frozenset({"in_process", "paid"})
        return frozenset({"posted"})

    @property
    def default_get_argument(self) -> str:
        """default_get's argument: `fields` in 19, `fields_list` before."""
        return "fields" if self.major >= 19 else "fields_list"


def parse_version(info: list[object] | str) -> OdooVersion:
    """The major version from `server_version_info` or a version string."""
    if isinstance(info, list) and info and isinstance(info[0], int):
        return OdooVersion(info[0])
    text = str(info[0] if isinstance(info, list) and info else info)
    digits = text.split(".")[0].removeprefix("saas~")
    return OdooVersion(int(digits))
