"""The double loads Odoo's construction industry data files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tieline.testing.odoo_double import OdooDouble

pytestmark = pytest.mark.shared_data


def test_the_construction_demo_loads_partners_products_and_orders(
    shared_data: Path,
) -> None:
    # Given a double and the construction industry module's data, in load order
    double = OdooDouble(version=19)
    folder = shared_data / "odoo-industry-construction"
    reports = [
        double.load(
            folder / "base_industry_data_demo" / "res_partner.xml",
            module="base_industry_data",
        ),
        double.load(folder / "data" / "product_template.xml", module="construction"),
        double.load(folder / "data" / "product_product.xml", module="construction"),
        double.load(folder / "demo" / "purchase_order.xml", module="construction"),
        double.load(folder / "demo" / "purchase_order_line.xml", module="construction"),
        double.load(
            folder / "demo" / "purchase_order_confirm.xml", module="construction"
        ),
    ]

    # Then the records are there and the orders were confirmed with receipts
    env = double.env()
    vendor = env.search("res.partner", [("name", "=", "Fourth Company")])
    assert len(vendor) == 1
    orders = env.search("purchase.order", [("partner_id", "=", vendor[0])])
    assert len(orders) == 3
    states = {env.db.raw("purchase.order", o, "state") for o in orders}
    assert states == {"purchase"}
    assert all(env.db.raw("purchase.order", o, "picking_ids") for o in orders)
    assert reports[1].created["product.product"] == 51
    assert len(env.search("product.product", [])) == 51 + 5

    # And what needs a live Odoo is reported, not guessed
    skipped = [line for report in reports for line in report.skipped]
    assert any("arguments need a live Odoo" in line for line in skipped)
