"""tieline: the integration hub for construction companies that run Odoo."""

__version__ = "0.1.0"
