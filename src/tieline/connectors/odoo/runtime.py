"""One Odoo database as a running hub uses it: a client, its synchronizer,
the workflows' gateway, the webhook source, and the periodic work.

Operator's notes
----------------
`OdooRuntime(config)` is built by `tieline serve` from the `TIELINE_ODOO_*`
settings (see `tieline.settings`). Its client logs in lazily: `probe()`
tries once at start and reports, without raising, an Odoo that does not
answer; everything that needs Odoo (the push consumer, the webhook
processor, the workflows' gateway, the jobs) then fails with the retryable
`OdooUnavailable` until Odoo answers, and the backbone keeps their events
and retries them, so nothing is lost while Odoo is down. A login Odoo
refuses (`OdooAuthFailed`) is raised by `probe()`: that needs a person.

Periodic work (run by `tieline.events.jobs.JobRunner`):

- `pull(store)`: partners (suppliers) changed in Odoo since the watermark,
  archived and deleted ones included (`OdooSync.pull_suppliers`); it holds
  the push lock, and a wait for a binding a push has not committed yet
  defers the run (`BindingConflict`) rather than blocking the pushes;
- `read_payments(store)`: for hubs without workflows, the payment state of
  every posted invoice whose bill tieline made, one transaction per invoice
  (a hub with workflows reads payments through `tieline.workflows`'
  `sync_payments` and this gateway's `OdooErp` instead).

`status()` says whether Odoo answered the last call, for `/health`.

Log lines: `odoo.unreachable` (critical, at start), `odoo.pull.done` (info:
changed, deleted), `odoo.payments.read` (info: invoices, paid).

TODO: only partners are pulled; orders, receipts and bills changed in Odoo
are not read back by `write_date` yet (see `_sync.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._client import Limits, OdooClient, RetryPolicy
from tieline.connectors.odoo._errors import OdooUnavailable
from tieline.connectors.odoo._in_doubt import DEFAULT_WINDOW
from tieline.connectors.odoo._locks import push_lock
from tieline.connectors.odoo._sync import OdooSync
from tieline.connectors.odoo.erp import OdooErp
from tieline.errors import TielineError
from tieline.logging import get_logger
from tieline.model import InvoiceStatus
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OdooConfig:
    """How to reach one Odoo database, and how hard to press it."""

    url: str
    database: str
    login: str
    secret: SecretStr
    instance: str = "main"
    companies: Mapping[str, int | str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    webhook_delay: float = 2.0
    in_doubt_window: float = DEFAULT_WINDOW

    @property
    def source(self) -> str:
        """The inbound webhook source Odoo's notifications arrive on."""
        return f"odoo-{self.instance}"


class OdooRuntime:
    """The Odoo side of a running hub, for one Odoo database."""

    def __init__(
        self,
        config: OdooConfig,
        *,
        retry: RetryPolicy | None = None,
        lock_wait: float = 5.0,
    ) -> None:
        self.config = config
        self.client = OdooClient.deferred(
            config.url,
            config.database,
            config.login,
            config.secret.get_secret_value(),
            limits=config.limits,
            retry=retry,
        )
        self.sync = OdooSync(
            self.client,
            instance=config.instance,
            companies=config.companies,
            lock_wait=lock_wait,
            in_doubt_window=config.in_doubt_window,
        )
        self.erp = OdooErp(self.sync)

    def probe(self) -> bool:
        """Log in now; False (logged as critical) when Odoo does not answer.

        Raises `OdooAuthFailed` when Odoo answers and refuses the login.
        """
        try:
            self.client.ensure_session()
        except OdooUnavailable as err:
            log.critical(
                "odoo.unreachable",
                url=self.config.url,
                database=self.config.database,
                error=str(err),
                effect="pushes, pulls and webhook reads wait and retry until "
                "Odoo answers; their events are kept",
            )
            return False
        return True

    def status(self) -> dict[str, Any]:
        """Where Odoo stands as last seen, without calling it."""
        client = self.client
        found: dict[str, Any] = {
            "instance": self.config.instance,
            "url": self.config.url,
            "database": self.config.database,
        }
        if client.unreachable_since is not None:
            found["status"] = "unreachable"
            found["since"] = client.unreachable_since.isoformat()
            found["error"] = client.last_error
        elif not client.connected:
            found["status"] = "not connected yet"
        else:
            found["status"] = "ok"
            found["version"] = client.version.major
            found["protocol"] = client.protocol
        return found

    def pull(self, store: Store) -> str:
        """Pull the records changed in Odoo since the last pull."""
        # The transaction first, then the lock: the push consumer takes them
        # in that order (its handler runs inside its transaction), and the
        # other order deadlocks with it on SQLite's single writer. On
        # PostgreSQL a wait for a row a push holds is bounded (`push_lock`):
        # the job is deferred and runs again.
        with store.transaction() as tx, push_lock(self.sync, tx, "odoo pull"):
            result = self.sync.pull_suppliers(tx)
        log.info("odoo.pull.done", changed=result.changed, deleted=result.deleted)
        return f"suppliers changed {result.changed}, deleted {result.deleted}"

    def read_payments(self, store: Store) -> str:
        """Read the payment state of every posted invoice billed in Odoo.

        One transaction per invoice, so one bill Odoo cannot read does not
        hold back the others; the first error is raised after them all.
        """
        with store.transaction() as tx:
            binder = Binder(tx.connection, self.sync.instance)
            billed = set(binder.bound("account.move").values())
            waiting = [
                invoice.id
                for invoice in tx.list(SupplierInvoice, status=InvoiceStatus.POSTED)
                if invoice.id in billed
            ]
        paid, failed = 0, []
        for invoice_id in waiting:
            try:
                with store.transaction() as tx:
                    invoice = tx.get(SupplierInvoice, invoice_id)
                    if invoice is None or invoice.status is not InvoiceStatus.POSTED:
                        continue
                    read = self.sync.read_payment_status(tx, invoice)
                paid += read.status is InvoiceStatus.PAID
            except TielineError as err:
                log.info("odoo.payments.failed", invoice_id=invoice_id, error=str(err))
                failed.append(err)
        log.info("odoo.payments.read", invoices=len(waiting), paid=paid)
        if failed:
            raise failed[0]
        return f"invoices read {len(waiting)}, paid {paid}"

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


__all__ = ["OdooConfig", "OdooRuntime"]
