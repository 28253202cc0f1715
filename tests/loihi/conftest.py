"""Fixtures of the loihi target's tests."""

from __future__ import annotations

import pytest

from mcdl import ir

from .helpers import bars, short


@pytest.fixture(scope="session")
def bars_network() -> ir.Network:
    return bars()


@pytest.fixture(scope="session")
def short_network() -> ir.Network:
    return short(bars())
