"""Supplier identity: one company under many spellings is one supplier.

Importers call `SupplierResolver.resolve` inside their store transaction.
What counts as the same supplier (CERTAIN) and what only perhaps (NEAR) is
written down in `tieline.suppliers._matching`; in short: the same tax id, or
the same normalised name (legal form included, or missing on one side) is
certain; the same name under other legal forms or a misspelt one, or a name
scoring at least `NEAR_SCORE`, is near and goes to a person, whose answer
(`SupplierReviews.decide`) is remembered. Template placeholders and the
engineer's estimate are not suppliers (`not_a_supplier_reason`).
"""

from tieline.suppliers._errors import NotASupplier, ReviewAlreadyDecided
from tieline.suppliers._matching import (
    NEAR_SCORE,
    Certainty,
    Match,
    MatchRule,
    compare_names,
    name_score,
)
from tieline.suppliers._names import (
    LEGAL_FORMS,
    TRADE_WORDS,
    ParsedName,
    normalise_name,
    parse_name,
)
from tieline.suppliers._placeholders import (
    ENGINEERS_ESTIMATE_PATTERNS,
    PLACEHOLDER_PATTERNS,
    is_engineers_estimate,
    is_placeholder,
    not_a_supplier_reason,
)
from tieline.suppliers._resolver import Resolution, SupplierResolver
from tieline.suppliers._reviews import (
    TOPIC,
    Decision,
    ReviewItem,
    SupplierReviews,
    merge_suppliers,
)
from tieline.suppliers._tax import VAT_PREFIXES, normalise_tax_id

__all__ = [
    "ENGINEERS_ESTIMATE_PATTERNS",
    "LEGAL_FORMS",
    "NEAR_SCORE",
    "PLACEHOLDER_PATTERNS",
    "TOPIC",
    "TRADE_WORDS",
    "VAT_PREFIXES",
    "Certainty",
    "Decision",
    "Match",
    "MatchRule",
    "NotASupplier",
    "ParsedName",
    "Resolution",
    "ReviewAlreadyDecided",
    "ReviewItem",
    "SupplierResolver",
    "SupplierReviews",
    "compare_names",
    "is_engineers_estimate",
    "is_placeholder",
    "merge_suppliers",
    "name_score",
    "normalise_name",
    "normalise_tax_id",
    "not_a_supplier_reason",
    "parse_name",
]
