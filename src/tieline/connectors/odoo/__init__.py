"""The Odoo connector: client, mappers, bindings and synchronizer.

No Odoo field name leaves this package; the rest of tieline sees canonical
records only.
"""

from tieline.connectors.odoo._binder import BindingMismatch
from tieline.connectors.odoo._client import Limits, OdooClient, RetryPolicy
from tieline.connectors.odoo._errors import (
    OdooAccessError,
    OdooAuthFailed,
    OdooCallError,
    OdooConcurrency,
    OdooCreateInDoubt,
    OdooRecordMissing,
    OdooRejected,
    OdooResponseLost,
    OdooThrottled,
    OdooUnavailable,
    OdooUserError,
    OdooValidationError,
)
from tieline.connectors.odoo._sync import OdooSync, PullResult
from tieline.connectors.odoo._versions import OdooVersion
from tieline.connectors.odoo.erp import OdooErp

__all__ = [
    "BindingMismatch",
    "Limits",
    "OdooAccessError",
    "OdooAuthFailed",
    "OdooCallError",
    "OdooClient",
    "OdooConcurrency",
    "OdooCreateInDoubt",
    "OdooErp",
    "OdooRecordMissing",
    "OdooRejected",
    "OdooResponseLost",
    "OdooSync",
    "OdooThrottled",
    "OdooUnavailable",
    "OdooUserError",
    "OdooValidationError",
    "OdooVersion",
    "PullResult",
    "RetryPolicy",
]
