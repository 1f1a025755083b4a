"""Test doubles that ship with tieline, so that demos and tests can start them."""
