"""A faithful Odoo 17 or 19 for tests and demos, over real HTTP on 127.0.0.1.

`OdooDouble(version=17)` starts a server on a free port that speaks
JSON-RPC (`/jsonrpc`), XML-RPC (`/xmlrpc/2/...`) and, playing 19, JSON-2
(`/json/2/<model>/<method>` with a bearer API key), over an in-memory ORM of
the models tieline uses. It answers as the recorded exchanges with real Odoo
17 and 19 servers show (shapes, error bodies, status codes); the contract
test replays those recordings against it.

Use it as a context manager::

    with OdooDouble(version=19) as odoo:
        key = odoo.new_api_key()
        ...  # talk to odoo.url, database odoo.database

Faults for tests: `odoo.inject(Fault("fail", status=503))`,
`Fault("stall", seconds=2)`, or `Fault("lose", model="res.partner",
method="create")` (the call commits, the answer is lost).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from types import TracebackType

from tieline.testing.odoo_double import _business, _workflow
from tieline.testing.odoo_double._errors import OdooError
from tieline.testing.odoo_double._loader import LoadReport, load_xml
from tieline.testing.odoo_double._orm import Database, Env
from tieline.testing.odoo_double._protocols import Dispatcher
from tieline.testing.odoo_double._seed import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    ADMIN_UID,
    seed,
)
from tieline.testing.odoo_double._server import Fault, FaultPlan, start_server

__all__ = [
    "ADMIN_LOGIN",
    "ADMIN_PASSWORD",
    "Fault",
    "LoadReport",
    "OdooDouble",
    "OdooError",
]

_ = _workflow  # registers the workflow buttons


class OdooDouble:
    """An Odoo server double on 127.0.0.1 (port 0), playing Odoo 17 or 19."""

    def __init__(self, *, version: int = 17, database: str = "odoo") -> None:
        if version not in (17, 19):
            raise ValueError("the double plays Odoo 17 or 19")
        self.version = version
        self.database = database
        self.db = Database(version, name=database)
        _business.install(self.db)
        seed(self.db)
        self.faults = FaultPlan()
        self._dispatcher = Dispatcher(self.db, self.faults.hook)
        self._server: object | None = None
        self._port = 0
        self.url = ""

    def start(self) -> OdooDouble:
        """Start serving; `url` is then `http://127.0.0.1:<port>`.

        Started again after `stop()`, it serves the same data on the same
        port, as an Odoo back from a restart would.
        """
        server, _thread = start_server(self._dispatcher, self.faults, self._port)
        self._server = server
        self._port = int(server.server_address[1])
        self.url = f"http://127.0.0.1:{self._port}"
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (the data stays, for `start()`)."""
        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._server = None

    def __enter__(self) -> OdooDouble:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def new_api_key(self, uid: int = ADMIN_UID) -> str:
        """A fresh 40-hex-character API key for `uid` (admin by default)."""
        key = secrets.token_hex(20)
        self.db.api_keys[key] = uid
        return key

    def inject(self, fault: Fault) -> None:
        """Queue a fault for the next matching call(s)."""
        self.faults.add(fault)

    def set_clock(self, moment: datetime | None) -> None:
        """Freeze the clock that stamps write_date (None: the wall clock)."""
        from tieline.testing.odoo_double._orm import utc_now

        self.db.clock = (lambda: moment) if moment is not None else utc_now

    def env(self, uid: int = ADMIN_UID) -> Env:
        """An ORM environment for setting up or inspecting data directly."""
        return Env(self.db, uid, {})

    def load(self, path: Path, *, module: str) -> LoadReport:
        """Load an Odoo XML data file into the double's database."""
        with self.db.transaction():
            return load_xml(self.env(), path, module=module)
