"""Constant settings and their units: times become milliseconds.

A time is written with ``ms`` or ``s``; ``0.1 s`` is ``100 ms``. Everything
else is a plain number, and arithmetic keeps times and plain numbers apart.
"""

from __future__ import annotations

import pytest

from .specs import at, check, found, spec


def test_dt_in_milliseconds_is_kept() -> None:
    network = check(spec(network="    dt = 0.1 ms")).network

    assert network.dt == pytest.approx(0.1)


def test_seconds_become_milliseconds() -> None:
    text = spec(protocol="protocol { pattern = 0.1 s  readout = 0.02 s }")

    protocol = check(text).network.protocol

    assert protocol.pattern == pytest.approx(100.0)
    assert protocol.readout == pytest.approx(20.0)


def test_0_1_ms_and_0_1_s_differ_by_a_thousand() -> None:
    fast = check(spec(network="    dt = 0.1 ms")).network
    slow = check(
        spec(network="    dt = 0.1 s", protocol="protocol { pattern = 10 s }")
    ).network

    assert slow.dt == pytest.approx(1000 * fast.dt) == pytest.approx(100.0)


def test_a_constant_carries_its_unit() -> None:
    text = spec(top="const T = 0.05 s", protocol="protocol { pattern = 2 * T }")

    assert check(text).network.protocol.pattern == pytest.approx(100.0)


def test_time_without_unit_is_e0401_with_a_hint() -> None:
    text = spec(protocol="protocol { pattern = 10 }")

    result = check(text)

    assert found(result) == {("E0401", *at(text, "10 }"))}
    assert result.diagnostics[0].hint == "write it as '10 ms' or in seconds with 's'"


def test_plain_number_with_a_unit_is_e0402() -> None:
    text = spec(network="    seed = 3 ms")

    assert found(check(text)) == {("E0402", *at(text, "3 ms"))}


def test_adding_a_time_to_a_plain_number_is_e0402() -> None:
    text = spec(protocol="protocol { pattern = 10 ms + 1 }")

    assert found(check(text)) == {("E0402", *at(text, "10 ms + 1"))}


def test_a_time_squared_is_not_a_time() -> None:
    text = spec(protocol="protocol { pattern = 10 ms * 1 ms }")

    assert found(check(text)) == {("E0402", *at(text, "10 ms * 1 ms"))}


def test_constant_expressions_fold() -> None:
    text = spec(top="const g = 2 ** 3 - 6", network="    seed = g * 10")

    assert check(text).network.seed == 20


def test_division_by_zero_is_e0404() -> None:
    text = spec(network="    seed = 1 / 0")

    assert found(check(text)) == {("E0404", *at(text, "1 / 0"))}


def test_a_constant_that_depends_on_itself_is_e0404() -> None:
    text = spec(top="const a = a + 1", network="    seed = a")

    assert found(check(text)) == {("E0404", *at(text, "a = a"))}


def test_undefined_name_in_a_setting_is_e0201_with_a_hint() -> None:
    text = spec(top="const offset = 1", network="    seed = ofset")

    result = check(text)

    assert found(result) == {("E0201", *at(text, "ofset"))}
    assert result.diagnostics[0].hint == "did you mean 'offset'?"


def test_a_fractional_size_is_e0405() -> None:
    text = spec().replace("x[1]", "x[1.5]")

    assert ("E0405", *at(text, "1.5")) in found(check(text))


def test_a_switch_is_on_or_off() -> None:
    text = spec(protocol="protocol { pattern = 10 ms  phase p { teach = yes } }")

    assert found(check(text)) == {("E0406", *at(text, "yes"))}
