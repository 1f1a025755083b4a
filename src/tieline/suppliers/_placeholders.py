"""Names that stand in a supplier column but name no supplier.

Bid tabulations and exports carry two kinds: template placeholders left in
unused columns ("NAME OF CONTRACTOR 3", "BIDDER 2", "TBD"), and the engineer's
estimate, which is priced like a bid but is the owner's own estimate. All the
patterns live here, matched against the normalised name (upper case, no
punctuation, initials joined: "N/A" is "NA").
"""

from __future__ import annotations

import re
from typing import Final

from tieline.suppliers._names import normalise_name

_ROLE = r"(CONTRACTOR|SUBCONTRACTOR|BIDDER|SUPPLIER|VENDOR|COMPANY|CO|FIRM)"

PLACEHOLDER_PATTERNS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(pattern)
    for pattern in (
        # "NAME OF CONTRACTOR 3", "NAME OF BIDDER", "NAME OF FIRM NO 2"
        rf"NAME OF {_ROLE}( NO)?( \d+)?",
        # "BIDDER 1", "CONTRACTOR NO 4", "VENDOR #2" (the # is dropped)
        rf"{_ROLE} (NO )?\d+",
        # "CONTRACTOR NAME", "BIDDER NAME 2", "SUPPLIER"
        rf"{_ROLE}( NAME)?( \d+)?",
        # Answers left in a name column.
        r"TBD|TBA|TO BE DETERMINED|NA|NONE|UNKNOWN|BLANK|XXX+",
        # Nothing but digits.
        r"\d+",
    )
)

ENGINEERS_ESTIMATE_PATTERNS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(pattern)
    for pattern in (
        # "ENGINEER'S ESTIMATE", "ENGINEERS EST", "ENGINEER ESTIMATE"
        r"(THE )?ENGINEERS? (ESTIMATE|EST)",
        # "ENGINEER'S OPINION OF PROBABLE CONSTRUCTION COST"
        r"ENGINEERS? OPINION OF PROBABLE( CONSTRUCTION)? COSTS?",
        # "ENGINEERS ESTIMATE TOTAL" and the like, as a few tabs head it.
        r"ENGINEERS? ESTIMATE TOTALS?",
    )
)


def is_placeholder(name: str) -> bool:
    """True for a template name such as "NAME OF CONTRACTOR 3" or a blank."""
    normalised = normalise_name(name)
    if not normalised:
        return True
    return any(pattern.fullmatch(normalised) for pattern in PLACEHOLDER_PATTERNS)


def is_engineers_estimate(name: str) -> bool:
    """True when `name` is the engineer's estimate column, not a bidder."""
    normalised = normalise_name(name)
    return any(pattern.fullmatch(normalised) for pattern in ENGINEERS_ESTIMATE_PATTERNS)


def not_a_supplier_reason(name: str) -> str | None:
    """Why `name` names no supplier, or None when it may name one."""
    if is_engineers_estimate(name):
        return "the engineer's estimate is the owner's estimate, not a supplier"
    if is_placeholder(name):
        return "a template placeholder or blank, not a supplier's name"
    return None
