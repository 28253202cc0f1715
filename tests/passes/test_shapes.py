"""Projections and nudgings: sources, targets, sizes and initialisers."""

from __future__ import annotations

from mcdl import ir

from .specs import at, check, found, spec


def projection(line: str) -> ir.Projection:
    result = check(spec(projection=line))
    assert result.diagnostics == []
    return result.network.projection("W")


def test_a_population_sends_its_rate() -> None:
    assert projection("project x -> out.pyr.soma as W").source_var == "rate"


def test_an_integrating_compartment_sends_its_potential() -> None:
    text = spec(network="    project out.pyr.soma -> out.pyr.soma as V")

    assert check(text).network.projection("V").source_var == "soma"


def test_a_projection_without_init_starts_at_zero() -> None:
    init = projection("project x -> out.pyr.soma as W").init

    assert isinstance(init, ir.ConstantInit) and init.value == 0.0


def test_uniform_takes_low_high_and_seed() -> None:
    line = "project x -> out.pyr.soma as W { init uniform(-1, 1, seed = 7) }"

    init = projection(line).init

    assert (init.low, init.high, init.seed) == (-1.0, 1.0, 7)


def test_uniform_with_low_above_high_is_e0805() -> None:
    line = "project x -> out.pyr.soma as W { init uniform(1, -1, seed = 7) }"
    text = spec(projection=line)

    assert found(check(text)) == {("E0805", *at(text, "init uniform"))}


def test_a_second_init_is_e0202() -> None:
    line = "project x -> out.pyr.soma as W { init constant(1)  init constant(2) }"
    text = spec(projection=line)

    assert found(check(text)) == {("E0202", *at(text, "init constant(2)"))}


def test_a_nudging_in_conductance_form_needs_both_reversal_potentials() -> None:
    text = spec(
        network="    layer hid { p: N[1] }\n"
        "    nudge hid.p.soma from out.pyr.soma g = 1 conductance(E_exc = 1)"
    )

    assert found(check(text)) == {("E0602", *at(text, "nudge hid"))}


def test_a_nudging_between_populations_of_different_sizes_is_e0801() -> None:
    nudge = "nudge hid.p.soma from out.pyr.soma g = 1"
    text = spec(network=f"    layer hid {{ p: N[2] }}\n    {nudge}")

    assert found(check(text)) == {("E0801", *at(text, "nudge hid"))}
