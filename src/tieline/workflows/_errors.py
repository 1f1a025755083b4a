"""What a workflow refuses, named for what happened; each carries its fields.

Every refusal is a `PermanentError`: retrying the same decision cannot help,
a person has to read the reason.
"""

from __future__ import annotations

from tieline.errors import PermanentError


class TransitionRefused(PermanentError):
    """A move the workflow does not allow from the document's current state."""

    def __init__(
        self, workflow: str, document: str, source: str, target: str, reason: str
    ) -> None:
        super().__init__(
            f"{workflow} {document}: cannot go from {source} to {target}: {reason}"
        )
        self.workflow = workflow
        self.document = document
        self.source = source
        self.target = target
        self.reason = reason


class CertificateRefused(TransitionRefused):
    """A certified figure a certificate cannot hold; names the line and field."""

    def __init__(
        self, workflow: str, document: str, source: str, line_key: str, reason: str
    ) -> None:
        super().__init__(workflow, document, source, "certified", reason)
        self.line_key = line_key
        self.field = "certified_to_date"


class DutiesNotSegregated(PermanentError):
    """One person would hold two duties that must be held by two people."""

    def __init__(self, rule: str, person: str, document: str, detail: str) -> None:
        super().__init__(f"{document}: {person} {detail} ({rule})")
        self.rule = rule
        self.person = person
        self.document = document


class NotAnApprover(PermanentError):
    """The acting person is not among those the policy assigned to the step."""

    def __init__(self, person: str, document: str, allowed: list[str]) -> None:
        names = ", ".join(allowed) or "nobody"
        super().__init__(
            f"{document}: {person} may not decide this step; assigned: {names}"
        )
        self.person = person
        self.document = document
        self.allowed = allowed


class UnknownLogin(PermanentError):
    """A login that the identity mapping does not know in that system."""

    def __init__(self, system: str, login: str) -> None:
        super().__init__(
            f"login {login!r} of system {system!r} is mapped to no identity"
        )
        self.system = system
        self.login = login


class NoApprovalRule(PermanentError):
    """No rule of the approval policy covers a document."""

    def __init__(self, description: str) -> None:
        super().__init__(f"no approval rule covers {description}")
