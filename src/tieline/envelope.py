"""The CloudEvents 1.0 envelope every change travels in.

Attributes are set by hand (the spec's required `id`, `source`, `specversion`,
`type`, and the optional `subject`, `time`, `datacontenttype`), plus two
extension attributes: `correlationid` (the unit of work) and `causationid`
(the event or request that caused this one). Extension names follow the spec's
naming rule: lower-case letters and digits only.
See https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPECVERSION = "1.0"
SOURCE = "urn:tieline"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One event: what happened to which record, when, in which unit of work."""

    id: str
    type: str
    subject: str
    data: dict[str, Any]
    correlationid: str
    causationid: str | None = None
    source: str = SOURCE
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    specversion: str = SPECVERSION

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON form of the event."""
        body: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": self.datacontenttype,
            "correlationid": self.correlationid,
            "data": self.data,
        }
        if self.causationid is not None:
            body["causationid"] = self.causationid
        return body

    def to_json(self) -> str:
        """Structured-mode JSON, keys sorted so equal events serialise equally."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
