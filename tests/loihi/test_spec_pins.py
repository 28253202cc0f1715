"""Scales pinned in the spec's ``loihi`` block reach the lowering's plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcdl import ir
from mcdl.compiler import compile_text
from mcdl.init import initial_weights
from mcdl.passes import lower_loihi as L

BARS = Path(__file__).resolve().parents[2] / "specs" / "bars.mcdl"


def bars_with(*lines: str) -> tuple[str, ir.Network]:
    """``specs/bars.mcdl`` with a ``loihi`` block of ``lines``, and its network."""
    text = BARS.read_text(encoding="utf-8").rstrip()
    assert text.endswith("}")
    block = "".join(f"        {line}\n" for line in lines)
    text = f"{text[:-1]}    loihi {{\n{block}    }}\n}}\n"
    result = compile_text(text, name="bars.mcdl", path=BARS)
    assert result.diagnostics == []
    return text, result.network


def lower(network: ir.Network, **kw) -> tuple[L.LoihiPlan | None, list]:
    return L.lower_loihi(network, initial_weights(network, BARS.parent), **kw)


def row(plan: L.LoihiPlan, name: str) -> dict:
    return next(r for r in plan.quantisation if r["name"] == name)


def test_spec_pins_turns_the_block_into_the_lowerings_arguments() -> None:
    _, network = bars_with("pin W_up1 range = 4", "pin hidden.pyr.rate exponent = 5")

    pins, epoch = L.spec_pins(network)

    assert pins == {
        "W_up1": L.Pin(range=4.0),
        "hidden.pyr.rate": L.Pin(exponent=5),
    }
    assert epoch is None


def test_a_network_without_a_block_has_no_pins() -> None:
    _, network = bars_with()

    assert L.spec_pins(network.model_copy(update={"loihi": None})) == ({}, None)


def test_a_pinned_exponent_sets_the_plans_scale_and_is_reported_as_pinned() -> None:
    _, network = bars_with("pin hidden.pyr.rate exponent = 5")
    default, _ = lower(network.model_copy(update={"loihi": None}))

    plan, diagnostics = lower(network)

    assert diagnostics == []
    assert default.population("hidden.pyr").p_r != 5
    assert plan.population("hidden.pyr").p_r == 5
    assert row(plan, "hidden.pyr.rate")["scale"] == 2.0**-5
    assert row(plan, "hidden.pyr.rate")["source"] == "pinned"
    assert row(default, "hidden.pyr.rate")["source"] == "derived"


def test_a_pinned_range_picks_the_finest_scale_that_holds_it() -> None:
    _, network = bars_with("pin W_up1 range = 8")

    plan, _ = lower(network)

    # 8-bit weights: 256 steps of 2^-5 hold magnitudes up to 8.
    assert plan.projection("W_up1").p_w == 5
    assert row(plan, "W_up1")["source"] == "pinned"


def test_a_pinned_potential_fixes_the_dendritic_input_and_the_potential() -> None:
    _, network = bars_with("pin output.pyr.potential exponent = 9")

    plan, _ = lower(network)

    assert row(plan, "output.pyr.dendrites")["scale"] == 2.0**-9
    assert row(plan, "output.pyr.potential")["scale"] == 2.0 ** -(9 + 6)
    assert row(plan, "output.pyr.potential")["source"] == "pinned"


def test_the_spec_epoch_is_the_plans_epoch() -> None:
    _, network = bars_with("epoch = 20")

    plan, _ = lower(network)

    assert plan.epoch == 20


def test_arguments_given_to_the_lowering_take_the_place_of_the_spec() -> None:
    _, network = bars_with("pin hidden.pyr.rate exponent = 5", "epoch = 20")

    plan, _ = lower(network, pins={}, epoch=10)

    assert plan.population("hidden.pyr").p_r != 5
    assert plan.epoch == 10


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("W_upp1", "did you mean 'W_up1'?"),
        ("output.pyr.y2", "did you mean 'output.pyr.y1'?"),
    ],
)
def test_a_pin_of_no_quantised_variable_is_e1008_at_the_pin(variable, hint) -> None:
    text, network = bars_with(f"pin {variable} range = 2")

    plan, diagnostics = lower(network)

    assert plan is None
    (diagnostic,) = diagnostics
    line = text.splitlines().index(f"        pin {variable} range = 2") + 1
    assert diagnostic.code == L.UNKNOWN_PIN == "E1008"
    assert (diagnostic.span.line, diagnostic.span.column) == (line, 9)
    assert diagnostic.hint == hint
