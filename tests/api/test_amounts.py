"""Amounts written through the API agree with each other, to the cent.

A line's amount is its quantity times its unit price, rounded half-up to the
currency (`tieline.money`); an invoice's net total is its lines' sum, and its
tax total what its lines' rates give; a negative quantity is a credit note's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tieline.governance import Role
from tieline.model import Commitment


@pytest.fixture
def operator(hub: Any) -> dict[str, str]:
    """An integration operator on every entity."""
    return hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))


def _refused(answer: Any, field: str, message: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": field, "message": message}]


def _commitment(sample: Any, estate: Any, **line: str) -> dict[str, Any]:
    body = sample("commitment", "c9", estate.ids)
    body["lines"] = [dict(body["lines"][0], **line)]
    return body


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"quantity": "400", "unit_price": "120.00", "amount": "47999.00"},
            "400 x 120.00 = 48000.00, not 47999.00",
        ),
        (
            {"quantity": "400", "unit_price": "-5.00", "amount": "48000.00"},
            "400 x -5.00 = -2000.00, not 48000.00",
        ),
        # Rounded half-up once: 3 x 0.335 = 1.005 -> 1.01.
        (
            {"quantity": "3", "unit_price": "0.335", "amount": "1.00"},
            "3 x 0.335 = 1.01, not 1.00",
        ),
    ],
)
def test_a_commitment_line_is_its_quantity_times_its_price(
    hub: Any,
    estate: Any,
    sample: Any,
    operator: dict[str, str],
    line: dict[str, str],
    message: str,
) -> None:
    answer = hub.client.post(
        "/v1/commitments", json=_commitment(sample, estate, **line), headers=operator
    )

    _refused(answer, "lines[0].amount", message)


def test_a_line_that_agrees_is_taken(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = _commitment(sample, estate, quantity="3", unit_price="0.335", amount="1.01")

    answer = hub.client.post("/v1/commitments", json=body, headers=operator)

    assert answer.status_code == 201, answer.text


def test_an_imported_line_kept_as_written_does_not_block_an_update(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    # Given an import kept a line whose amount is not quantity x price
    body = _commitment(
        sample, estate, quantity="400", unit_price="120.00", amount="47999.00"
    )
    with hub.store.transaction() as tx:
        record = tx.save(Commitment.model_validate(body), actor="import").record
    current = hub.client.get(f"/v1/commitments/{record.id}", headers=operator)
    changed = {
        k: v
        for k, v in current.json().items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }
    changed["description"] = "checked"

    # When another field is updated, the line as agreed stays
    answer = hub.client.put(
        f"/v1/commitments/{record.id}",
        json=changed,
        headers={**operator, "If-Match": current.headers["etag"]},
    )

    assert answer.status_code == 200, answer.text


def _invoice(sample: Any, estate: Any, **changes: Any) -> dict[str, Any]:
    body = sample("supplier_invoice", "inv9", estate.ids)
    body["lines"] = [
        {
            "line_key": "1",
            "quantity": "2",
            "unit_price": "30.00",
            "net_amount": "60.00",
            "tax_percent": "20",
        },
        {"line_key": "2", "net_amount": "40.00", "tax_percent": "20"},
    ]
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"net_total": "90.00", "tax_total": "30.00"},
            "net_total",
            "the lines add up to 100.00, not 90.00",
        ),
        (
            {"tax_total": "25.00", "gross_total": "125.00"},
            "tax_total",
            "20% of 100.00 is 20.00, not 25.00",
        ),
    ],
)
def test_an_invoices_totals_are_its_lines(
    hub: Any,
    estate: Any,
    sample: Any,
    operator: dict[str, str],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    answer = hub.client.post(
        "/v1/invoices", json=_invoice(sample, estate, **changes), headers=operator
    )

    _refused(answer, field, message)


def test_tax_rounded_per_line_is_taken_as_well_as_per_rate(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    # 0.13 and 0.13 at 20%: per line 0.03 + 0.03 = 0.06 (Odoo's default),
    # per rate 20% of 0.26 = 0.052 -> 0.05 (EN 16931's VAT breakdown).
    lines = [
        {"line_key": "1", "net_amount": "0.13", "tax_percent": "20"},
        {"line_key": "2", "net_amount": "0.13", "tax_percent": "20"},
    ]
    totals = {"net_total": "0.26", "gross_total": "0.32", "tax_total": "0.06"}
    per_rate = dict(totals, tax_total="0.05", gross_total="0.31")

    by_line = hub.client.post(
        "/v1/invoices",
        json=_invoice(sample, estate, lines=lines, **totals),
        headers=operator,
    )
    by_rate = hub.client.post(
        "/v1/invoices",
        json=dict(
            _invoice(sample, estate, lines=lines, **per_rate),
            origin={"system": "tests", "key": "inv8"},
            supplier_reference="inv8",
        ),
        headers=operator,
    )

    assert by_line.status_code == 201, by_line.text
    assert by_rate.status_code == 201, by_rate.text


def test_a_partner_cannot_invoice_a_negative_quantity(
    hub: Any, estate: Any, sample: Any
) -> None:
    partner = hub.caller("p1", (Role.PARTNER, "*", estate["s1"]))
    body = sample("supplier_invoice", "inv9", estate.ids, system="partner:p1")
    body["lines"] = [
        {
            "line_key": "1",
            "quantity": "-1",
            "unit_price": "-100.00",
            "net_amount": "100.00",
        }
    ]

    answer = hub.client.post("/v1/invoices", json=body, headers=partner)

    _refused(
        answer,
        "lines[0].quantity",
        "a negative quantity is a credit: send it as a credit note",
    )


def test_a_credit_note_may_credit_a_negative_quantity(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = sample("supplier_invoice", "cn9", estate.ids)
    body["invoice_type"] = "credit_note"
    body["lines"] = [
        {
            "line_key": "1",
            "quantity": "-1",
            "unit_price": "-100.00",
            "net_amount": "100.00",
        }
    ]

    answer = hub.client.post("/v1/invoices", json=body, headers=operator)

    assert answer.status_code == 201, answer.text


def _priced_order(hub: Any, estate: Any, sample: Any) -> Commitment:
    """An order (saved as an import would) of 40 at 25.50 and 3 at 0.335."""
    body = sample("commitment", "PO-REQ1", estate.ids)
    body["commitment_type"] = "purchase_order"
    body["lines"] = [
        dict(body["lines"][0], quantity="40", unit_price="25.50", amount="1020.00"),
        dict(
            body["lines"][0],
            line_key="2",
            quantity="3",
            unit_price="0.335",
            amount="1.01",
        ),
    ]
    with hub.store.transaction() as tx:
        return tx.save(Commitment.model_validate(body), actor="import").record


def _receipt(sample: Any, estate: Any, order: Commitment, *lines: Any) -> Any:
    body = sample("goods_receipt", "GRN-REQ1-Z", estate.ids)
    body["commitment_id"] = order.id
    body["lines"] = [
        {"commitment_line_key": key, "quantity": qty, "amount": amount}
        for key, qty, amount in lines
    ]
    return body


@pytest.mark.parametrize(
    ("lines", "field", "message"),
    [
        (
            [("1", "40", "1000.00")],
            "lines[0].amount",
            "line 1 of order PO-REQ1: 40 x 25.50 = 1020.00, not 1000.00",
        ),
        # Rounded half-up once, as an order line: 3 x 0.335 = 1.005 -> 1.01.
        (
            [("1", "40", "1020.00"), ("2", "3", "1.00")],
            "lines[1].amount",
            "line 2 of order PO-REQ1: 3 x 0.335 = 1.01, not 1.00",
        ),
    ],
)
def test_a_receipt_line_is_its_quantity_at_the_order_price(
    hub: Any,
    estate: Any,
    sample: Any,
    operator: dict[str, str],
    lines: list[tuple[str, str, str]],
    field: str,
    message: str,
) -> None:
    order = _priced_order(hub, estate, sample)
    body = _receipt(sample, estate, order, *lines)

    answer = hub.client.post("/v1/receipts", json=body, headers=operator)

    _refused(answer, field, message)
    assert answer.json()["detail"].startswith("record receipt GRN-REQ1-Z")


def test_a_receipt_that_agrees_is_taken_and_an_edit_is_checked(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    order = _priced_order(hub, estate, sample)
    body = _receipt(sample, estate, order, ("1", "40", "1020.00"), ("2", "3", "1.01"))

    taken = hub.client.post("/v1/receipts", json=body, headers=operator)
    assert taken.status_code == 201, taken.text

    # An update that changes a line's quantity without its amount is refused
    body["lines"][0]["quantity"] = "41"
    changed = hub.client.put(
        f"/v1/receipts/{taken.json()['id']}",
        json=body,
        headers={**operator, "If-Match": taken.headers["etag"]},
    )
    _refused(
        changed,
        "lines[0].amount",
        "line 1 of order PO-REQ1: 41 x 25.50 = 1045.50, not 1020.00",
    )
    # And so is one in another currency than its order's
    body["lines"][0]["quantity"] = "40"
    body["currency"] = "USD"
    other = hub.client.put(
        f"/v1/receipts/{taken.json()['id']}",
        json=body,
        headers={**operator, "If-Match": taken.headers["etag"]},
    )
    _refused(other, "currency", "order PO-REQ1 is in EUR, not USD")
