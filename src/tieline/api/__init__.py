"""The REST API, served by `tieline serve` with the relay beside it."""

from tieline.api.app import create_app

__all__ = ["create_app"]
