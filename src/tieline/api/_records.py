"""Routes over the canonical records: list, read, create and update.

Every route authenticates, then authorizes per object: a record outside the
caller's grants is answered 404, exactly like one that does not exist, so a
partner cannot learn another's ids by guessing. Writes go through the store
(so each change writes its outbox event) and append their audit entry in
the same transaction; refusals are audited in a transaction of their own.
Updates need `If-Match` with the record's ETag; creates and updates accept
`Idempotency-Key`. Unknown fields are refused, and the server's own fields
(`id`, `version`, `changed_by`, `changed_at`) are not accepted at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from sqlalchemy import Connection, Select, select
from sqlalchemy.exc import IntegrityError

from tieline.api import _idempotency as idempotency
from tieline.api._amounts import check_amounts, check_receipt_amounts
from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._closeout import check_closing
from tieline.api._pagination import Cursor, Sort, keyset
from tieline.api._problems import FieldError, Problem, problem_responses
from tieline.api._references import check_references
from tieline.governance._schema import audit_log
from tieline.governance.audit import AuditedTransaction
from tieline.governance.decisions import (
    WORKFLOWS,
    changed_decision_fields,
    decision_path,
    is_decision,
    owning_system,
)
from tieline.governance.identities import IdentityKind, Principal, utc
from tieline.governance.roles import (
    Action,
    RecordScope,
    Role,
    allowed,
    may_read_kind,
)
from tieline.governance.scope import ScopeResolver, check_partner_submission
from tieline.governance.sensitive import (
    BANK_CHANGE,
    bank_accounts_changed,
    last_bank_change_by,
    masked,
    may_change_bank_accounts,
)
from tieline.model import RECORD_TYPES, CanonicalRecord, Supplier, SupplierStatus
from tieline.store import Action as StoreAction
from tieline.store._schema import records

# Path segment of each kind.
RESOURCES: dict[str, str] = {
    "legal_entity": "legal-entities",
    "project": "projects",
    "cost_code": "cost-codes",
    "cost_code_crosswalk": "cost-code-crosswalks",
    "budget": "budgets",
    "budget_revision": "budget-revisions",
    "supplier": "suppliers",
    "commitment": "commitments",
    "change_order": "change-orders",
    "goods_receipt": "receipts",
    "supplier_invoice": "invoices",
    "progress_claim": "progress-claims",
    "payment": "payments",
}

SERVER_FIELDS = frozenset({"id", "changed_by", "changed_at", "version"})
# Fields the store copies into columns, with the columns' widths; the body
# refuses longer values rather than letting the database fail on them.
COLUMN_IDS = {"legal_entity_id": 36, "project_id": 36}
APPROVAL_FIELDS = frozenset({"status", "status_reason"})
# A list request reads at most this many rows to fill a page for a caller who
# may see few of them; the page then comes back short, with a cursor.
# TODO: authorization filters rows in Python after the query, because the
# scope of claims, change orders and receipts lives on their commitment; a
# partner with 1 record in 100,000 pages through 50 short pages. Denormalised
# supplier and entity columns on `records` would let SQL filter instead.
SCAN_LIMIT = 2000
_BATCH = 200

RecordId = Annotated[str, Path(min_length=1, max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class Refused(Exception):
    """A permission refusal found inside a write's transaction."""

    def __init__(self, problem: Problem, target: str, wanted: str) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.target = target
        self.wanted = wanted


class OriginInput(BaseModel):
    """Which system a record comes from, and that system's key for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=200)


@cache
def input_model(cls: type[CanonicalRecord]) -> type[BaseModel]:
    """The body a client sends: the record without the server's fields."""
    fields: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name in SERVER_FIELDS:
            continue
        annotation: Any = info.annotation
        if name == "origin":
            annotation = OriginInput
        elif name in COLUMN_IDS:
            annotation = Annotated[annotation, Field(max_length=COLUMN_IDS[name])]
        fields[name] = (annotation, info)
    model: type[BaseModel] = create_model(
        f"{cls.__name__}Input",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"A {cls.kind.replace('_', ' ')} as a client writes it.",
        **fields,
    )
    return model


@cache
def page_model(cls: type[CanonicalRecord]) -> type[BaseModel]:
    """One page of a list: the records and the cursor of the next page."""
    model: type[BaseModel] = create_model(
        f"{cls.__name__}Page",
        items=(list[cls], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, None),
    )
    return model


def etag(record: CanonicalRecord) -> str:
    """The record's entity tag: its version, which every change bumps."""
    return f'"v{record.version}"'


def _record_response(record: CanonicalRecord, status: int = 200) -> JSONResponse:
    return JSONResponse(
        record.model_dump(mode="json"),
        status_code=status,
        headers={"ETag": etag(record)},
    )


def _audit_refusal(
    context: ApiContext, request: Request, caller: Principal, refused: Refused
) -> Problem:
    context.governance.audit.record(
        context.store,
        actor=caller.actor,
        action="permission.refused",
        target=refused.target,
        outcome="refused",
        source=client_address(request),
        details={"wanted": refused.wanted, "status": refused.problem.status},
    )
    return refused.problem


def _hidden(kind: str, record_id: str) -> Problem:
    return Problem(404, f"no {kind.replace('_', ' ')} {record_id}")


def _check_kind(
    context: ApiContext, request: Request, caller: Principal, kind: str
) -> None:
    if not may_read_kind(caller.grants, caller.scopes, kind):
        refused = Refused(
            Problem(
                403, f"your roles do not include reading {kind.replace('_', ' ')}s"
            ),
            kind,
            "read",
        )
        raise _audit_refusal(context, request, caller, refused)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list request's filters, order and page."""

    limit: int
    cursor: str | None
    sort: Sort
    filters: dict[str, str | None]
    changed_since: datetime | None


def _base_query(kind: str, query: ListQuery) -> Select[Any]:
    base = select(records).where(records.c.kind == kind)
    for name, value in query.filters.items():
        if value is not None:
            base = base.where(records.c[name] == value)
    if query.changed_since is not None:
        since = query.changed_since
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
        base = base.where(records.c.changed_at >= since.astimezone(UTC))
    return base


def _to_record(cls: type[CanonicalRecord], row: Any) -> CanonicalRecord:
    return cls.model_validate(
        dict(
            row.data,
            changed_by=row.changed_by,
            changed_at=utc(row.changed_at),
            version=row.version,
        )
    )


def _scan(
    connection: Any, base: Select[Any], sort: Sort, cursor: Cursor | None
) -> Iterator[Any]:
    column = records.c[sort.column_name]
    while True:
        rows = connection.execute(
            keyset(base, sort, column, records.c.id, cursor).limit(_BATCH)
        ).all()
        yield from rows
        if len(rows) < _BATCH:
            return
        last = rows[-1]
        cursor = Cursor(sort, getattr(last, sort.column_name), last.id)


def list_records(
    context: ApiContext,
    request: Request,
    caller: Principal,
    cls: type[CanonicalRecord],
    query: ListQuery,
) -> JSONResponse:
    """One page of the records of `cls` the caller may read."""
    _check_kind(context, request, caller, cls.kind)
    cursor = Cursor.decode(query.cursor, query.sort) if query.cursor else None
    items: list[dict[str, Any]] = []
    last: Any = None
    more = False
    with context.store.read() as tx:
        resolver = ScopeResolver(tx)
        for scanned, row in enumerate(
            _scan(tx.connection, _base_query(cls.kind, query), query.sort, cursor), 1
        ):
            last = row
            record = _to_record(cls, row)
            if _may(caller, cls.kind, Action.READ, resolver.of(record)):
                items.append(record.model_dump(mode="json"))
            if len(items) == query.limit or scanned >= SCAN_LIMIT:
                more = True
                break
    next_cursor = (
        Cursor(query.sort, getattr(last, query.sort.column_name), last.id).encode()
        if more
        else None
    )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


def _may(caller: Principal, kind: str, action: Action, scope: RecordScope) -> bool:
    return allowed(caller.grants, caller.scopes, kind, action, scope)


def _not_modified(if_none_match: str | None, record: CanonicalRecord) -> bool:
    """Whether `If-None-Match` names the record's current ETag (or is `*`).

    RFC 9110 section 13.1.2: the comparison is weak, so `W/"v3"` matches.
    """
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag(record) in tags


def read_record(
    context: ApiContext,
    request: Request,
    caller: Principal,
    cls: type[CanonicalRecord],
    record_id: str,
    if_none_match: str | None = None,
) -> Response:
    """One record, with its ETag; 304 if the caller has it; 404 when out of reach."""
    _check_kind(context, request, caller, cls.kind)
    with context.store.read() as tx:
        record = tx.get(cls, record_id)
        visible = record is not None and _may(
            caller, cls.kind, Action.READ, ScopeResolver(tx).of(record)
        )
    if record is None:
        raise _hidden(cls.kind, record_id)
    if not visible:
        refused = Refused(_hidden(cls.kind, record_id), record.subject, "read")
        raise _audit_refusal(context, request, caller, refused)
    if _not_modified(if_none_match, record):
        return Response(status_code=304, headers={"ETag": etag(record)})
    return _record_response(record)


def _build(cls: type[CanonicalRecord], body: BaseModel) -> CanonicalRecord:
    # The body model checks field shapes; rules across fields (a merged
    # supplier names what it merged into) live on the record itself, so its
    # refusal is the client's 422, not a server error.
    try:
        return cls.model_validate(body.model_dump())
    except ValidationError as err:
        raise RequestValidationError(
            [
                {"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in err.errors(include_url=False)
            ]
        ) from err


@dataclass(frozen=True, slots=True)
class Write:
    """A write request: who, what body, which key."""

    context: ApiContext
    request: Request
    caller: Principal
    payload: Any
    idempotency_key: str | None


def run_write(
    write: Write, work: Callable[[AuditedTransaction], idempotency.StoredAnswer]
) -> JSONResponse:
    """Run `work` in one audited transaction, with its idempotency key.

    A concurrent request with the same key loses on the key's primary key;
    it is run again once and then finds the first answer.
    """
    key = (
        idempotency.check_key(write.idempotency_key) if write.idempotency_key else None
    )
    fingerprint = idempotency.request_hash(
        write.request.method, write.request.url.path, write.payload
    )
    for attempt in (1, 2):
        try:
            return _attempt(write, work, key, fingerprint)
        except IntegrityError as err:
            if attempt == 2:
                raise Problem(409, "a concurrent request changed this record") from err
        except Problem as problem:
            # A twin with the same key may have committed after our lookup;
            # the second attempt then finds its answer instead of a conflict.
            if key is None or problem.status != 409 or attempt == 2:
                raise
        except Refused as refused:
            raise _audit_refusal(
                write.context, write.request, write.caller, refused
            ) from None
    raise AssertionError("unreachable")


def _attempt(
    write: Write,
    work: Callable[[AuditedTransaction], idempotency.StoredAnswer],
    key: str | None,
    fingerprint: str,
) -> JSONResponse:
    identity = write.caller.identity.id
    with write.context.governance.audit.transaction(write.context.store) as audited:
        connection = audited.transaction.connection
        if key is not None:
            stored = idempotency.lookup(connection, identity, key, fingerprint)
            if stored is not None:
                return stored.response()
        answer = work(audited)
        if key is not None:
            idempotency.remember(connection, identity, key, fingerprint, answer)
    return JSONResponse(
        answer.body, status_code=answer.status_code, headers=answer.headers
    )


def _is_partner_only(
    caller: Principal, kind: str, action: Action, scope: RecordScope
) -> bool:
    others = tuple(g for g in caller.grants if g.role is not Role.PARTNER)
    return not allowed(others, caller.scopes, kind, action, scope)


def create_record(
    write: Write, cls: type[CanonicalRecord], body: BaseModel, segment: str
) -> JSONResponse:
    """Create a record; 409 if its origin already has one."""
    record = _build(cls, body)
    caller = write.caller

    def work(audited: AuditedTransaction) -> idempotency.StoredAnswer:
        tx = audited.transaction
        scope = ScopeResolver(tx).of(record)
        if not _may(caller, cls.kind, Action.CREATE, scope):
            raise Refused(
                Problem(403, f"you may not create this {cls.kind.replace('_', ' ')}"),
                record.subject,
                "create",
            )
        if _is_partner_only(caller, cls.kind, Action.CREATE, scope):
            check_partner_submission(caller.identity.name, record)
        if not _owns(caller, scope, record):
            if is_decision(cls.kind, record.status_value):
                raise _decision_refused(record, "is not created with it")
            _check_decision_fields(None, record)
        check_references(tx, record)
        check_amounts(record, None)
        check_receipt_amounts(tx, record, None)
        if tx.get(cls, record.id) is not None:
            raise Problem(
                409,
                f"{record.subject} exists for this origin; update it with PUT",
                errors=[FieldError(field="origin", message="already used")],
            )
        saved = _sensitive(tx.connection, caller, None, record, scope)
        change = tx.save(saved, actor=caller.actor)
        _audit_change(write, audited, change.record, "created", {})
        _audit_bank_change(write, audited, None, change.record)
        return idempotency.StoredAnswer(
            201,
            change.record.model_dump(mode="json"),
            {"ETag": etag(change.record), "Location": f"/v1/{segment}/{record.id}"},
        )

    return run_write(write, work)


def _audit_change(
    write: Write,
    audited: AuditedTransaction,
    record: CanonicalRecord,
    what: str,
    details: dict[str, Any],
) -> None:
    audited.record(
        actor=write.caller.actor,
        action=f"record.{what}",
        target=record.subject,
        source=client_address(write.request),
        details={"version": record.version, **details},
    )


def _matches(if_match: str | None, current: CanonicalRecord) -> None:
    if if_match is None:
        raise Problem(
            428,
            "send If-Match with the ETag you read, so no change is overwritten unseen",
            errors=[FieldError(field="If-Match", message="required")],
        )
    wanted = {tag.strip() for tag in if_match.split(",")}
    # RFC 9110 section 13.1.1: "*" matches any current representation.
    if "*" not in wanted and etag(current) not in wanted:
        raise Problem(
            412,
            f"the record changed since you read it (now {etag(current)})",
            errors=[FieldError(field="If-Match", message="stale")],
        )


def _status_only(current: CanonicalRecord, new: CanonicalRecord) -> bool:
    before = {k: v for k, v in current.content().items() if k not in APPROVAL_FIELDS}
    after = {k: v for k, v in new.content().items() if k not in APPROVAL_FIELDS}
    return before == after


def _owns(caller: Principal, scope: RecordScope, record: CanonicalRecord) -> bool:
    # The write scope is checked with the create or update the write is; an
    # update cannot change the origin (the id is made from it).
    return owning_system(
        caller.grants,
        scope,
        service=caller.identity.kind is IdentityKind.SERVICE,
        caller=caller.identity.name,
        origin=record.origin.system,
    )


def _owner_note(record: CanonicalRecord) -> str:
    return (
        f"only the integration of its origin system ({record.origin.system}) "
        "writes it directly"
    )


def _check_decision_fields(
    current: CanonicalRecord | None, new: CanonicalRecord
) -> None:
    """Refuse setting or changing a field that is a decision (see decisions)."""
    before = current.content() if current is not None else None
    changed = changed_decision_fields(new.kind, before, new.content())
    if not changed:
        return
    field = changed[0]
    label = new.kind.replace("_", " ")
    message = f"{field} is a decision on a {label}, not a field to write"
    raise Refused(
        Problem(
            403,
            f"{message}; {decision_path(new.kind, new.id, field)}; {_owner_note(new)}",
            slug="decision-refused",
            errors=[FieldError(field=field, message=message)],
        ),
        new.subject,
        "decide",
    )


def _decision_refused(record: CanonicalRecord, what: str) -> Refused:
    status = record.status_value
    label = record.kind.replace("_", " ")
    message = f"{status} is a decision: a {label} {what}"
    return Refused(
        Problem(
            403,
            f"status {message}; {decision_path(record.kind, record.id)}; "
            f"{_owner_note(record)}",
            slug="decision-refused",
            errors=[FieldError(field="status", message=message)],
        ),
        record.subject,
        "decide",
    )


def _made_by(connection: Connection, record: CanonicalRecord, actor: str) -> bool:
    """Whether `actor` made or changed any version of `record`.

    The last change's author is on the record; earlier versions made through
    the API are in the audit log.
    TODO: the audit log has no index on `target`, so this reads it whole;
    approvals are rare, but a log of millions of entries wants the index.
    """
    if record.changed_by == actor:
        return True
    found = connection.execute(
        select(audit_log.c.seq)
        .where(
            audit_log.c.target == record.subject,
            audit_log.c.actor == actor,
            audit_log.c.action.in_(("record.created", "record.updated")),
        )
        .limit(1)
    ).first()
    return found is not None


def _approval(
    connection: Connection, caller: Principal, current: CanonicalRecord
) -> str:
    """'approved', or Refused: the approver never made or changed the record."""
    if _made_by(connection, current, caller.actor):
        raise Refused(
            Problem(
                403,
                "segregation of duties: you made or changed this record, so "
                "another person must approve it",
                slug="segregation-of-duties",
            ),
            current.subject,
            "approve",
        )
    return "approved"


def _decide(
    connection: Connection,
    caller: Principal,
    current: CanonicalRecord,
    new: CanonicalRecord,
    scopes: tuple[RecordScope, RecordScope],
) -> str:
    """An update that reaches or leaves a decision: the kind's one path."""
    kind = current.kind
    if all(
        _owns(caller, scope, current) and _may(caller, kind, Action.UPDATE, scope)
        for scope in scopes
    ):
        return "updated"
    decided = new if is_decision(new.kind, new.status_value) else current
    if kind in WORKFLOWS:
        raise _decision_refused(decided, "reaches it through its workflow")
    if not (
        _status_only(current, new) and _may(caller, kind, Action.APPROVE, scopes[0])
    ):
        raise _decision_refused(decided, "changes only by its approval")
    return _approval(connection, caller, current)


def _update_kind(
    connection: Connection,
    caller: Principal,
    current: CanonicalRecord,
    new: CanonicalRecord,
    scopes: tuple[RecordScope, RecordScope],
) -> str:
    """'updated' or 'approved', or Refused; approval is a status-only change.

    Decisions (see `tieline.governance.decisions`) take their kind's one
    path; other statuses are set by whoever may update the record, or by an
    approver changing the status alone.
    """
    kind = current.kind
    if not all(_owns(caller, scope, current) for scope in scopes):
        _check_decision_fields(current, new)
    if is_decision(kind, current.status_value) or is_decision(kind, new.status_value):
        return _decide(connection, caller, current, new, scopes)
    if all(_may(caller, kind, Action.UPDATE, scope) for scope in scopes):
        return "updated"
    if _status_only(current, new) and _may(caller, kind, Action.APPROVE, scopes[0]):
        return _approval(connection, caller, current)
    raise Refused(
        Problem(403, f"you may not change this {kind.replace('_', ' ')}"),
        current.subject,
        "update",
    )


def _sensitive(
    connection: Connection,
    caller: Principal,
    current: CanonicalRecord | None,
    new: CanonicalRecord,
    scope: RecordScope,
) -> CanonicalRecord:
    """The record to save under the rules of `tieline.governance.sensitive`."""
    if not isinstance(new, Supplier):
        return new
    before = current if isinstance(current, Supplier) else None
    if bank_accounts_changed(before, new):
        if not may_change_bank_accounts(caller.grants):
            raise Refused(
                Problem(
                    403,
                    "a supplier's bank accounts are changed only by an integration "
                    "operator or an admin granted on every legal entity, never by "
                    "a buyer",
                    errors=[FieldError(field="bank_accounts", message="sensitive")],
                ),
                new.subject,
                "change bank accounts",
            )
        if new.status is SupplierStatus.ACTIVE and not _owns(caller, scope, new):
            return new.model_copy(update={"status": SupplierStatus.PENDING})
        return new
    activates = (
        before is not None
        and before.status is SupplierStatus.PENDING
        and new.status is SupplierStatus.ACTIVE
    )
    if activates and last_bank_change_by(connection, new.subject) == caller.actor:
        raise Refused(
            Problem(
                403,
                "segregation of duties: you changed this supplier's bank accounts, "
                "so another person must check them and make it active",
                slug="segregation-of-duties",
                errors=[FieldError(field="status", message="your own bank change")],
            ),
            new.subject,
            "activate",
        )
    return new


def _audit_bank_change(
    write: Write,
    audited: AuditedTransaction,
    current: CanonicalRecord | None,
    saved: CanonicalRecord,
) -> None:
    before = current if isinstance(current, Supplier) else None
    if not isinstance(saved, Supplier) or not bank_accounts_changed(before, saved):
        return
    audited.record(
        actor=write.caller.actor,
        action=BANK_CHANGE,
        target=saved.subject,
        source=client_address(write.request),
        details={
            "before": masked(before.bank_accounts if before is not None else []),
            "after": masked(saved.bank_accounts),
            "status": saved.status.value,
        },
    )


def update_record(
    write: Write,
    cls: type[CanonicalRecord],
    record_id: str,
    body: BaseModel,
    if_match: str | None,
) -> JSONResponse:
    """Replace a record's content, guarded by If-Match."""
    new = _build(cls, body)
    caller = write.caller

    def work(audited: AuditedTransaction) -> idempotency.StoredAnswer:
        tx = audited.transaction
        # Lock the row so that two updates with the same ETag cannot both pass.
        tx.connection.execute(
            select(records.c.version)
            .where(records.c.id == record_id, records.c.kind == cls.kind)
            .with_for_update()
        )
        current = tx.get(cls, record_id)
        resolver = ScopeResolver(tx)
        if current is None:
            raise _hidden(cls.kind, record_id)
        old_scope = resolver.of(current)
        if not _may(caller, cls.kind, Action.READ, old_scope):
            raise Refused(_hidden(cls.kind, record_id), current.subject, "update")
        _matches(if_match, current)
        if new.id != record_id:
            raise Problem(
                422,
                "origin cannot change: it is what the record's id is made from",
                errors=[
                    FieldError(field="origin", message="differs from the record's")
                ],
            )
        what = _update_kind(
            tx.connection, caller, current, new, (old_scope, resolver.of(new))
        )
        check_references(tx, new, current)
        check_amounts(new, current)
        check_receipt_amounts(tx, new, current)
        check_closing(tx, current, new)
        saved = _sensitive(tx.connection, caller, current, new, old_scope)
        change = tx.save(saved, actor=caller.actor)
        if change.action is not StoreAction.UNCHANGED:
            _audit_change(
                write,
                audited,
                change.record,
                what,
                {"status": change.record.status_value},
            )
            _audit_bank_change(write, audited, current, change.record)
        stored = (
            change.record if change.action is not StoreAction.UNCHANGED else current
        )
        return idempotency.StoredAnswer(
            200, stored.model_dump(mode="json"), {"ETag": etag(stored)}
        )

    return run_write(write, work)


def add_resource(router: APIRouter, cls: type[CanonicalRecord], segment: str) -> None:
    """The four routes of one kind of record."""
    body_model = input_model(cls)
    label = cls.kind.replace("_", " ")
    common: dict[str, Any] = {"tags": [segment]}

    def list_route(
        request: Request,
        caller: Caller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        sort: Sort = Sort.CREATED,
        status: Annotated[str | None, Query(max_length=40)] = None,
        project_id: Annotated[str | None, Query(max_length=64)] = None,
        legal_entity_id: Annotated[str | None, Query(max_length=64)] = None,
        source_system: Annotated[str | None, Query(max_length=100)] = None,
        changed_since: datetime | None = None,
    ) -> JSONResponse:
        filters = {
            "status": status,
            "project_id": project_id,
            "legal_entity_id": legal_entity_id,
            "source_system": source_system,
        }
        query = ListQuery(limit, cursor, sort, filters, changed_since)
        return list_records(api_context(request), request, caller, cls, query)

    def read_route(
        request: Request,
        caller: Caller,
        record_id: RecordId,
        if_none_match: Annotated[
            str | None, Header(alias="If-None-Match", max_length=500)
        ] = None,
    ) -> Response:
        return read_record(
            api_context(request), request, caller, cls, record_id, if_none_match
        )

    def create_route(
        request: Request,
        caller: Caller,
        body: Any,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        write = Write(
            api_context(request),
            request,
            caller,
            body.model_dump(mode="json"),
            idempotency_key,
        )
        return create_record(write, cls, body, segment)

    def update_route(
        request: Request,
        caller: Caller,
        record_id: RecordId,
        body: Any,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        write = Write(
            api_context(request),
            request,
            caller,
            body.model_dump(mode="json"),
            idempotency_key,
        )
        return update_record(write, cls, record_id, body, if_match)

    # The body's type is built at run time, so it is set after definition.
    create_route.__annotations__["body"] = body_model
    update_route.__annotations__["body"] = body_model
    router.add_api_route(
        f"/{segment}",
        list_route,
        methods=["GET"],
        response_model=page_model(cls),
        summary=f"List {label}s",
        operation_id=f"list_{cls.kind}",
        responses=problem_responses(400, 401, 403, 422, 429),
        **common,
    )
    router.add_api_route(
        f"/{segment}",
        create_route,
        methods=["POST"],
        response_model=cls,
        status_code=201,
        summary=f"Create a {label}",
        operation_id=f"create_{cls.kind}",
        responses=problem_responses(400, 401, 403, 409, 413, 422, 429),
        **common,
    )
    router.add_api_route(
        f"/{segment}/{{record_id}}",
        read_route,
        methods=["GET"],
        response_model=cls,
        summary=f"Read a {label}",
        operation_id=f"read_{cls.kind}",
        responses={
            304: {"description": "Not modified: If-None-Match names its ETag"},
            **problem_responses(401, 403, 404, 422, 429),
        },
        **common,
    )
    router.add_api_route(
        f"/{segment}/{{record_id}}",
        update_route,
        methods=["PUT"],
        response_model=cls,
        summary=f"Update a {label}",
        operation_id=f"update_{cls.kind}",
        responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428, 429),
        **common,
    )


def records_router() -> APIRouter:
    """Routes for every kind of canonical record, under /v1."""
    router = APIRouter(prefix="/v1")
    for kind, segment in RESOURCES.items():
        add_resource(router, RECORD_TYPES[kind], segment)
    return router
