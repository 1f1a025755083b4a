"""Figures for governance and the API: audit appends and verification, API latency.

Run: `python benchmarks/governance.py [--postgres URL]`. It prints one line
per figure; nothing is asserted. PostgreSQL figures need a server that lets
the given user create a scratch database (dropped at the end).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tieline.api import create_app
from tieline.governance import IdentityKind, Role, create_identity, grant_role
from tieline.governance.audit import AuditLog
from tieline.governance.identities import issue_api_key
from tieline.settings import Settings, normalise_database_url
from tieline.store import Store

KEY = b"benchmark-audit-key-0123456789ab"


@contextmanager
def sqlite_store(folder: Path) -> Iterator[Store]:
    """A migrated SQLite store in `folder`."""
    store = Store(f"sqlite:///{folder / 'bench.db'}")
    store.migrate()
    yield store
    store.close()


@contextmanager
def postgres_store(url: str) -> Iterator[Store]:
    """A migrated store in a scratch PostgreSQL database."""
    admin = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    name = f"tieline_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = make_url(normalise_database_url(url)).set(database=name)
    store = Store(scratch.render_as_string(hide_password=False))
    store.migrate()
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def audit_appends(store: Store, log: AuditLog, writers: int, each: int) -> float:
    """Appends per second with `writers` threads, each on its own engine."""

    def write() -> None:
        own = Store(store.url)
        for number in range(each):
            log.record(own, actor="service:bench", action="bench", target=str(number))
        own.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * each / (time.perf_counter() - started)


def verify_rate(store: Store, log: AuditLog) -> tuple[int, float]:
    """Entries checked per second by a full verification."""
    started = time.perf_counter()
    with store.transaction() as tx:
        result = log.verify(tx.connection)
    assert result.intact, result.problem
    return result.entries, result.entries / (time.perf_counter() - started)


def latencies(call: Callable[[int], object], count: int) -> tuple[float, float]:
    """p50 and p95 of `call`, in milliseconds."""
    times = []
    for number in range(count):
        started = time.perf_counter()
        call(number)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def api_figures(store: Store, folder: Path, label: str, count: int) -> None:
    """Create, read and list latencies through the in-process client."""
    settings = Settings(data_dir=folder / label, rate_limit=10**9)
    client = TestClient(create_app(store, settings=settings))
    with store.transaction() as tx:
        identity = create_identity(
            tx.connection, IdentityKind.SERVICE, f"bench-{label}"
        )
        grant_role(
            tx.connection,
            identity,
            Role.INTEGRATION_OPERATOR,
            legal_entity_id="*",
            granted_by="bench",
        )
        key = issue_api_key(
            tx.connection, identity, scopes=["records:read", "records:write"]
        )
    headers = {"X-API-Key": key.token}
    ids: list[str] = []

    def create(number: int) -> None:
        body = {
            "origin": {"system": "bench", "key": f"{label}-{number}"},
            "system": "bench",
            "code": str(number),
            "name": "code",
        }
        answer = client.post("/v1/cost-codes", json=body, headers=headers)
        ids.append(answer.json()["id"])

    p50, p95 = latencies(create, count)
    print(
        f"{label}: API create (audited, outbox event) p50 {p50:.1f} ms, p95 {p95:.1f}"
    )
    p50, p95 = latencies(
        lambda n: client.get(f"/v1/cost-codes/{ids[n]}", headers=headers), count
    )
    print(f"{label}: API read p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    p50, p95 = latencies(
        lambda n: client.get("/v1/cost-codes?limit=50", headers=headers), 50
    )
    print(f"{label}: API list page of 50 p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def partner_scan(store: Store, folder: Path, label: str, suppliers: int) -> None:
    """A partner listing suppliers: it sees 1 of `suppliers`, each row checked."""
    settings = Settings(data_dir=folder / f"{label}-p", rate_limit=10**9)
    client = TestClient(create_app(store, settings=settings))
    with store.transaction() as tx:
        from tieline.model import Supplier

        for number in range(suppliers):
            record = Supplier.model_validate(
                {
                    "origin": {"system": "bench", "key": f"s{number}"},
                    "legal_name": f"S{number}",
                }
            )
            own = tx.save(record, actor="bench").record.id
        identity = create_identity(tx.connection, IdentityKind.SERVICE, f"p-{label}")
        grant_role(
            tx.connection,
            identity,
            Role.PARTNER,
            legal_entity_id="*",
            supplier_id=own,
            granted_by="bench",
        )
        key = issue_api_key(tx.connection, identity, scopes=["records:read"])
    headers = {"X-API-Key": key.token}
    p50, p95 = latencies(lambda n: client.get("/v1/suppliers", headers=headers), 20)
    print(
        f"{label}: partner list over {suppliers} suppliers (sees 1) "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )


def run(label: str, opener: Callable[[], object], folder: Path) -> None:
    """Every figure on one back-end."""
    with opener() as store:  # type: ignore[attr-defined]
        log = AuditLog(KEY, anchor_file=folder / f"{label}-head.json")
        for writers, each in ((1, 300), (4, 150)):
            rate = audit_appends(store, log, writers, each)
            print(f"{label}: audit appends, {writers} writer(s): {rate:.0f}/s")
        entries, rate = verify_rate(store, log)
        print(f"{label}: audit verify: {entries} entries at {rate:.0f} entries/s")
        api_figures(store, folder, label, 200)
        partner_scan(store, folder, label, 2000)


def main() -> None:
    """Print the figures for SQLite, and PostgreSQL when given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL URL for a scratch database")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        run("sqlite", lambda: sqlite_store(folder), folder)
        if options.postgres:
            run("postgres", lambda: postgres_store(options.postgres), folder)


if __name__ == "__main__":
    main()
