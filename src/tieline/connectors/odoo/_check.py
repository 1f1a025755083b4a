"""`tieline odoo check`: what tieline can and cannot do on an Odoo database.

Reports the version and protocol chosen, the modules tieline relies on, and
the rights of the connecting user on each model the connector writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tieline.connectors.odoo._client import OdooClient
from tieline.connectors.odoo._errors import OdooRejected

MODULES = ("purchase", "stock", "account", "project", "analytic")
RIGHTS = (
    ("res.partner", "create", "create suppliers"),
    ("purchase.order", "create", "create purchase orders"),
    ("stock.picking", "write", "validate receipts"),
    ("account.move", "create", "create vendor bills"),
    (
        "account.analytic.plan",
        "read",
        "read analytic plans (Analytic Accounting group)",
    ),
    ("account.analytic.account", "create", "create analytic accounts"),
    ("ir.model.data", "create", "stamp external ids (idempotent retries)"),
)


@dataclass
class CheckReport:
    """Findings: facts first, then what is missing (empty when all is well)."""

    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check(client: OdooClient) -> CheckReport:
    """Inspect the database behind `client` without changing anything."""
    report = CheckReport()
    version = client.version
    report.facts.append(
        f"Odoo {version.major}, protocol {client.protocol}, uid {client.uid}"
    )
    if client.protocol != "json2" and version.has_json2:
        report.problems.append(
            "legacy RPC is deprecated in Odoo 19 and removed in 20: use an API key"
        )
    _check_modules(client, report)
    for model, operation, purpose in RIGHTS:
        if not _allowed(client, model, operation):
            report.problems.append(f"cannot {purpose}: no {operation} right on {model}")
    return report


def _check_modules(client: OdooClient, report: CheckReport) -> None:
    try:
        rows = client.search_read(
            "ir.module.module", [("name", "in", list(MODULES))], ["name", "state"]
        )
    except OdooRejected as err:
        report.problems.append(f"cannot list modules: {err.odoo_message}")
        return
    installed = {r["name"] for r in rows if r["state"] == "installed"}
    report.facts.append("modules installed: " + ", ".join(sorted(installed)))
    for name in MODULES:
        if name not in installed:
            report.problems.append(f"module {name} is not installed")


def _allowed(client: OdooClient, model: str, operation: str) -> bool:
    try:
        answer = client.call(
            model, "check_access_rights", operation=operation, raise_exception=False
        )
        if answer:
            client.call(model, "search", domain=[], limit=1)
    except OdooRejected:
        return False
    return bool(answer)


def check_companies(
    client: OdooClient, companies: Mapping[str, int | str], report: CheckReport
) -> None:
    """Say which Odoo company each legal entity of the company map books in."""
    rows = client.search_read("res.company", [], ["name"])
    by_id = {row["id"]: row["name"] for row in rows}
    by_name: dict[str, list[int]] = {}
    for row in rows:
        by_name.setdefault(row["name"].strip().casefold(), []).append(row["id"])
    report.facts.append(
        "companies: " + ", ".join(f"{i} {n}" for i, n in sorted(by_id.items()))
    )
    for code, wanted in companies.items():
        found = (
            [wanted]
            if isinstance(wanted, int) and wanted in by_id
            else by_name.get(str(wanted).casefold(), [])
        )
        if len(found) == 1:
            report.facts.append(f"legal entity {code} books in {by_id[found[0]]}")
        else:
            report.problems.append(
                f"TIELINE_ODOO_COMPANIES names company {wanted!r} for {code}; "
                f"the user sees {len(found)} of that id or name"
            )
