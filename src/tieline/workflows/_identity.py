"""One identity per person or service, whatever system a login arrives from.

A person uses a login in each system (`odoo: pjones`, `procore: p.jones@x`);
the mapping turns any of them into one identity, so segregation of duties
holds across systems. A service identity (an integration's account) may act
but can never approve.

Deliberately small and self-contained: the governance part keeps identities,
roles and scopes of its own; this mapping is what workflows need, read from
the policy file, and can be fed from governance's identities when the two
are joined (same `id` for the same identity).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tieline.errors import ConfigurationError
from tieline.workflows._errors import UnknownLogin

# The system whose logins are identity ids: tieline itself (its API, its CLI).
HUB_LOGINS = "tieline"


class IdentityKind(enum.StrEnum):
    """A person decides; a service only moves data."""

    PERSON = "person"
    SERVICE = "service"


class ActorKind(enum.StrEnum):
    """Who or what made a transition."""

    PERSON = "person"
    SERVICE = "service"
    POLICY = "policy"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Identity:
    """A person or a service, with its login in each system."""

    id: str
    kind: IdentityKind
    name: str = ""
    logins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what acts: an identity (or a policy, or tieline itself) and where."""

    id: str
    kind: ActorKind
    system: str
    login: str | None = None

    def __str__(self) -> str:
        where = f"{self.system}:{self.login}" if self.login else self.system
        return f"{self.id} ({self.kind.value}, via {where})"


def policy_actor(rule: str) -> Actor:
    """The approval policy itself as the approver (never a person)."""
    return Actor(id=f"policy:{rule}", kind=ActorKind.POLICY, system="tieline")


def system_actor(system: str, what: str) -> Actor:
    """A system acting on its own account (an ERP confirming a posting)."""
    return Actor(id=f"system:{what}", kind=ActorKind.SYSTEM, system=system)


class Directory:
    """Looks identities up by id or by (system, login)."""

    def __init__(self, identities: Iterable[Identity] = ()) -> None:
        self._by_id: dict[str, Identity] = {}
        self._by_login: dict[tuple[str, str], Identity] = {}
        for identity in identities:
            self._add(identity)

    def _add(self, identity: Identity) -> None:
        if identity.id in self._by_id:
            raise ConfigurationError(f"identity {identity.id} is listed twice")
        self._by_id[identity.id] = identity
        self._by_login[(HUB_LOGINS, identity.id)] = identity
        for system, login in identity.logins.items():
            key = (system, login.casefold())
            other = self._by_login.get(key)
            if other is not None:
                raise ConfigurationError(
                    f"login {login!r} of {system} belongs to {other.id} and "
                    f"{identity.id}"
                )
            self._by_login[key] = identity

    def get(self, identity_id: str) -> Identity | None:
        """The identity with this id, or None."""
        return self._by_id.get(identity_id)

    def find(self, system: str, login: str) -> Identity | None:
        """The identity using `login` in `system` (`tieline` takes ids), or None."""
        return self._by_login.get((system, login.casefold()))

    def actor(self, system: str, login: str) -> Actor:
        """The actor behind `login` in `system`; an unknown login is refused."""
        identity = self.find(system, login)
        if identity is None:
            raise UnknownLogin(system, login)
        kind = ActorKind(identity.kind.value)
        return Actor(id=identity.id, kind=kind, system=system, login=login)

    def parse(self, who: str) -> Actor:
        """`system:login`, or a bare identity id (as tieline's own login)."""
        system, sep, login = who.partition(":")
        if not sep:
            return self.actor(HUB_LOGINS, who)
        return self.actor(system, login)
