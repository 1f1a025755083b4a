"""The `tieline` command line."""

from tieline.cli._app import app, main

__all__ = ["app", "main"]
