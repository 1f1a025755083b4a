"""Vendor bills carry the invoice's tax: Odoo's totals are the invoice's to the
cent, or the bill is not posted.

Each test makes its own purchase tax at an unusual rate (9.27%), so that it
finds no other on a real Odoo, and archives it at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.errors import ValidationFailed
from tieline.model import InvoiceLine, InvoiceStatus, Origin
from tieline.model.invoices import SupplierInvoice
from tieline.money import round_money
from tieline.store import Store

from .chain import Chain, build_chain, user_company
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

RATE = Decimal("9.27")
_TOTALS = ["state", "amount_untaxed", "amount_tax", "amount_total", "invoice_line_ids"]


@contextmanager
def purchase_tax(client: OdooClient, rate: Decimal, tag: str) -> Iterator[int]:
    """A percentage purchase tax of the user's company, archived afterwards."""
    company, _ = user_company(client)
    tax = client.create(
        "account.tax",
        {
            "name": f"VAT {rate}% {tag}",
            "amount": rate,
            "amount_type": "percent",
            "type_tax_use": "purchase",
            "company_id": company,
        },
    )
    try:
        yield tax
    finally:
        client.write("account.tax", [tax], {"active": False})


@contextmanager
def rounding(client: OdooClient, method: str) -> Iterator[None]:
    """The user's company rounds taxes by `method` for a while."""
    company, _ = user_company(client)
    field = "tax_calculation_rounding_method"
    (row,) = client.read("res.company", [company], [field])
    client.write("res.company", [company], {field: method})
    try:
        yield
    finally:
        client.write("res.company", [company], {field: row[field]})


def _invoice(
    chain: Chain,
    reference: str,
    nets: list[tuple[str | None, str]],
    tax: Decimal,
    rate: Decimal = RATE,
) -> SupplierInvoice:
    """An approved invoice of (order line key or None, net) lines at `rate`."""
    lines = [
        InvoiceLine(
            line_key=str(index),
            description=f"line {index}",
            net_amount=Decimal(net),
            tax_category="S",
            tax_percent=rate,
            commitment_line_key=key,
        )
        for index, (key, net) in enumerate(nets, start=1)
    ]
    net = sum((line.net_amount for line in lines), Decimal(0))
    return SupplierInvoice(
        origin=Origin(system="test", key=reference),
        supplier_reference=reference,
        supplier_id=chain.supplier.id,
        supplier_name=chain.supplier.legal_name,
        legal_entity_id=chain.entity.id,
        commitment_id=chain.commitment.id,
        issue_date=date(2026, 12, 3),
        currency=chain.commitment.currency,
        status=InvoiceStatus.APPROVED,
        lines=lines,
        net_total=net,
        tax_total=tax,
        gross_total=net + tax,
    )


def _per_line(nets: list[str], rate: Decimal, currency: str) -> Decimal:
    return sum(
        (round_money(Decimal(n) * rate / 100, currency) for n in nets), Decimal(0)
    )


def _per_rate(nets: list[str], rate: Decimal, currency: str) -> Decimal:
    return round_money(sum(Decimal(n) for n in nets) * rate / 100, currency)


def _bills(client: OdooClient, reference: str) -> list[dict[str, object]]:
    return client.search_read(
        "account.move",
        [("ref", "=", reference), ("move_type", "=", "in_invoice")],
        _TOTALS,
    )


def test_a_bill_with_tax_reads_back_the_invoices_net_tax_and_gross(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client, purchase_tax(client, RATE, odoo.tag):
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        with store.transaction() as tx:
            sync.push_commitment(tx, chain.commitment)
        # Given an invoice of both order lines (1185.00 and 210.00) at 9.27%
        nets = ["1185.00", "210.00"]
        tax = _per_line(nets, RATE, chain.commitment.currency)
        assert tax == Decimal("129.32")
        invoice = _invoice(
            chain, f"INV-{odoo.tag}", [("1", nets[0]), ("2", nets[1])], tax
        )

        # When it is pushed
        with store.transaction() as tx:
            tx.save(invoice, actor="test")
            bill = sync.push_invoice(tx, invoice)

        # Then the posted bill's untaxed, tax and total are the invoice's
        (row,) = client.read("account.move", [bill], _TOTALS)
        assert (
            row["state"],
            row["amount_untaxed"],
            row["amount_tax"],
            row["amount_total"],
        ) == ("posted", Decimal("1395.00"), Decimal("129.32"), Decimal("1524.32"))
        # And each line bears a 9.27% purchase tax
        lines = client.read("account.move.line", row["invoice_line_ids"], ["tax_ids"])
        taxes = client.read(
            "account.tax",
            sorted({t for line in lines for t in line["tax_ids"]}),
            ["amount", "type_tax_use"],
            context={"active_test": False},
        )
        assert [len(line["tax_ids"]) for line in lines] == [1, 1]
        assert [(t["amount"], t["type_tax_use"]) for t in taxes] == [(RATE, "purchase")]


# Three lines of 10.10 at 9.27%: 0.94 of tax each rounded per line (2.82),
# 2.81 rounded once over the three (per rate, as a UBL invoice's breakdown).
SMALL = ["10.10", "10.10", "10.10"]


@pytest.mark.xdist_group("company-tax-rounding")
def test_a_bill_odoo_rounds_to_another_tax_stays_in_draft_naming_both_totals(
    odoo: OdooTarget, store: Store
) -> None:
    with (
        odoo.client() as client,
        purchase_tax(client, RATE, odoo.tag),
        rounding(client, "round_per_line"),
    ):
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        currency = chain.commitment.currency
        # Given an invoice whose tax the supplier rounded per rate, and a
        # company that rounds it per line
        tax = _per_rate(SMALL, RATE, currency)
        assert (tax, _per_line(SMALL, RATE, currency)) == (
            Decimal("2.81"),
            Decimal("2.82"),
        )
        reference = f"INV-{odoo.tag}"
        invoice = _invoice(chain, reference, [(None, n) for n in SMALL], tax)

        with store.transaction() as tx:
            tx.save(invoice, actor="test")

        # When it is pushed
        with pytest.raises(ValidationFailed) as refused, store.transaction() as tx:
            sync.push_invoice(tx, invoice)

        # Then the error gives both totals, and the bill waits in draft
        message = str(refused.value)
        assert f"net 30.30 + tax 2.82 = 33.12 {currency}" in message
        assert "the invoice says net 30.30 + tax 2.81 = gross 33.11" in message
        assert "the bill stays in draft in Odoo" in message
        assert [b["state"] for b in _bills(client, reference)] == ["draft"]


@pytest.mark.xdist_group("company-tax-rounding")
def test_a_company_rounding_globally_posts_a_bill_rounded_per_rate(
    odoo: OdooTarget, store: Store
) -> None:
    with (
        odoo.client() as client,
        purchase_tax(client, RATE, odoo.tag),
        rounding(client, "round_globally"),
    ):
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        # Given an invoice whose tax is rounded per rate, and a company that
        # rounds taxes globally
        tax = _per_rate(SMALL, RATE, chain.commitment.currency)
        reference = f"INV-{odoo.tag}"
        invoice = _invoice(chain, reference, [(None, n) for n in SMALL], tax)

        # When it is pushed
        with store.transaction() as tx:
            tx.save(invoice, actor="test")
            sync.push_invoice(tx, invoice)

        # Then Odoo posts it at the invoice's tax
        (row,) = _bills(client, reference)
        assert (row["state"], row["amount_tax"], row["amount_total"]) == (
            "posted",
            Decimal("2.81"),
            Decimal("33.11"),
        )


def test_a_rate_odoo_has_no_purchase_tax_for_is_refused_before_any_write(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        # Given an invoice at a rate no purchase tax of the company has
        rate = Decimal("47.11")
        tax = _per_line(SMALL, rate, chain.commitment.currency)
        reference = f"INV-{odoo.tag}"
        invoice = _invoice(chain, reference, [(None, n) for n in SMALL], tax, rate)

        with store.transaction() as tx:
            tx.save(invoice, actor="test")

        # When it is pushed
        with pytest.raises(ValidationFailed) as refused, store.transaction() as tx:
            sync.push_invoice(tx, invoice)

        # Then the error names the invoice and the rate, and nothing was
        # written to Odoo: no partner, no bill
        assert refused.value.record == f"invoice {reference}"
        assert "has no purchase tax of 47.11%" in refused.value.reason
        assert (
            client.search("res.partner", [("name", "=", chain.supplier.legal_name)])
            == []
        )
        assert _bills(client, reference) == []


def test_a_taxed_invoice_with_a_line_without_rate_is_refused(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        taxed = _invoice(chain, f"INV-{odoo.tag}", [(None, "100.00")], Decimal("20.00"))
        line = taxed.lines[0].model_copy(update={"tax_percent": None})
        invoice = taxed.model_copy(update={"lines": [line]})

        with pytest.raises(ValidationFailed) as refused, store.transaction() as tx:
            sync.push_invoice(tx, invoice)

        assert (refused.value.record, refused.value.field) == (
            f"invoice INV-{odoo.tag}",
            "lines[0].tax_percent",
        )
