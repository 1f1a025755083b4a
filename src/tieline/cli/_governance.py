"""`tieline audit ...` and `tieline identity ...`: governance from the shell.

Every change made here is written to the audit log as the operating-system
user who ran it (`cli:<user>`), like any change made through the API.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tieline.governance.roles import Role
    from tieline.governance.runtime import Governance
    from tieline.store import Store

audit_app = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)
identity_app = typer.Typer(
    help="Identities, API keys and role grants.", no_args_is_help=True
)

EXIT_TAMPERED = 2


def _open() -> tuple[Store, Governance]:
    from tieline.cli._app import _settings
    from tieline.cli._commands import open_store
    from tieline.governance.runtime import build_governance

    settings = _settings()
    return open_store(settings), build_governance(settings)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _echo(text: str) -> None:
    from tieline.cli._console import console

    console.print(text, markup=False, highlight=False)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the chain and its anchor (exit 0 intact, 2 naming the first bad entry)."""
    store, governance = _open()
    try:
        with store.transaction() as tx:
            result = governance.audit.verify(tx.connection)
    finally:
        store.close()
    if result.intact:
        anchored = "anchored" if result.anchored else "no anchor"
        _echo(
            f"audit log intact: {result.entries} entries, head {result.head} "
            f"({anchored})"
        )
        return
    _echo(f"audit log broken at entry {result.first_bad}: {result.problem}")
    raise typer.Exit(EXIT_TAMPERED)


@audit_app.command("export")
def audit_export(
    output: Annotated[
        Path | None, typer.Option(help="File to write; standard output if omitted.")
    ] = None,
) -> None:
    """Write every entry as JSON lines, macs included, for auditors."""
    store, governance = _open()
    try:
        with store.transaction() as tx:
            lines = [
                json.dumps(entry.to_dict(), sort_keys=True)
                for entry in governance.audit.entries(tx.connection)
            ]
        governance.audit.record(
            store,
            actor=_actor(),
            action="audit.exported",
            target="audit_log",
            details={"entries": len(lines)},
        )
    finally:
        store.close()
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        _echo(f"exported {len(lines)} entries to {output}")


def _change(action: str, target: str, work: Any, **details: Any) -> Any:
    """Run `work(connection)` and audit it, in one transaction.

    A rule the change breaks is the user's error: one line, its reason.
    """
    from tieline.cli._app import CommandError
    from tieline.errors import ValidationFailed

    store, governance = _open()
    try:
        with governance.audit.transaction(store) as audited:
            result = work(audited.transaction.connection)
            audited.record(
                actor=_actor(), action=action, target=target, details=details
            )
        return result
    except ValidationFailed as err:
        raise CommandError(err.reason) from err
    finally:
        store.close()


def _role(value: str) -> Role:
    from tieline.cli._app import CommandError
    from tieline.governance.roles import Role

    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(sorted(role.value for role in Role))
        raise CommandError(f"unknown role {value!r}; the roles are {roles}") from None


def _entity(value: str) -> tuple[str, str]:
    """The legal entity id that `value` (an id, a code or '*') names, and a label."""
    from tieline.cli._app import CommandError
    from tieline.governance.identities import find_legal_entity
    from tieline.governance.roles import ALL_ENTITIES

    if value == ALL_ENTITIES:
        return value, value
    store, _ = _open()
    try:
        with store.transaction() as tx:
            entity = find_legal_entity(tx.connection, value)
    finally:
        store.close()
    if entity is None:
        raise CommandError(
            f"no legal entity with id or code {value!r}; give one, or '*' for all"
        )
    return entity.id, f"{entity.id} ({entity.code})"


def _identity(connection: Any, name: str) -> Any:
    from tieline.cli._app import CommandError
    from tieline.governance.identities import find_identity

    identity = find_identity(connection, name)
    if identity is None:
        raise CommandError(f"no identity named {name!r}")
    return identity


@identity_app.command("add-service")
def add_service(name: str) -> None:
    """Register a service identity (it can do nothing until granted a role)."""
    from tieline.governance.identities import IdentityKind, create_identity

    identity = _change(
        "identity.created",
        f"identity/{name}",
        lambda c: create_identity(c, IdentityKind.SERVICE, name),
        kind="service",
    )
    _echo(f"service {identity.name}: {identity.id}")


@identity_app.command("add-human")
def add_human(
    name: str,
    issuer: Annotated[str, typer.Option(help="The identity provider's issuer.")],
    subject: Annotated[str, typer.Option(help="The person's subject there.")],
) -> None:
    """Register a person who signs in through the identity provider."""
    from tieline.governance.identities import IdentityKind, create_identity

    identity = _change(
        "identity.created",
        f"identity/{name}",
        lambda c: create_identity(
            c, IdentityKind.HUMAN, name, issuer=issuer, subject=subject
        ),
        kind="human",
    )
    _echo(f"human {identity.name}: {identity.id}")


@identity_app.command("grant")
def grant(
    name: str,
    role: str,
    entity: Annotated[
        str, typer.Option(help="Legal entity id or code, or '*' for all.")
    ],
    supplier: Annotated[
        str | None, typer.Option(help="The supplier a partner acts for (its id).")
    ] = None,
) -> None:
    """Give an identity a role in one legal entity (its id or code, or '*')."""
    from tieline.governance.identities import grant_role

    chosen = _role(role)
    entity_id, label = _entity(entity)
    _change(
        "role.granted",
        f"identity/{name}",
        lambda c: grant_role(
            c,
            _identity(c, name),
            chosen,
            legal_entity_id=entity_id,
            supplier_id=supplier,
            granted_by=_actor(),
        ),
        role=role,
        legal_entity_id=entity_id,
        supplier_id=supplier,
    )
    _echo(f"granted {role} in {label} to {name}")


@identity_app.command("issue-key")
def issue_key(
    name: str,
    scope: Annotated[list[str], typer.Option(help="records:read, records:write, ...")],
    days: Annotated[
        int, typer.Option(help="Days until the key expires (1 to 366).")
    ] = 90,
) -> None:
    """Issue an API key; the key is printed once and never again."""
    from tieline.cli._app import CommandError
    from tieline.governance.identities import MAX_KEY_DAYS, issue_api_key

    if not 1 <= days <= MAX_KEY_DAYS:
        raise CommandError(
            f"a key lives from 1 to {MAX_KEY_DAYS} days; --days {days} is outside"
        )
    issued = _change(
        "api_key.issued",
        f"identity/{name}",
        lambda c: issue_api_key(
            c, _identity(c, name), scopes=scope, lifetime=timedelta(days=days)
        ),
        scopes=scope,
    )
    _echo(f"key {issued.key_id}, expires {issued.expires_at:%Y-%m-%d}")
    _echo(issued.token)


@identity_app.command("rotate-key")
def rotate_key(
    key_id: str,
    overlap_hours: Annotated[
        int, typer.Option(help="Hours the old key keeps working.")
    ] = 24,
) -> None:
    """Issue a successor key; the old one works for the overlap, then stops."""
    from tieline.governance.identities import rotate_api_key

    issued = _change(
        "api_key.rotated",
        f"api_key/{key_id}",
        lambda c: rotate_api_key(c, key_id, overlap=timedelta(hours=overlap_hours)),
        overlap_hours=overlap_hours,
    )
    _echo(f"key {issued.key_id} replaces {key_id}")
    _echo(issued.token)


@identity_app.command("revoke-key")
def revoke_key(key_id: str) -> None:
    """Stop a key at once."""
    from tieline.cli._app import CommandError
    from tieline.governance.identities import revoke_api_key

    if not _change(
        "api_key.revoked", f"api_key/{key_id}", lambda c: revoke_api_key(c, key_id)
    ):
        raise CommandError(f"no live key {key_id}")
    _echo(f"revoked {key_id}")


@identity_app.command("revoke")
def revoke(
    name: str,
    role: str,
    entity: Annotated[
        str, typer.Option(help="Legal entity id or code, or '*' for all.")
    ],
    supplier: Annotated[
        str | None, typer.Option(help="The supplier of a partner grant.")
    ] = None,
) -> None:
    """Take a role back from an identity."""
    from tieline.cli._app import CommandError
    from tieline.governance.identities import revoke_role
    from tieline.governance.roles import Grant

    chosen = _role(role)
    # An entity since removed keeps its grants revocable by the id held.
    with contextlib.suppress(CommandError):
        entity, _ = _entity(entity)
    taken = _change(
        "role.revoked",
        f"identity/{name}",
        lambda c: revoke_role(c, _identity(c, name), Grant(chosen, entity, supplier)),
        role=role,
        legal_entity_id=entity,
        supplier_id=supplier,
    )
    if not taken:
        raise CommandError(f"{name} holds no {role} grant in {entity}")
    _echo(f"revoked {role} in {entity} from {name}")


@identity_app.command("disable")
def disable(name: str) -> None:
    """Stop an identity: every key and token it holds fails from now on."""
    from tieline.governance.identities import disable_identity

    _change(
        "identity.disabled",
        f"identity/{name}",
        lambda c: disable_identity(c, _identity(c, name).id),
    )
    _echo(f"disabled {name}")


@identity_app.command("list")
def list_() -> None:
    """Every identity with its kind, state and grants."""
    from tieline.governance.identities import grants_of, list_identities

    store, _ = _open()
    try:
        with store.transaction() as tx:
            rows = [
                (identity, grants_of(tx.connection, identity.id))
                for identity in list_identities(tx.connection)
            ]
    finally:
        store.close()
    for identity, grants in rows:
        state = "disabled" if identity.disabled else "active"
        held = ", ".join(
            f"{g.role.value}@{g.legal_entity_id}"
            + (f" for {g.supplier_id}" if g.supplier_id else "")
            for g in grants
        )
        _echo(f"{identity.name}  {identity.kind.value}  {state}  {held or '-'}")
