"""Fixtures shared with other test packages."""

from tests.archive.conftest import make_policy  # noqa: F401  (a fixture: policies with archived documents)
