"""The ``loihi`` block: pinned scales and the learning epoch, checked."""

from __future__ import annotations

import pytest

from mcdl import ir

from .specs import at, check, found, spec


def loihi(*lines: str) -> str:
    """The small spec of ``specs.spec`` with a ``loihi`` block of ``lines``."""
    body = "".join(f"        {line}\n" for line in lines)
    return spec(network=f"    loihi {{\n{body}    }}")


def test_a_network_without_a_loihi_block_has_no_loihi_settings() -> None:
    assert check(spec()).network.loihi is None


def test_pins_and_the_epoch_reach_the_network() -> None:
    text = loihi("pin W range = 2.5", "pin out.pyr.rate exponent = -3", "epoch = 4")

    settings = check(text).network.loihi

    assert settings.epoch == 4
    assert [(p.variable, p.range, p.exponent) for p in settings.pins] == [
        ("W", 2.5, None),
        ("out.pyr.rate", None, -3),
    ]
    assert (settings.pins[1].span.line, settings.pins[1].span.column) == at(
        text, "pin out.pyr.rate"
    )


def test_a_pin_takes_a_constant_expression() -> None:
    text = loihi("pin W range = 2 * g")
    text = text.replace("network n {", "const g = 1.5\nnetwork n {")

    (pin,) = check(text).network.loihi.pins

    assert pin.range == 3.0


def test_the_network_with_its_pins_round_trips_through_json() -> None:
    network = check(loihi("pin W exponent = 6", "epoch = 5")).network

    again = ir.Network.model_validate_json(network.model_dump_json())

    assert again == network
    assert again.loihi.pins[0].exponent == 6


@pytest.mark.parametrize(
    ("line", "code", "needle"),
    [
        ("pin W range = 0", "E1101", "0"),
        ("pin W range = -2", "E1101", "-2"),
        ("pin W exponent = 2.5", "E1102", "2.5"),
        ("pin W exponent = 25", "E1102", "25"),
        ("pin W exponent = -25", "E1102", "-25"),
        ("epoch = 0", "E1103", "0"),
        ("epoch = 64", "E1103", "64"),
        ("epoch = 1.5", "E1103", "1.5"),
        ("epoch = 3", "E1103", "3"),
        ("pin W rnge = 2", "E0205", "rnge"),
        ("epok = 2", "E0205", "epok"),
        ("pin W range = 2 ms", "E0402", "2 ms"),
        ("pin W range = q", "E0201", "q"),
    ],
)
def test_a_bad_value_is_reported_where_it_is_written(line, code, needle) -> None:
    text = loihi(line)

    result = check(text)

    line_number, column = at(text, line)
    assert found(result) == {(code, line_number, column + line.rindex(needle))}
    assert result.network is None


def test_an_epoch_must_divide_the_settling_steps_too() -> None:
    text = loihi("epoch = 4").replace(
        "protocol { pattern = 10 ms }", "protocol { pattern = 10 ms  settle = 1 ms }"
    )

    result = check(text)

    assert found(result) == {("E1103", *at(text, "4\n"))}


def test_a_variable_pinned_by_range_and_exponent_is_reported_at_the_second() -> None:
    text = loihi("pin W range = 2", "pin W exponent = 7")

    result = check(text)

    line, column = at(text, "pin W exponent")
    assert found(result) == {("E1104", line, column + len("pin "))}


def test_a_variable_pinned_twice_is_reported_at_the_second_pin() -> None:
    text = loihi("pin W range = 2", "pin W range = 4")

    result = check(text)

    line, column = at(text, "pin W range = 4")
    assert found(result) == {("E1105", line, column + len("pin "))}


def test_a_second_loihi_block_is_a_duplicate() -> None:
    text = spec(network="    loihi { epoch = 2 }\n    loihi { epoch = 5 }")

    result = check(text)

    assert found(result) == {("E0202", *at(text, "loihi", 2))}


def test_loihi_and_pin_stay_ordinary_names_outside_the_block() -> None:
    text = spec(
        top="const pin = 2",
        network="    layer loihi { pin: N[1] }",
        projection="project x -> out.pyr.soma as W { init constant(pin) }",
    )

    result = check(text)

    assert result.diagnostics == []
    assert result.network.population("loihi.pin").size == 1
