"""`tieline odoo check` says what tieline can and cannot do on a database."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from tieline.cli import app
from tieline.model import InvoiceLine, LegalEntity, Origin
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

from .chain import user_company
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def _run(odoo: OdooTarget, secret: str, **env: str) -> tuple[int, str]:
    # A data folder of its own: the default (./var) is wherever the tests
    # run, and may hold the main job's database with its legal entities.
    with tempfile.TemporaryDirectory() as data_dir:
        result = CliRunner().invoke(
            app,
            [
                "odoo",
                "check",
                "--url",
                odoo.url,
                "--database",
                odoo.database,
                "--login",
                odoo.login,
            ],
            env={
                "TIELINE_DATA_DIR": data_dir,
                "TIELINE_ODOO_PASSWORD": secret,
                **env,
            },
        )
    return result.exit_code, result.output + str(result.exception or "")


def test_check_reports_version_protocol_and_modules(odoo: OdooTarget) -> None:
    code, output = _run(odoo, odoo.secret)

    assert "protocol" in output
    assert "modules installed:" in output
    if odoo.double is not None:
        assert code == 0, output
        assert f"Odoo {odoo.double.version}" in output


def test_check_names_a_missing_right(odoo: OdooTarget) -> None:
    if odoo.double is None:
        pytest.skip("removing a group from the user is done on the double only")
    env = odoo.double.env()
    field = "group_ids" if odoo.double.version >= 19 else "groups_id"
    env.db.users[2].groups.discard("analytic")
    env.db.tables["res.users"][2][field] = []

    code, output = _run(odoo, odoo.secret)

    assert code == 1
    assert "missing: cannot read analytic plans" in output


def test_check_refuses_a_wrong_secret_in_one_line(odoo: OdooTarget) -> None:
    code, output = _run(odoo, "wrong-secret")

    assert code == 1
    assert "cannot connect to Odoo" in output


def test_check_says_which_company_each_legal_entity_books_in(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        company, _ = user_company(client)
        (row,) = client.read("res.company", [company], ["name"])
    missing = f"No Such Builder {odoo.tag}"

    code, output = _run(
        odoo,
        odoo.secret,
        TIELINE_ODOO_COMPANIES=f"ACME-US={company},ACME-UK={missing}",
    )

    assert code == 1
    assert f"legal entity ACME-US books in {row['name']}" in output
    assert (
        f"missing: TIELINE_ODOO_COMPANIES names company {missing!r} for ACME-UK; "
        "the user sees 0 of that id or name"
    ) in output


def test_check_names_legal_entities_without_company_or_in_another_currency(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        company, currency = user_company(client)
        (row,) = client.read("res.company", [company], ["name"])
    other = "EUR" if currency != "EUR" else "USD"
    # Given, in tieline's database, a legal entity no Odoo company stands for,
    # and one mapped to the user's company but keeping its books in another
    # currency
    unmapped = LegalEntity(
        origin=Origin(system="test", key=f"N-{odoo.tag}"),
        code=f"N{odoo.tag}",
        name=f"Nowhere Builders {odoo.tag}",
        base_currency=currency,
    )
    foreign = LegalEntity(
        origin=Origin(system="test", key=f"F-{odoo.tag}"),
        code=f"F{odoo.tag}",
        name=f"Foreign Builders {odoo.tag}",
        base_currency=other,
    )
    with store.transaction() as tx:
        tx.save(unmapped, actor="test")
        tx.save(foreign, actor="test")

    # When the check runs on that database
    code, output = _run(
        odoo,
        odoo.secret,
        TIELINE_DATABASE_URL=store.url,
        TIELINE_ODOO_COMPANIES=f"{foreign.code}={company}",
    )

    # Then each is named, with what to set
    assert code == 1
    assert (
        f"missing: legal entity {unmapped.code} ({unmapped.name}) has no Odoo "
        "company: TIELINE_ODOO_COMPANIES does not name one and no company is called "
        f"{unmapped.name!r}; add {unmapped.code}=<company id or name> to "
        "TIELINE_ODOO_COMPANIES"
    ) in output
    assert (
        f"missing: legal entity {foreign.code} keeps its books in {other}, its "
        f"Odoo company {row['name']} in {currency}: set {foreign.code}=<a company "
        f"in {other}> in TIELINE_ODOO_COMPANIES, or correct the legal entity's "
        "base currency"
    ) in output


def test_check_names_a_company_that_cannot_take_bills(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        home, _ = user_company(client)
        (row,) = client.read("res.company", [home], ["name", "currency_id"])
        # Given a legal entity mapped to a company made without a chart of
        # accounts (no journal, no tax), and one mapped to the user's company
        bare = f"Builder East {odoo.tag}"
        client.create(
            "res.company", {"name": bare, "currency_id": row["currency_id"][0]}
        )

    # When the check runs
    code, output = _run(
        odoo, odoo.secret, TIELINE_ODOO_COMPANIES=f"EAST={bare},HOME={home}"
    )

    # Then it fails, and says what the bare company lacks and what to set
    assert code == 1
    assert (
        f"legal entity EAST in {bare}: purchase journal none, bank journal none, "
        "purchase taxes none"
    ) in output
    assert (
        f"missing: legal entity EAST: Odoo company {bare} has no purchase journal, "
        "so Odoo refuses its vendor bills (No journal could be found in company "
        f"{bare} for any of those types: purchase); install a chart of accounts "
        f"for {bare}"
    ) in output
    assert (
        f"missing: legal entity EAST: Odoo company {bare} has no bank or cash "
        "journal, so its bills cannot be paid in Odoo"
    ) in output
    # And the user's company, which has its books, is not called missing
    assert f"legal entity HOME in {row['name']}: purchase journal " in output
    assert "missing: legal entity HOME" not in output
    if odoo.double is not None:
        assert (
            f"legal entity HOME in {row['name']}: purchase journal Vendor Bills, "
            "bank journal Bank, purchase taxes 15%"
        ) in output


def test_check_names_a_tax_rate_of_tielines_invoices_the_company_lacks(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        company, currency = user_company(client)
    # Given, in tieline's database, an invoice of the legal entity at 9.27%
    entity = LegalEntity(
        origin=Origin(system="test", key=f"T-{odoo.tag}"),
        code=f"T{odoo.tag}",
        name=f"Taxed Builders {odoo.tag}",
        base_currency=currency,
    )
    invoice = SupplierInvoice(
        origin=Origin(system="test", key=f"INV-{odoo.tag}"),
        supplier_reference=f"INV-{odoo.tag}",
        supplier_name="Northwind",
        legal_entity_id=entity.id,
        issue_date=date(2026, 12, 3),
        currency=currency,
        lines=[
            InvoiceLine(
                line_key="1",
                net_amount=Decimal("100.00"),
                tax_percent=Decimal("9.27"),
            )
        ],
        net_total=Decimal("100.00"),
        tax_total=Decimal("9.27"),
        gross_total=Decimal("109.27"),
    )
    with store.transaction() as tx:
        tx.save(entity, actor="test")
        tx.save(invoice, actor="test")

    # When the check runs on that database
    code, output = _run(
        odoo,
        odoo.secret,
        TIELINE_DATABASE_URL=store.url,
        TIELINE_ODOO_COMPANIES=f"{entity.code}={company}",
    )

    # Then the missing rate is named, with where to create it
    assert code == 1
    assert (
        f"missing: legal entity {entity.code}: its invoices carry 9.27% tax and "
        "Odoo company"
    ) in output
    assert "create one in Odoo (Accounting, Configuration, Taxes)" in output
