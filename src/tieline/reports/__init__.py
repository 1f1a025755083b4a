"""Reports over the canonical records: the project cost report first.

`load_cost_report(store)` builds the report from one read of the store;
`build_cost_report(records)` is the same computation over records already in
hand. The `render_*` functions turn a report into JSON, CSV or Rich tables.
"""

from tieline.reports._commitments import (
    CommitmentFigures,
    accruals,
    accruals_by_cost_code,
    accruals_by_line,
    build_commitment_figures,
    load_commitment_figures,
)
from tieline.reports._cost import build_cost_report, describe, load_cost_report
from tieline.reports._records import (
    COUNTED_COMMITMENTS,
    COUNTED_INVOICES,
    CostRecords,
    latest_certificates,
    read_cost_records,
)
from tieline.reports._render import (
    REPORT_FORMATS,
    cost_report_data,
    render_csv,
    render_json,
    render_tables,
)
from tieline.reports._report import (
    AMOUNT_KEYS,
    COMMITMENT_KEYS,
    CostAmounts,
    CostLine,
    CostReport,
    Figure,
    ProjectCost,
    ReportWarning,
)

__all__ = [
    "AMOUNT_KEYS",
    "COMMITMENT_KEYS",
    "COUNTED_COMMITMENTS",
    "COUNTED_INVOICES",
    "REPORT_FORMATS",
    "CommitmentFigures",
    "CostAmounts",
    "CostLine",
    "CostRecords",
    "CostReport",
    "Figure",
    "ProjectCost",
    "ReportWarning",
    "accruals",
    "accruals_by_cost_code",
    "accruals_by_line",
    "build_commitment_figures",
    "build_cost_report",
    "cost_report_data",
    "describe",
    "latest_certificates",
    "load_commitment_figures",
    "load_cost_report",
    "read_cost_records",
    "render_csv",
    "render_json",
    "render_tables",
]
