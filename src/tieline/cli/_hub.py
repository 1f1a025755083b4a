"""What a running hub runs, decided from the settings: `tieline serve`'s parts.

Operator's notes
----------------
`running_hub(settings, roles)` opens the store, assembles the hub
(`assemble_hub`), starts the backbone (relay, workers), webhook delivery
and the periodic jobs, and stops them all on exit. `tieline serve` runs the
API inside it.

Roles: `api`, `worker` (consumers and periodic jobs), `relay` (outbox to
NATS) and `dispatcher` (outbound webhooks); `all` is every one. The
dispatcher runs in this process only when it is the process's one role;
beside any other role (so with `all`, the default) `start_delivery` starts it
as a child process of its own, on the same database, because its HTTP sends
are the largest share of the webhook pipeline's CPU and one Python process
uses one core (benchmarks/RESULTS.md). The child is stopped on exit after it
finished what it had in flight, ends by itself if this process dies, and is
started again if it dies (`dispatcher.process_exited`, error). A process
with only the `dispatcher` role assembles no consumers and opens no bus.

What is assembled, by setting:

- **Odoo** (`TIELINE_ODOO_URL`, `_DB`, `_LOGIN` and the secret
  `odoo_api_key` or `odoo_password`; see `tieline.settings`). Every role
  makes sure the inbound webhook source `odoo-<instance>` exists with the
  token `odoo_webhook_token`, so `/hooks/odoo-main/<token>` accepts Odoo's
  notifications. A worker also logs in (`odoo.connected`); a login Odoo
  refuses stops the start with one line naming the variables to check,
  while an Odoo that does not answer leaves the hub running degraded
  (`odoo.unreachable`, critical; `/health` says `degraded`): what needs
  Odoo waits and retries, and its events stay on the backbone. The worker
  then registers the webhook processor and the periodic jobs
  `odoo-pull-<instance>` and `odoo-payments-<instance>`.
- **Workflows** (`<data dir>/workflows.toml`): the workflow consumers,
  with Odoo as their ERP (`workflow-erp` pushes approved orders, receipts
  and bills through `OdooErp`, so nothing reaches Odoo that the policy did
  not approve), and the job `sla-sweep`. Without Odoo they run on an
  in-memory ERP, which keeps nothing across a restart: the start says so
  in a warning (`hub.in_memory_erp`).
- **Odoo without workflows**: the push consumer `odoo-<instance>` pushes
  approved commitments, confirmed receipts and approved invoices directly.
  With workflows it is not registered, so an order or bill goes to Odoo
  once, through its workflow.

Log lines: `hub.assembled` (info: odoo, workflows, consumers, jobs),
`hub.in_memory_erp` and `hub.no_odoo` (warning), `odoo.unreachable`
(critical).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tieline.cli._workflows import served_hub
from tieline.connectors.odoo import Limits
from tieline.connectors.odoo._errors import OdooAuthFailed
from tieline.connectors.odoo.consumers import push_consumer
from tieline.connectors.odoo.runtime import OdooConfig, OdooRuntime
from tieline.connectors.odoo.webhooks import PROCESSOR as ODOO_PROCESSOR
from tieline.connectors.odoo.webhooks import register_odoo_webhooks
from tieline.delivery.inbound import (
    Scheme,
    ensure_source,
    inbound_consumer,
    unregister_processor,
)
from tieline.errors import ConfigurationError
from tieline.events import Consumer, registry
from tieline.events.jobs import JobRunner, PeriodicJob
from tieline.governance.secrets import SecretResolver, default_resolver
from tieline.logging import get_logger
from tieline.settings import Settings
from tieline.store import Store
from tieline.workflows import ErpGateway, Hub, InMemoryErp, sweep, workflow_consumers
from tieline.workflows.invoices import sync_payments

log = get_logger(__name__)

WEBHOOK_TOKEN = "odoo_webhook_token"  # noqa: S105 - a secret's name


@dataclass
class HubAssembly:
    """What this process runs besides the API and the backbone's core."""

    odoo: OdooRuntime | None = None
    hub: Hub | None = None
    erp: ErpGateway | None = None
    jobs: list[PeriodicJob] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    # (log event, text): what a person starting the hub must know.
    notices: list[tuple[str, str]] = field(default_factory=list)
    webhook_source: str | None = None

    def health(self) -> dict[str, dict[str, Any]]:
        """The state of the systems this hub depends on, by name."""
        return {"odoo": self.odoo.status()} if self.odoo is not None else {}

    def close(self) -> None:
        """Forget what was registered and close the Odoo client."""
        for name in self.consumers:
            registry.unregister(name)
        if self.webhook_source is not None:
            unregister_processor(self.webhook_source)
            unregister_processor(ODOO_PROCESSOR)
        if self.odoo is not None:
            self.odoo.close()


def odoo_config(
    settings: Settings, secrets: SecretResolver | None = None
) -> OdooConfig | None:
    """The Odoo connection the settings describe; None when none is set.

    Raises `ConfigurationError` naming the variables missing.
    """
    if not settings.odoo_configured:
        return None
    given = {
        "TIELINE_ODOO_URL": settings.odoo_url,
        "TIELINE_ODOO_DB": settings.odoo_db,
        "TIELINE_ODOO_LOGIN": settings.odoo_login,
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} not set: Odoo needs TIELINE_ODOO_URL, "
            "TIELINE_ODOO_DB and TIELINE_ODOO_LOGIN together"
        )
    secrets = secrets or default_resolver(settings.resolved_secrets_dir)
    secret = secrets.get("odoo_api_key") or secrets.get("odoo_password")
    if secret is None:
        raise ConfigurationError(
            f"no secret for Odoo user {settings.odoo_login}: set "
            "TIELINE_ODOO_API_KEY (or TIELINE_ODOO_PASSWORD, up to Odoo 18), "
            "or name a file holding it in TIELINE_ODOO_API_KEY_FILE, or put it "
            f"in {settings.resolved_secrets_dir / 'odoo_api_key'}"
        )
    return OdooConfig(
        url=str(settings.odoo_url),
        database=str(settings.odoo_db),
        login=str(settings.odoo_login),
        secret=secret,
        instance=settings.odoo_instance,
        companies=settings.odoo_company_map,
        limits=Limits(
            max_in_flight=settings.odoo_max_in_flight,
            calls_per_second=settings.odoo_calls_per_second,
            timeout=settings.odoo_timeout,
        ),
        webhook_delay=settings.odoo_webhook_delay,
        in_doubt_window=settings.odoo_in_doubt_window,
    )


def webhook_token(settings: Settings) -> str:
    """The token in the URL Odoo posts its notifications to (made once)."""
    folder = settings.resolved_secrets_dir
    return (
        default_resolver(folder).get_or_create(WEBHOOK_TOKEN, folder).get_secret_value()
    )


def assemble_hub(
    settings: Settings, store: Store, roles: Collection[str]
) -> HubAssembly:
    """Register this process's consumers and processors; build its jobs."""
    config = odoo_config(settings)
    built = HubAssembly(hub=served_hub(settings))
    try:
        if config is not None:
            built.webhook_source = config.source
            ensure_source(store, config.source, Scheme.TOKEN, webhook_token(settings))
        if "worker" in roles:
            _assemble_worker(built, settings, store, config)
    except BaseException:
        built.close()
        raise
    log.info(
        "hub.assembled",
        odoo=config.url if config else None,
        workflows=built.hub is not None,
        consumers=built.consumers,
        jobs=[job.name for job in built.jobs],
    )
    return built


def _assemble_worker(
    built: HubAssembly, settings: Settings, store: Store, config: OdooConfig | None
) -> None:
    # Delivery registers its consumers at import; a test that reset the
    # registry would leave a hub without them.
    registry.register(inbound_consumer())
    if config is not None:
        built.odoo = _connect(config)
        _odoo_parts(built, settings, store, built.odoo)
    else:
        built.notices.append(
            (
                "hub.no_odoo",
                "no Odoo is configured (TIELINE_ODOO_URL, _DB, _LOGIN): nothing "
                "is pushed to or pulled from Odoo",
            )
        )
    if built.hub is not None:
        _workflow_parts(built, settings, store, built.hub)


def _connect(config: OdooConfig) -> OdooRuntime:
    odoo = OdooRuntime(config)
    try:
        odoo.probe()
    except OdooAuthFailed as err:
        odoo.close()
        # The error names the URL, the login and the database already.
        raise ConfigurationError(
            f"{err}; check TIELINE_ODOO_LOGIN, TIELINE_ODOO_DB and "
            "TIELINE_ODOO_API_KEY (or TIELINE_ODOO_PASSWORD, up to Odoo 18)"
        ) from err
    return odoo


def _odoo_parts(
    built: HubAssembly, settings: Settings, store: Store, odoo: OdooRuntime
) -> None:
    config = odoo.config
    register_odoo_webhooks(config.source, odoo.sync, delay=config.webhook_delay)
    if built.hub is None:
        # Without a workflow policy, approved documents go to Odoo directly.
        _register(built, push_consumer(odoo.sync))
    instance = config.instance
    built.jobs.append(
        PeriodicJob(
            f"odoo-pull-{instance}",
            settings.odoo_pull_interval,
            lambda: odoo.pull(store),
        )
    )
    read: Callable[[], str]
    if built.hub is not None:
        hub = built.hub

        def read() -> str:
            found = sync_payments(store, hub, odoo.erp)
            return f"payments recorded {len(found)}"

    else:

        def read() -> str:
            return odoo.read_payments(store)

    built.jobs.append(
        PeriodicJob(f"odoo-payments-{instance}", settings.odoo_payment_interval, read)
    )


def _workflow_parts(
    built: HubAssembly, settings: Settings, store: Store, hub: Hub
) -> None:
    if built.odoo is not None:
        built.erp = built.odoo.erp
    else:
        built.erp = InMemoryErp()
        built.notices.append(
            (
                "hub.in_memory_erp",
                "workflows run on an IN-MEMORY ERP: approved orders, receipts "
                "and bills reach no ERP and are forgotten at restart, and no "
                "payment ever comes back; set TIELINE_ODOO_URL, _DB and _LOGIN "
                "to use Odoo",
            )
        )
    for consumer in workflow_consumers(lambda: hub, built.erp):
        _register(built, consumer)

    def sweep_due() -> str:
        return f"breaches {len(sweep(store, hub))}"

    built.jobs.append(PeriodicJob("sla-sweep", settings.sla_sweep_interval, sweep_due))


def _register(built: HubAssembly, consumer: Consumer) -> None:
    registry.register(consumer)
    built.consumers.append(consumer.name)


@dataclass
class RunningHub:
    """A hub's parts while they run: stop them by leaving `running_hub`."""

    store: Store
    assembly: HubAssembly
    stop: threading.Event
    jobs: JobRunner | None


@contextmanager
def running_hub(
    settings: Settings,
    roles: Collection[str],
    *,
    store: Store | None = None,
    job_tick: float = 1.0,
) -> Iterator[RunningHub]:
    """Assemble and start the hub's backbone, delivery and jobs; stop on exit.

    Opens (and closes) the settings' store unless one is given.
    """
    from tieline.cli._commands import open_store
    from tieline.delivery import start_delivery
    from tieline.events._roles import start_backbone

    own_store = store is None
    store = store or open_store(settings)
    stop = threading.Event()
    stoppers: list[Callable[[], None]] = []
    assembly = None
    try:
        assembly = assemble_hub(settings, store, roles)
        for event, text in assembly.notices:
            log.warning(event, detail=text)
        stoppers.append(start_backbone(store, settings, roles, stop))
        stoppers.append(start_delivery(store, settings, roles, stop))
        runner = None
        if "worker" in roles and assembly.jobs:
            runner = JobRunner(store, assembly.jobs, tick=job_tick)
            thread = runner.start(stop)
            stoppers.append(lambda: thread.join(timeout=30))
        yield RunningHub(store, assembly, stop, runner)
    finally:
        stop.set()
        for stopper in stoppers:
            stopper()
        if assembly is not None:
            assembly.close()
        if own_store:
            store.close()
