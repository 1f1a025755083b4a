"""The Odoo under test: the double (as 17 and as 19), or a real server.

With TIELINE_TEST_ODOO_URL, _DB, _USER and _PASSWORD set, every `odoo` test
runs once against that server instead of the double; tests then create what
they need (names carry a run tag) and never rely on ids or timing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tieline.connectors.odoo import Limits, OdooClient, RetryPolicy
from tieline.testing.odoo_double import ADMIN_LOGIN, ADMIN_PASSWORD, OdooDouble

REAL_URL = os.environ.get("TIELINE_TEST_ODOO_URL")


@dataclass
class OdooTarget:
    """Where the Odoo under test is, and how to log in."""

    url: str
    database: str
    login: str
    secret: str
    double: OdooDouble | None
    tag: str

    def client(self, **kwargs: object) -> OdooClient:
        """A client logged in to the target (quick retries for tests)."""
        kwargs.setdefault(
            "retry", RetryPolicy(initial_interval=0.01, max_interval=0.05)
        )
        if self.double is not None:
            kwargs.setdefault("limits", Limits(calls_per_second=1000, timeout=10))
        return OdooClient.connect(
            self.url, self.database, self.login, self.secret, **kwargs
        )  # type: ignore[arg-type]


def _versions() -> list[object]:
    if REAL_URL:
        return [pytest.param("real", id="real-odoo")]
    return [pytest.param(17, id="odoo17-double"), pytest.param(19, id="odoo19-double")]


@pytest.fixture(params=_versions())
def odoo(request: pytest.FixtureRequest) -> Iterator[OdooTarget]:
    """The Odoo to test against, fresh for each test when it is the double."""
    tag = uuid.uuid4().hex[:8]
    if request.param == "real":
        yield OdooTarget(
            REAL_URL or "",
            os.environ["TIELINE_TEST_ODOO_DB"],
            os.environ["TIELINE_TEST_ODOO_USER"],
            os.environ["TIELINE_TEST_ODOO_PASSWORD"],
            None,
            tag,
        )
        return
    with OdooDouble(version=int(request.param)) as double:
        secret = double.new_api_key() if double.version >= 19 else ADMIN_PASSWORD
        yield OdooTarget(double.url, double.database, ADMIN_LOGIN, secret, double, tag)


@pytest.fixture
def double(odoo: OdooTarget) -> OdooDouble:
    """The double behind `odoo`; tests of injected faults need it."""
    if odoo.double is None:
        pytest.skip("fault injection needs the Odoo double, not a real server")
    return odoo.double
