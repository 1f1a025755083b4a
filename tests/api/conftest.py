"""An API over a store, with callers of every role made on demand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tieline.api import create_app
from tieline.governance import IdentityKind, Role, create_identity, grant_role
from tieline.governance.identities import issue_api_key
from tieline.governance.roles import ALL_SCOPES
from tieline.governance.runtime import Governance, build_governance
from tieline.governance.secrets import SecretResolver
from tieline.settings import Settings
from tieline.store import Store

# Fixed secrets for the run; the leak test searches every answer for them.
TEST_SECRETS = {
    "audit_key": "audit-key-for-tests-0123456789abcdef",
    "token_signing_key": "token-signing-key-for-tests-0123456789abcdef",
}


class DictSecrets:
    """A secrets source over a dict: how a secrets manager plugs in."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def lookup(self, name: str) -> str | None:
        """The value, or None."""
        return self.values.get(name)


@dataclass
class Hub:
    """The app, its store and governance, and a way to make callers."""

    store: Store
    governance: Governance
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def caller(
        self,
        name: str,
        *grants: tuple[Role, str, str | None],
        scopes: tuple[str, ...] = tuple(s.value for s in ALL_SCOPES),
    ) -> dict[str, str]:
        """Headers of a new service identity holding `grants`."""
        with self.store.transaction() as tx:
            identity = create_identity(tx.connection, IdentityKind.SERVICE, name)
            for role, entity, supplier in grants:
                grant_role(
                    tx.connection,
                    identity,
                    role,
                    legal_entity_id=entity,
                    supplier_id=supplier,
                    granted_by="tests",
                )
            issued = issue_api_key(tx.connection, identity, scopes=scopes)
        self.tokens[name] = issued.token
        return {"X-API-Key": issued.token}


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings over a private data directory."""
    return Settings(data_dir=tmp_path / "var", **overrides)  # type: ignore[arg-type]


@pytest.fixture
def hub(store: Store, tmp_path: Path) -> Iterator[Hub]:
    """An API over the store, with fixed test secrets."""
    settings = make_settings(tmp_path, auth_failure_limit=100_000)
    governance = build_governance(
        settings, secrets=SecretResolver([DictSecrets(TEST_SECRETS)])
    )
    app = create_app(store, settings=settings, governance=governance)
    with TestClient(app) as client:
        yield Hub(store, governance, client)


@dataclass
class Estate:
    """Two legal entities, two suppliers and records of every kind between them.

    Supplier 1 holds commitment c1 in entity A and c3 in entity B, both
    approved (issued); supplier 2 holds c2 in entity A, a draft. Each has a
    change order, a claim, an invoice and a payment on its commitment in A.
    """

    ids: dict[str, str]
    kinds: dict[str, str]  # name -> kind

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def _line(key: str, project: str, amount: str) -> dict[str, object]:
    return {
        "line_key": key,
        "project_id": project,
        "cost_code": "03 30 00",
        "amount": amount,
    }


def sample(
    kind: str,
    key: str,
    ids: dict[str, str],
    *,
    system: str = "tests",
    supplier: str = "s1",
    commitment: str = "c1",
) -> dict[str, object]:
    """A valid body of `kind` in entity A, keyed `key`."""
    origin = {"system": system, "key": key}
    le, project = ids["le_a"], ids["p_a"]
    bodies: dict[str, dict[str, object]] = {
        "legal_entity": {"code": key, "name": "Entity", "base_currency": "EUR"},
        "project": {
            "code": key,
            "name": "Project",
            "legal_entity_id": le,
            "currency": "EUR",
            "cost_code_system": "masterformat",
        },
        "cost_code": {
            "system": "masterformat",
            "code": key,
            "name": "Concrete",
            "project_id": project,
        },
        "cost_code_crosswalk": {
            "from_system": "a",
            "from_code": key,
            "to_system": "b",
            "to_code": key,
        },
        "budget": {
            "project_id": project,
            "currency": "EUR",
            "lines": [{"line_key": "1", "cost_code": "03", "amount": "10.00"}],
        },
        "budget_revision": {
            "project_id": project,
            "number": key,
            "reason": "scope",
            "currency": "EUR",
            "lines": [{"cost_code": "03", "amount": "5.00"}],
        },
        "supplier": {"legal_name": f"Supplier {key}"},
        "commitment": {
            "number": key,
            "commitment_type": "subcontract",
            "legal_entity_id": le,
            "project_id": project,
            "supplier_id": ids.get(supplier, ""),
            "currency": "EUR",
            "lines": [_line("1", project, "1000.00")],
        },
        "change_order": {
            "commitment_id": ids.get(commitment, ""),
            "number": key,
            "reason": "extra",
            "currency": "EUR",
            "lines": [{"line_key": "2", "cost_code": "03", "amount": "100.00"}],
        },
        "goods_receipt": {
            "commitment_id": ids.get(commitment, ""),
            "number": key,
            "received_on": "2026-01-05",
            "currency": "EUR",
            "lines": [{"commitment_line_key": "1", "quantity": "1", "amount": "10.00"}],
        },
        "supplier_invoice": {
            "supplier_reference": key,
            "supplier_id": ids.get(supplier, ""),
            "supplier_name": "Supplier",
            "legal_entity_id": le,
            "commitment_id": ids.get(commitment, ""),
            "issue_date": "2026-01-10",
            "currency": "EUR",
            "lines": [{"line_key": "1", "net_amount": "100.00"}],
            "net_total": "100.00",
            "tax_total": "20.00",
            "gross_total": "120.00",
        },
        "progress_claim": {
            "commitment_id": ids.get(commitment, ""),
            "period": 1,
            "period_end": "2026-01-31",
            "currency": "EUR",
            "lines": [{"commitment_line_key": "1", "claimed_to_date": "250.00"}],
        },
        "payment": {
            "legal_entity_id": le,
            "supplier_id": ids.get(supplier, ""),
            "reference": key,
            "paid_on": "2026-02-01",
            "currency": "EUR",
            "amount": "120.00",
            # A paid payment is a decision (see tieline.governance.decisions).
            "status": "pending",
        },
    }
    return {"origin": origin, **bodies[kind]}


@pytest.fixture
def estate(hub: Hub) -> Estate:
    """The estate, written through the store as an import would."""
    from tieline.model import RECORD_TYPES, LegalEntity, Project, Supplier

    ids: dict[str, str] = {}
    kinds: dict[str, str] = {}
    with hub.store.transaction() as tx:
        for name, code in (("le_a", "A"), ("le_b", "B")):
            entity = LegalEntity.model_validate(
                {
                    "origin": {"system": "seed", "key": code},
                    "code": code,
                    "name": f"Entity {code}",
                    "base_currency": "EUR",
                }
            )
            ids[name] = tx.save(entity, actor="seed").record.id
            kinds[name] = "legal_entity"
        for name, entity in (("p_a", "le_a"), ("p_b", "le_b")):
            project = Project.model_validate(
                {
                    "origin": {"system": "seed", "key": name},
                    "code": name,
                    "name": name,
                    "legal_entity_id": ids[entity],
                    "currency": "EUR",
                    "cost_code_system": "masterformat",
                }
            )
            ids[name] = tx.save(project, actor="seed").record.id
            kinds[name] = "project"
        for name in ("s1", "s2"):
            supplier = Supplier.model_validate(
                {"origin": {"system": "seed", "key": name}, "legal_name": name}
            )
            ids[name] = tx.save(supplier, actor="seed").record.id
            kinds[name] = "supplier"

        def seed(
            kind: str, name: str, status: str | None = None, **options: str
        ) -> None:
            body = sample(kind, name, ids, system="seed", **options)
            if status is not None:
                body["status"] = status
            record = RECORD_TYPES[kind].model_validate(body)
            ids[name] = tx.save(record, actor="seed").record.id
            kinds[name] = kind

        seed("commitment", "c1", "approved", supplier="s1")
        seed("commitment", "c2", supplier="s2")
        body = sample("commitment", "c3", ids, system="seed", supplier="s1")
        body.update(
            legal_entity_id=ids["le_b"],
            project_id=ids["p_b"],
            lines=[_line("1", ids["p_b"], "500.00")],
            status="approved",
        )
        ids["c3"] = tx.save(
            RECORD_TYPES["commitment"].model_validate(body), actor="seed"
        ).record.id
        kinds["c3"] = "commitment"
        for number, commitment, supplier in (("1", "c1", "s1"), ("2", "c2", "s2")):
            options = {"commitment": commitment, "supplier": supplier}
            seed("change_order", f"co{number}", commitment=commitment)
            seed("goods_receipt", f"gr{number}", commitment=commitment)
            seed("progress_claim", f"k{number}", commitment=commitment)
            seed("supplier_invoice", f"i{number}", **options)
            seed("payment", f"pay{number}", supplier=supplier)
        for kind in ("cost_code", "cost_code_crosswalk", "budget", "budget_revision"):
            seed(kind, f"{kind}1")
    return Estate(ids, kinds)


@pytest.fixture(name="sample")
def sample_fixture() -> object:
    """The `sample` body builder, for tests."""
    return sample


@pytest.fixture
def test_secrets() -> dict[str, str]:
    """The hub's fixed secrets in this run."""
    return dict(TEST_SECRETS)
