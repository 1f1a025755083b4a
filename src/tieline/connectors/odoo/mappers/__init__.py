"""Declarative mappings between canonical records and Odoo models, one per entity."""
