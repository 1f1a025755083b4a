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
    settings = make_settings(tmp_path)
    governance = build_governance(
        settings, secrets=SecretResolver([DictSecrets(TEST_SECRETS)])
    )
    app = create_app(store, settings=settings, governance=governance)
    with TestClient(app) as client:
        yield Hub(store, governance, client)
