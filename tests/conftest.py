"""Shared test fixtures."""

pytest_plugins = ["tests.fixtures_http"]
