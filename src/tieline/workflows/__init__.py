"""Governed construction workflows: persisted state machines over documents.

Requisition to order, order to receipt, invoice to payment (three-way match),
subcontract valuation to payment (certificates and retention), budget
revisions and change orders, project closeout; approval policies from a TOML
file, segregation of duties across systems, SLA timers and an exception
queue, and an `ErpGateway` port for what goes to the ERP.
"""

from tieline.workflows import _tables as _tables  # registers the tables
from tieline.workflows._consumers import (
    register_workflow_consumers,
    workflow_consumers,
)
from tieline.workflows._errors import (
    CertificateRefused,
    DutiesNotSegregated,
    NoApprovalRule,
    NotAnApprover,
    TransitionRefused,
    UnknownLogin,
)
from tieline.workflows._identity import (
    Actor,
    ActorKind,
    Directory,
    Identity,
    IdentityKind,
)
from tieline.workflows._machine import Hub, Instance, Machine, Spec, utc_now
from tieline.workflows._match import Difference, three_way_match
from tieline.workflows._policy import (
    SLA_DEFAULTS,
    ApprovalRule,
    Delegation,
    DocumentType,
    PolicySet,
    Tolerance,
    load_policies,
    parse_policies,
)
from tieline.workflows._sla import (
    ExceptionClosed,
    ExceptionNote,
    WorkflowException,
    assign_exception,
    comment_exception,
    list_exceptions,
    resolve_exception,
    sweep,
)
from tieline.workflows.erp import ErpGateway, InMemoryErp, PaymentState

__all__ = [
    "SLA_DEFAULTS",
    "Actor",
    "ActorKind",
    "ApprovalRule",
    "CertificateRefused",
    "Delegation",
    "Difference",
    "Directory",
    "DocumentType",
    "DutiesNotSegregated",
    "ErpGateway",
    "ExceptionClosed",
    "ExceptionNote",
    "Hub",
    "Identity",
    "IdentityKind",
    "InMemoryErp",
    "Instance",
    "Machine",
    "NoApprovalRule",
    "NotAnApprover",
    "PaymentState",
    "PolicySet",
    "Spec",
    "Tolerance",
    "TransitionRefused",
    "UnknownLogin",
    "WorkflowException",
    "assign_exception",
    "comment_exception",
    "list_exceptions",
    "load_policies",
    "parse_policies",
    "register_workflow_consumers",
    "resolve_exception",
    "sweep",
    "three_way_match",
    "utc_now",
    "workflow_consumers",
]
