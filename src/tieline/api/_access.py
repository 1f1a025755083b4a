"""Role checks for the routes outside the records, with audited refusals.

The backbone (events, dead letters, webhook endpoints) spans every legal
entity, so its routes need a grant on every entity (`*`): an operator of one
entity would otherwise read another entity's events.
TODO: events, dead letters, endpoints and their messages are not filtered
per legal entity, so an integration operator or auditor granted on one entity
only is refused here; a company that splits operations per entity has to
grant `*`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from tieline.api._auth import ApiContext, client_address
from tieline.api._problems import Problem
from tieline.governance.identities import Principal
from tieline.governance.roles import ALL_ENTITIES, Role, Scope

# Who runs the backbone, and who may only look at it.
BACKBONE_WRITERS = frozenset({Role.INTEGRATION_OPERATOR, Role.ADMIN})
BACKBONE_READERS = BACKBONE_WRITERS | {Role.AUDITOR}


def audit_write(
    context: ApiContext,
    request: Request,
    caller: Principal,
    *,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    """Audit a change the caller made (a route's own transaction has committed)."""
    context.governance.audit.record(
        context.store,
        actor=caller.actor,
        action=action,
        target=target,
        source=client_address(request),
        details=details,
    )


def refuse(
    context: ApiContext,
    request: Request,
    caller: Principal,
    problem: Problem,
    *,
    target: str,
    wanted: str,
) -> Problem:
    """Audit a permission refusal and return the problem to raise."""
    context.governance.audit.record(
        context.store,
        actor=caller.actor,
        action="permission.refused",
        target=target,
        outcome="refused",
        source=client_address(request),
        details={"wanted": wanted, "status": problem.status},
    )
    return problem


def holds(
    caller: Principal, roles: frozenset[Role], scope: Scope, *, everywhere: bool
) -> bool:
    """Whether the caller holds one of `roles` (on `*` if `everywhere`) and `scope`."""
    return scope in caller.scopes and any(
        grant.role in roles
        and (not everywhere or grant.legal_entity_id == ALL_ENTITIES)
        for grant in caller.grants
    )


def require_backbone(
    context: ApiContext,
    request: Request,
    caller: Principal,
    *,
    write: bool,
    target: str,
) -> None:
    """403 (audited) unless the caller may read, or `write`, the backbone."""
    roles = BACKBONE_WRITERS if write else BACKBONE_READERS
    scope = Scope.RECORDS_WRITE if write else Scope.RECORDS_READ
    if holds(caller, roles, scope, everywhere=True):
        return
    wanted = "write" if write else "read"
    names = " or ".join(sorted(role.value for role in roles))
    problem = Problem(
        403,
        f"the backbone's {target} need the {names} role on every legal entity "
        f"and the {scope.value} scope to {wanted}",
    )
    raise refuse(context, request, caller, problem, target=target, wanted=wanted)
