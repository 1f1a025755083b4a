"""Odoo's "Send Webhook Notification" as an inbound source of scheme `token`.

Operator's notes
----------------
In Odoo, add an automation rule on the model (Contacts for suppliers) whose
action is "Send Webhook Notification" to the URL `tieline odoo webhook-url`
prints (`<tieline>/hooks/odoo-<instance>/<token>`), with `write_date` among
the fields sent (so that each change has its own body). `tieline serve`
makes the source and registers this processor for it
(`register_odoo_webhooks(source, sync)`) when the settings name an Odoo.
The processor is declared as `odoo`, so another source can be bound to it
(`tieline hooks add-source NAME --scheme token --processor odoo`, say for a
second automation rule with a token of its own); a worker runs it when the
settings name an Odoo.

Odoo sends the body (`_model`, `_id`, `_action` and the chosen fields) from
inside its transaction, before it commits, once, with a one-second timeout,
and sometimes many identical times for one change. So the receiver answers at
once and drops byte-identical repeats; this processor, run later by the
`inbound` consumer, then:

1. waits until `delay` seconds have passed since the message arrived (raising
   `NotYetDue`, a retryable error with `retry_after`, so the wait happens in
   the backbone's retry path and no store transaction is held open);
2. skips the message when a read of the same record started after it arrived
   (that read already saw this change): notifications for one record that
   arrive close together collapse into one read;
3. reads the record through the client; while Odoo does not show it yet (its
   transaction has not committed), raises `RecordNotVisible`, retried by the
   backbone with backoff. When it still does not show `give_up_after`
   seconds (45) after the message arrived, Odoo rolled the change back (it
   sends the notification before it commits): the message is handled with
   the info line `odoo.webhook.never_visible`, not dead-lettered. Nothing is
   lost if Odoo was only slow: the periodic pull reads every record by
   `write_date`. Each message is an event of its own subject, so one waiting
   notification holds up no other;
4. applies it through `OdooSync.apply_partner`, the code a pull uses, so the
   same change arriving by webhook and by pull is applied once (the second
   application finds the canonical record unchanged and emits nothing).

Log lines: `odoo.webhook.applied` (info: model, odoo_id, changed),
`odoo.webhook.collapsed` (debug: model, odoo_id).

TODO: only `res.partner` (suppliers) is applied, as only suppliers are pulled;
a notification for another model is dead-lettered with that reason, so
changes to orders, receipts and bills made in Odoo still wait for a pull
that does not read them yet.
TODO: the memory of recent reads is per process; with several workers, or
after a restart, a burst of notifications may cost one read per worker
(harmless: applying is idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tieline.connectors.odoo._sync import OdooSync
from tieline.delivery.inbound import (
    InboundMessage,
    declare_processor,
    register_processor,
)
from tieline.errors import PermanentError, RetryableError, ValidationFailed
from tieline.logging import get_logger
from tieline.store import Transaction

log = get_logger(__name__)

# Odoo commits after its 1 s webhook timeout at the latest; two seconds leaves
# room for a slow commit without making the change feel late.
DEFAULT_DELAY = 2.0
# A record still not visible this long after its notification was rolled back
# in Odoo. Under the consumers' default retry policy (8 attempts, doubling from
# 0.5 s, 20% jitter) the 8th attempt comes 51 s or more after the first, so
# the message is let go before it could be dead-lettered.
DEFAULT_GIVE_UP_AFTER = 45.0
SUPPORTED_MODELS = ("res.partner",)
PROCESSOR = "odoo"

declare_processor(
    PROCESSOR,
    "reads the Odoo record a notification names and applies it as a pull does",
)


class NotYetDue(RetryableError):
    """The message is younger than the processor's delay: try again later."""


class RecordNotVisible(RetryableError):
    """Odoo announced a record that it does not show yet (not committed)."""


class OdooWebhookProcessor:
    """Reads the record an Odoo notification names, and applies it like a pull."""

    def __init__(
        self,
        sync: OdooSync,
        *,
        delay: float = DEFAULT_DELAY,
        not_visible_retry: float = 0.5,
        give_up_after: float = DEFAULT_GIVE_UP_AFTER,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sync = sync
        self.delay = delay
        self.give_up_after = give_up_after
        self.not_visible_retry = not_visible_retry
        self.clock = clock or (lambda: datetime.now(UTC))
        self.reads = 0
        self._read_started: dict[tuple[str, int], datetime] = {}
        self._record_locks: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()

    def __call__(self, tx: Transaction, message: InboundMessage) -> None:
        """Process one accepted notification inside the consumer's transaction."""
        model, odoo_id = _target(message)
        now = self.clock()
        due = message.received_at + timedelta(seconds=self.delay)
        if now < due:
            wait = (due - now).total_seconds()
            raise NotYetDue(f"{model} {odoo_id}: read in {wait:.2f}s", retry_after=wait)
        # One read of a record at a time in this process: messages are events
        # of their own subjects, handled in parallel, and a burst's copies
        # would otherwise all read at once. The one that waited then finds
        # itself covered by the read that went first.
        with self._record_lock(model, odoo_id):
            self._read(tx, message, model, odoo_id, now)

    def _read(
        self,
        tx: Transaction,
        message: InboundMessage,
        model: str,
        odoo_id: int,
        now: datetime,
    ) -> None:
        if self._covered(model, odoo_id, message.received_at):
            log.debug("odoo.webhook.collapsed", model=model, odoo_id=odoo_id)
            return
        with self._lock:
            self.reads += 1
        changed = self.sync.apply_partner(tx, odoo_id)
        if changed is None:
            waited = (now - message.received_at).total_seconds()
            if waited >= self.give_up_after:
                log.info(
                    "odoo.webhook.never_visible",
                    model=model,
                    odoo_id=odoo_id,
                    waited=round(waited, 1),
                )
                return
            raise RecordNotVisible(
                f"Odoo does not show {model} {odoo_id} yet",
                retry_after=self.not_visible_retry,
            )
        # Remembered only once the record was seen: a read that found nothing
        # covers no notification.
        with self._lock:
            self._read_started[(model, odoo_id)] = now
        log.info("odoo.webhook.applied", model=model, odoo_id=odoo_id, changed=changed)

    def _record_lock(self, model: str, odoo_id: int) -> threading.Lock:
        with self._lock:
            return self._record_locks.setdefault((model, odoo_id), threading.Lock())

    def _covered(self, model: str, odoo_id: int, received: datetime) -> bool:
        with self._lock:
            started = self._read_started.get((model, odoo_id))
        return started is not None and started >= received


def _target(message: InboundMessage) -> tuple[str, int]:
    """The model and id a notification names, or a clear error."""
    try:
        body: Any = message.json()
    except ValueError as err:
        raise ValidationFailed(
            "not JSON", record=f"inbound {message.id}", field="body"
        ) from err
    if not isinstance(body, dict) or not isinstance(body.get("_id"), int):
        raise ValidationFailed(
            "Odoo's body needs _model and an integer _id",
            record=f"inbound {message.id}",
            field="_id",
        )
    model = str(body.get("_model"))
    if model not in SUPPORTED_MODELS:
        raise PermanentError(f"Odoo webhooks for {model} are not applied yet")
    return model, int(body["_id"])


def register_odoo_webhooks(
    source: str, sync: OdooSync, **options: Any
) -> OdooWebhookProcessor:
    """Make `source`'s messages go through an `OdooWebhookProcessor` for `sync`.

    Sources bound to the processor `odoo` use it too.
    """
    processor = OdooWebhookProcessor(sync, **options)
    register_processor(source, processor)
    register_processor(PROCESSOR, processor)
    return processor


__all__ = [
    "DEFAULT_DELAY",
    "PROCESSOR",
    "NotYetDue",
    "OdooWebhookProcessor",
    "RecordNotVisible",
    "register_odoo_webhooks",
]
