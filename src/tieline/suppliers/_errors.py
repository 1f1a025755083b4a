"""What can go wrong when naming suppliers, as errors that say so."""

from __future__ import annotations

from tieline.errors import PermanentError, ValidationFailed


class NotASupplier(ValidationFailed):
    """A name that names no supplier: a template placeholder, or the estimate."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason, record=name, field="name")
        self.name = name


class ReviewAlreadyDecided(PermanentError):
    """A near match already carries the other answer; a merge is not undone."""

    def __init__(self, item_id: int, decision: str) -> None:
        super().__init__(
            f"review item {item_id} was already decided {decision!r}; "
            "undoing a decision is not supported"
        )
        self.item_id = item_id
        self.decision = decision
