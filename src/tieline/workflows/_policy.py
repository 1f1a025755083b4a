"""Approval policies, tolerances and SLA targets: configuration, not code.

The policy file is TOML. Rules are tried in file order and the first rule
whose every filter matches a document decides who approves it; `*` (the
default) matches anything. Amount bands include `min_amount` and exclude
`max_amount`, so bands 0-10000 and 10000-50000 meet without overlap.

    [[identity]]                      # a person is one identity across systems
    id = "p.jones"
    kind = "person"                   # or "service": can never approve
    logins = { odoo = "pjones", procore = "p.jones@example.com" }

    [[rule]]
    name = "site-small-orders"
    document = "requisition"          # see DocumentType
    legal_entity = "ACME-US"          # legal entity code
    project = "*"                     # project code
    contract_type = "purchase_order"  # purchase_order or subcontract
    min_amount = "0"
    max_amount = "10000"
    approvers = ["p.jones"]
    escalate_to = "p.director"        # owns the exception when the SLA breaks

    [[delegation]]                    # p.jones away: p.smith decides for her
    person = "p.jones"
    delegate = "p.smith"
    starts = 2026-01-05
    ends = 2026-01-16                 # inclusive

    [tolerance.default]               # stated defaults, when not configured:
    quantity_percent = "0"            #   no quantity may be billed unreceived
    price_percent = "2"               #   unit price within 2% of the order's
    [tolerance."ACME-UK"]             # per legal entity code
    price_percent = "1"

    [sla]                             # hours per step; defaults in SLA_DEFAULTS
    requisition_approval = 48
    [exceptions]
    default_owner = "p.controller"    # owns breaches no rule names an owner for
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tieline.errors import ConfigurationError
from tieline.money import DecimalStr
from tieline.workflows._errors import NoApprovalRule
from tieline.workflows._identity import Directory, Identity, IdentityKind


class DocumentType(enum.StrEnum):
    """What a rule approves."""

    REQUISITION = "requisition"
    SUPPLIER_INVOICE = "supplier_invoice"
    PROGRESS_CLAIM = "progress_claim"
    BUDGET_REVISION = "budget_revision"
    CHANGE_ORDER = "change_order"
    PAYMENT_RELEASE = "payment_release"
    RETENTION_RELEASE = "retention_release"
    PROJECT_CLOSEOUT = "project_closeout"


# Target time per step, in hours, when the policy file does not set one.
SLA_DEFAULTS: Final[Mapping[str, int]] = {
    "requisition_approval": 48,
    "order_dispatch": 24,
    "invoice_approval": 72,
    "payment_readiness": 120,
    "claim_certification": 120,
    "change_approval": 72,
}

ANY: Final = "*"


class Tolerance(BaseModel):
    """How far an invoice line may differ from its order and receipt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quantity_percent: DecimalStr = Decimal(0)
    price_percent: DecimalStr = Decimal(2)


class ApprovalRule(BaseModel):
    """Who approves which documents, and who owns them when late."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    document: DocumentType
    legal_entity: str = ANY
    project: str = ANY
    contract_type: str = ANY
    min_amount: DecimalStr = Decimal(0)
    max_amount: DecimalStr | None = None
    approvers: tuple[str, ...] = Field(min_length=1)
    escalate_to: str | None = None

    def matches(self, subject: Subject) -> bool:
        """Whether every filter of the rule covers `subject`."""
        return (
            self.document is subject.document
            and self.legal_entity in (ANY, subject.legal_entity)
            and self.project in (ANY, subject.project)
            and self.contract_type in (ANY, subject.contract_type)
            and self.min_amount <= subject.amount
            and (self.max_amount is None or subject.amount < self.max_amount)
        )


class Delegation(BaseModel):
    """`delegate` decides for `person` from `starts` to `ends`, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person: str
    delegate: str
    starts: date
    ends: date


@dataclass(frozen=True, slots=True)
class Subject:
    """What the policy is asked about: one document awaiting a decision."""

    document: DocumentType
    legal_entity: str
    project: str
    amount: Decimal
    contract_type: str = ""

    def __str__(self) -> str:
        return (
            f"{self.document.value} of {self.amount} for legal entity "
            f"{self.legal_entity}, project {self.project}"
            + (f", {self.contract_type}" if self.contract_type else "")
        )


@dataclass(frozen=True, slots=True)
class Assignee:
    """A person assigned to decide, and why (the rule, or a delegation)."""

    person: str
    reason: str


@dataclass(frozen=True)
class PolicySet:
    """The whole policy file, checked: identities, rules, tolerances, SLAs."""

    directory: Directory
    rules: tuple[ApprovalRule, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    sla_hours: Mapping[str, int] = field(default_factory=lambda: dict(SLA_DEFAULTS))
    default_owner: str = "unassigned"

    def rule_for(self, subject: Subject) -> ApprovalRule:
        """The first rule covering `subject`; none is a configuration gap."""
        for rule in self.rules:
            if rule.matches(subject):
                return rule
        raise NoApprovalRule(str(subject))

    def assignees(self, rule: ApprovalRule, on: date) -> list[Assignee]:
        """The rule's approvers, and the delegates of those away on `on`."""
        found = [
            Assignee(p, f"approver under rule {rule.name}") for p in rule.approvers
        ]
        for delegation in self.delegations:
            away = delegation.starts <= on <= delegation.ends
            if away and delegation.person in rule.approvers:
                reason = f"delegate of {delegation.person} under rule {rule.name}"
                found.append(Assignee(delegation.delegate, reason))
        return found

    def tolerance(self, legal_entity: str) -> Tolerance:
        """The match tolerance of a legal entity (by code), else the default."""
        return self.tolerances.get(
            legal_entity, self.tolerances.get("default", Tolerance())
        )

    def sla(self, step: str) -> timedelta:
        """The target time of a step."""
        return timedelta(hours=self.sla_hours.get(step, SLA_DEFAULTS[step]))

    def owner(self, rule: ApprovalRule | None) -> str:
        """Who owns a late step: the rule's escalation, else the default owner."""
        if rule is not None and rule.escalate_to:
            return rule.escalate_to
        return self.default_owner


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: list[dict[str, Any]] = Field(default_factory=list)
    rule: list[ApprovalRule] = Field(default_factory=list)
    delegation: list[Delegation] = Field(default_factory=list)
    tolerance: dict[str, Tolerance] = Field(default_factory=dict)
    # Checked by `_sla_hours`, so that a wrong value gets a sentence.
    sla: dict[str, Any] = Field(default_factory=dict)
    exceptions: dict[str, str] = Field(default_factory=dict)


def parse_policies(text: str, *, source: str = "policy") -> PolicySet:
    """A checked policy set from TOML text; errors name the file and the field."""
    try:
        raw = _PolicyFile.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as err:
        raise ConfigurationError(f"{source}: {err}") from err
    unknown = set(raw.sla) - set(SLA_DEFAULTS)
    if unknown:
        raise ConfigurationError(f"{source}: unknown SLA steps {sorted(unknown)}")
    hours = {step: _sla_hours(step, value, source) for step, value in raw.sla.items()}
    policies = PolicySet(
        directory=Directory(_identity(entry, source) for entry in raw.identity),
        rules=tuple(raw.rule),
        delegations=tuple(raw.delegation),
        tolerances=raw.tolerance,
        sla_hours={**SLA_DEFAULTS, **hours},
        default_owner=raw.exceptions.get("default_owner", "unassigned"),
    )
    _check_people(policies, source)
    return policies


def _sla_hours(step: str, value: Any, source: str) -> int:
    """A step's target in whole hours (0: due at once); anything else is refused.

    Whole hours, because a target is a working promise (48 hours to approve),
    and a fraction (0.01 of an hour) is almost always a typing mistake. Zero
    is a real policy: a step that should already be done when it starts (a
    payment release due on approval) is late from its first sweep.
    """
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or value < 0:
        raise ConfigurationError(
            f"{source}: sla.{step} = {value!r}: give the target as a whole number "
            f"of hours, 0 or more (e.g. {step} = {SLA_DEFAULTS[step]})"
        )
    return int(value)


def load_policies(path: Path) -> PolicySet:
    """The policy set in the TOML file at `path`."""
    if not path.is_file():
        raise ConfigurationError(f"no workflow policy file at {path}")
    return parse_policies(path.read_text(encoding="utf-8"), source=str(path))


def _identity(entry: dict[str, Any], source: str) -> Identity:
    try:
        return Identity(
            id=str(entry["id"]),
            kind=IdentityKind(entry.get("kind", "person")),
            name=str(entry.get("name", "")),
            logins={str(k): str(v) for k, v in entry.get("logins", {}).items()},
        )
    except (KeyError, ValueError) as err:
        raise ConfigurationError(f"{source}: identity {entry!r}: {err}") from err


def _check_people(policies: PolicySet, source: str) -> None:
    """Every person a rule or delegation names must be a known person."""
    named = {p for rule in policies.rules for p in rule.approvers}
    named |= {r.escalate_to for r in policies.rules if r.escalate_to}
    named |= {d.delegate for d in policies.delegations}
    for person in sorted(named):
        identity = policies.directory.get(person)
        if identity is None:
            raise ConfigurationError(f"{source}: {person} is no listed identity")
        if identity.kind is IdentityKind.SERVICE:
            raise ConfigurationError(
                f"{source}: {person} is a service identity and can never approve"
            )
