"""The Odoo double's ORM, domains and fault injection, without HTTP."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tieline.testing.odoo_double import Fault, OdooDouble, OdooError
from tieline.testing.odoo_double._methods import call, find
from tieline.testing.odoo_double._orm import Env


def _call(env: Env, model: str, name: str, **bound: object) -> object:
    find(env, model, name, json2=False)
    return call(env, model, name, dict(bound))


@pytest.fixture
def env() -> Env:
    return OdooDouble(version=17).env()


def _partners(env: Env) -> dict[str, int]:
    ids = env.create(
        "res.partner",
        [
            {"name": "Wood Corner", "is_company": True, "vat": "BE0477472701"},
            {"name": "Deco Addict", "is_company": True},
            {"name": "Archived Ltd", "is_company": True, "active": False},
        ],
    )
    (contact,) = env.create("res.partner", [{"name": "Ron", "parent_id": ids[0]}])
    return {"wood": ids[0], "deco": ids[1], "archived": ids[2], "ron": contact}


def test_domains_combine_prefix_operators_paths_and_patterns(env: Env) -> None:
    p = _partners(env)

    assert env.search("res.partner", [("name", "ilike", "wood")]) == [p["wood"]]
    assert env.search("res.partner", [("name", "=like", "wood%")]) == []
    assert set(
        env.search(
            "res.partner", ["|", ("name", "=", "Deco Addict"), ("id", "=", p["ron"])]
        )
    ) == {p["deco"], p["ron"]}
    assert env.search("res.partner", [("parent_id.vat", "=", "BE0477472701")]) == [
        p["ron"]
    ]
    assert set(env.search("res.partner", [("id", "child_of", p["wood"])])) == {
        p["wood"],
        p["ron"],
    }
    assert env.search("res.partner", [("name", "in", [])]) == []


def test_archived_records_need_active_test_or_an_active_leaf(env: Env) -> None:
    p = _partners(env)

    assert p["archived"] not in env.search("res.partner", [])
    assert p["archived"] in env.search("res.partner", [("active", "=", False)])
    env.context["active_test"] = False
    assert p["archived"] in env.search("res.partner", [])


def test_read_shapes_many2one_x2many_and_empty_values(env: Env) -> None:
    p = _partners(env)

    (row,) = env.read("res.partner", [p["ron"]], ["parent_id", "child_ids", "email"])
    assert row == {
        "id": p["ron"],
        "parent_id": [p["wood"], "Wood Corner"],
        "child_ids": [],
        "email": False,
    }
    (bare,) = env.read("res.partner", [p["ron"]], ["parent_id"], load=None)
    assert bare["parent_id"] == p["wood"]
    assert env.read("res.partner", [999999], ["name"]) == []


def test_x2many_commands_create_update_and_delete_lines(env: Env) -> None:
    p = _partners(env)
    env.write(
        "res.partner", [p["wood"]], {"bank_ids": [[0, 0, {"acc_number": "BE71"}]]}
    )
    (bank,) = env.db.raw("res.partner", p["wood"], "bank_ids")

    env.write(
        "res.partner", [p["wood"]], {"bank_ids": [[1, bank, {"acc_holder_name": "W"}]]}
    )
    assert (
        env.read("res.partner.bank", [bank], ["acc_holder_name"])[0]["acc_holder_name"]
        == "W"
    )
    env.write("res.partner", [p["wood"]], {"bank_ids": [[2, bank, 0]]})
    assert env.search("res.partner.bank", [("id", "=", bank)]) == []


def test_write_on_a_missing_id_is_missing_error_and_rolls_back(env: Env) -> None:
    p = _partners(env)

    with pytest.raises(OdooError) as caught:
        _call(env, "res.partner", "write", ids=[p["deco"], 999999], vals={"name": "x"})

    assert caught.value.name == "odoo.exceptions.MissingError"
    assert env.read("res.partner", [p["deco"]], ["name"])[0]["name"] == "Deco Addict"


def test_a_short_receipt_asks_for_a_backorder_then_leaves_one(env: Env) -> None:
    p = _partners(env)
    (product,) = env.create("product.product", [{"name": "Rebar"}])
    order = env.create(
        "purchase.order",
        [
            {
                "partner_id": p["wood"],
                "order_line": [[0, 0, {"product_id": product, "product_qty": 10}]],
            }
        ],
    )
    _call(env, "purchase.order", "button_confirm", ids=order)
    (picking,) = env.db.raw("purchase.order", order[0], "picking_ids")
    (move,) = env.db.raw("stock.picking", picking, "move_ids")
    env.write("stock.move", [move], {"quantity": 4, "picked": True})

    action = _call(env, "stock.picking", "button_validate", ids=[picking])
    assert isinstance(action, dict)
    assert action["res_model"] == "stock.backorder.confirmation"
    env.context.update(action["context"])
    (wizard,) = env.create(
        "stock.backorder.confirmation", [{"pick_ids": [[4, picking]]}]
    )
    assert _call(env, "stock.backorder.confirmation", "process", ids=[wizard]) is True

    backorders = env.search("stock.picking", [("backorder_id", "=", picking)])
    assert len(backorders) == 1
    assert (
        env.db.raw(
            "purchase.order.line",
            env.db.raw("purchase.order", order[0], "order_line")[0],
            "qty_received",
        )
        == 4.0
    )


def test_a_lost_answer_still_commits_the_create() -> None:
    with OdooDouble(version=17) as odoo:
        odoo.inject(Fault("lose", model="res.partner", method="create"))
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "call",
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [
                    odoo.database,
                    2,
                    "admin",
                    "res.partner",
                    "create",
                    [{"name": "Lost"}],
                ],
            },
        }
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{odoo.url}/jsonrpc", json=body)

        assert odoo.env().search("res.partner", [("name", "=", "Lost")]) != []


def test_the_clock_can_be_frozen_for_write_date(env: Env) -> None:
    double = OdooDouble(version=17)
    double.set_clock(datetime(2026, 12, 3, 15, 49, 36))  # noqa: DTZ001 - naive UTC, as Odoo
    (rec,) = double.env().create("res.partner", [{"name": "Frozen"}])

    assert double.db.raw("res.partner", rec, "write_date") == "2026-12-03 15:49:36"
