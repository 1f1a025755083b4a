"""The Odoo client against the double (17 and 19) or a real Odoo."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tieline.connectors.odoo import (
    OdooAuthFailed,
    OdooCallError,
    OdooClient,
    OdooRecordMissing,
    OdooResponseLost,
    OdooUnavailable,
)
from tieline.testing.odoo_double import Fault, OdooDouble

from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def test_the_version_is_detected_and_chooses_the_protocol(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        expected = "json2" if client.version.major >= 19 else "jsonrpc"

        assert client.protocol == expected
        assert client.uid > 0
        assert client.call("res.users", "context_get")["uid"] == client.uid


def test_a_wrong_password_is_an_auth_failure(odoo: OdooTarget) -> None:
    with pytest.raises(OdooAuthFailed):
        OdooClient.connect(odoo.url, odoo.database, odoo.login, "not-the-secret")


def test_a_created_record_reads_back_with_odoo_shapes(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        partner = client.create(
            "res.partner", {"name": f"Shapes {odoo.tag}", "is_company": True}
        )
        (row,) = client.read(
            "res.partner", [partner], ["name", "email", "parent_id", "child_ids"]
        )

        assert row == {
            "id": partner,
            "name": f"Shapes {odoo.tag}",
            "email": False,
            "parent_id": False,
            "child_ids": [],
        }


def test_amounts_come_back_as_decimals(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        product = client.create(
            "product.product",
            {"name": f"Grout {odoo.tag}", "list_price": Decimal("12.35")},
        )
        (row,) = client.read("product.product", [product], ["list_price"])

        assert row["list_price"] == Decimal("12.35")


def test_writing_a_deleted_record_is_record_missing_with_odoos_message(
    odoo: OdooTarget,
) -> None:
    with odoo.client() as client:
        partner = client.create("res.partner", {"name": f"Gone {odoo.tag}"})
        client.call("res.partner", "unlink", [partner])

        with pytest.raises(OdooRecordMissing) as caught:
            client.write("res.partner", [partner], {"name": "ghost"})

        assert caught.value.odoo_message.startswith(
            "Record does not exist or has been deleted."
        )
        assert caught.value.odoo_model == "res.partner"


def test_an_unknown_field_is_a_call_error(odoo: OdooTarget) -> None:
    with odoo.client() as client, pytest.raises(OdooCallError) as caught:
        client.search("res.partner", [("no_such_field", "=", 1)])

    assert "no_such_field" in caught.value.odoo_message


def test_a_method_returning_none_is_none_over_every_protocol(odoo: OdooTarget) -> None:
    protocols = (
        ["xmlrpc", "jsonrpc"]
        if odoo.double is None or odoo.double.version < 19
        else ["json2", "jsonrpc"]
    )
    for protocol in protocols:
        with odoo.client(protocol=protocol) as client:
            partner = client.create(
                "res.partner", {"name": f"Archive {odoo.tag} {protocol}"}
            )

            assert client.call("res.partner", "action_archive", [partner]) is None
            (row,) = client.read("res.partner", [partner], ["active"])
            assert row["active"] is False


def test_a_503_is_retried_until_it_passes(double: OdooDouble, odoo: OdooTarget) -> None:
    double.inject(
        Fault("fail", model="res.partner", method="search_count", times=2, status=503)
    )
    with odoo.client() as client:
        assert client.call("res.partner", "search_count", domain=[]) >= 1


def test_a_503_that_persists_is_unavailable(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    double.inject(
        Fault("fail", model="res.partner", method="search_count", times=10, status=503)
    )
    with odoo.client() as client, pytest.raises(OdooUnavailable):
        client.call("res.partner", "search_count", domain=[])


def test_once_odoo_is_known_down_a_call_tries_once_until_one_gets_through(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    fault = Fault("fail", model="res.partner", method="search_count", times=10)
    double.inject(fault)
    with odoo.client() as client:
        # Given a call that used up its four attempts on a 503
        with pytest.raises(OdooUnavailable):
            client.call("res.partner", "search_count", domain=[])
        assert (fault.times, client.unreachable_since is not None) == (6, True)

        # When the next call comes, it tries once
        with pytest.raises(OdooUnavailable):
            client.call("res.partner", "search_count", domain=[])
        assert fault.times == 5
        assert str(client.last_error).startswith("OdooUnavailable: ")

        # And once Odoo answers again, the client is back to normal
        double.faults.clear()
        assert client.call("res.partner", "search_count", domain=[]) >= 1
        assert (client.unreachable_since, client.last_error) == (None, None)


def test_a_lost_answer_to_a_write_is_not_retried_blindly(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    double.inject(Fault("lose", model="res.partner", method="create"))
    with odoo.client() as client:
        with pytest.raises(OdooResponseLost):
            client.create("res.partner", {"name": f"Lost {odoo.tag}"})

        assert (
            len(client.search("res.partner", [("name", "=", f"Lost {odoo.tag}")])) == 1
        )


def test_a_stalled_read_times_out_then_is_retried(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    double.inject(Fault("stall", model="res.partner", method="search", seconds=1.0))
    from tieline.connectors.odoo import Limits

    with odoo.client(limits=Limits(timeout=0.3)) as client:
        assert isinstance(client.search("res.partner", []), list)
