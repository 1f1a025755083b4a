"""`tieline odoo check`: what tieline can and cannot do on an Odoo database.

Reports the version and protocol chosen, the modules tieline relies on, the
rights of the connecting user on each model the connector writes, and the
Odoo company each legal entity books in: the one it is bound to, else the
one TIELINE_ODOO_COMPANIES names, else the one of its exact name, as a push
chooses it (`OdooSync.company_id`). A legal entity with none, or whose
company keeps its books in another currency, is a problem: its documents
could not be pushed, or would be booked in the wrong currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._client import OdooClient
from tieline.connectors.odoo._errors import OdooRejected
from tieline.connectors.odoo.mappers._base import many2one_id
from tieline.model import LegalEntity
from tieline.store import Store

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


@dataclass(frozen=True, slots=True)
class StoredEntity:
    """A legal entity in tieline's store, and the Odoo company it is bound to."""

    entity: LegalEntity
    bound_company: int | None


def stored_entities(store: Store, instance: str) -> list[StoredEntity]:
    """Every legal entity in the store, with its binding on `instance`."""
    with store.transaction() as tx:
        binder = Binder(tx.connection, instance)
        return [
            StoredEntity(entity, binder.odoo_id("res.company", entity.id))
            for entity in tx.list(LegalEntity)
        ]


def check_legal_entities(
    client: OdooClient,
    entities: Sequence[StoredEntity],
    companies: Mapping[str, int | str],
    report: CheckReport,
) -> None:
    """Say which Odoo company each stored legal entity books in, and name the
    ones with no company, or with a company in another currency."""
    if not entities:
        report.facts.append("legal entities: none in tieline's database yet")
        return
    rows = {row["id"]: row for row in _companies(client)}
    for stored in entities:
        entity = stored.entity
        company = _company_of(stored, companies, rows)
        if company is None and stored.bound_company is not None:
            report.problems.append(
                f"legal entity {entity.code} is bound to Odoo company id "
                f"{stored.bound_company}, which the user does not see (or which "
                "is gone): give the user that company"
            )
            continue
        if company is None and entity.code in companies:
            continue  # check_companies said what is wrong with its entry
        if company is None:
            report.problems.append(
                f"legal entity {entity.code} ({entity.name}) has no Odoo company: "
                f"TIELINE_ODOO_COMPANIES does not name one and no company is "
                f"called {entity.name!r}; add {entity.code}=<company id or name> "
                "to TIELINE_ODOO_COMPANIES"
            )
            continue
        row = rows[company]
        if entity.code not in companies:
            report.facts.append(f"legal entity {entity.code} books in {row['name']}")
        if row["currency"] != entity.base_currency:
            report.problems.append(
                f"legal entity {entity.code} keeps its books in "
                f"{entity.base_currency}, its Odoo company {row['name']} in "
                f"{row['currency']}: set {entity.code}=<a company in "
                f"{entity.base_currency}> in TIELINE_ODOO_COMPANIES, or correct "
                "the legal entity's base currency"
            )


def _companies(client: OdooClient) -> list[dict[str, Any]]:
    """The companies the user sees, each with its currency's ISO code."""
    rows = client.search_read("res.company", [], ["name", "currency_id"])
    ids = sorted({i for r in rows if (i := many2one_id(r["currency_id"]))})
    codes = {
        c["id"]: c["name"]
        for c in client.read(
            "res.currency", ids, ["name"], context={"active_test": False}
        )
    }
    return [
        {**r, "currency": codes.get(many2one_id(r["currency_id"]) or 0)} for r in rows
    ]


def _company_of(
    stored: StoredEntity,
    companies: Mapping[str, int | str],
    rows: Mapping[int, dict[str, Any]],
) -> int | None:
    """The company a push would book the entity in, as `OdooSync` picks it."""
    if stored.bound_company is not None:
        return stored.bound_company if stored.bound_company in rows else None
    wanted = companies.get(stored.entity.code, stored.entity.name)
    if isinstance(wanted, int):
        return wanted if wanted in rows else None
    named = [
        i for i, r in rows.items() if r["name"].strip().casefold() == wanted.casefold()
    ]
    return named[0] if len(named) == 1 else None
