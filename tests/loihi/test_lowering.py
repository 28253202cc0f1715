"""Lowering bars onto Loihi 2: scales, tables, rule strings, reports, diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule

from mcdl import ir
from mcdl.init import initial_weights
from mcdl.passes import lower_loihi as L

from .helpers import bars, lowered


def test_bars_lowers_without_diagnostics(bars_network) -> None:
    plan, diagnostics = L.lower_loihi(bars_network, initial_weights(bars_network))
    assert plan is not None
    assert diagnostics == []
    assert plan.steps_per_pattern % plan.epoch == 0
    assert plan.settle_steps % plan.epoch == 0


def test_self_predicting_projections_share_their_scale(bars_network) -> None:
    plan = lowered(bars_network)
    assert plan.projection("W_PI1").p_w == plan.projection("W_down1").p_w
    w_pi = np.array(plan.projection("W_PI1").weights)
    w_down = np.array(plan.projection("W_down1").weights)
    assert np.array_equal(w_pi, -w_down)


def test_weights_are_even_nine_bit_integers(bars_network) -> None:
    for projection in lowered(bars_network).projections:
        w = np.array(projection.weights)
        assert w.min() >= L.WEIGHT_MIN and w.max() <= L.WEIGHT_MAX
        if projection.kind != "nudge":
            assert np.all(w % 2 == 0)


def test_rule_strings_parse_in_lava_as_the_plan_says(bars_network) -> None:
    """Every product Lava parses has the mantissa, exponent and factors planned."""
    plan = lowered(bars_network)
    for projection in plan.projections:
        rule = projection.plastic
        if rule is None:
            continue
        lava = Loihi3FLearningRule(
            dw=rule.dw_text, dd=rule.dd_text, dt=rule.dt_text, x1_tau=2**60
        )
        pairs = ((rule.dw, lava.dw), (rule.dd, lava.dd), (rule.dt, lava.dt))
        for planned, series in pairs:
            if not planned:
                assert series is None
                continue
            assert len(series.products) == len(planned)
            for ours, theirs in zip(planned, series.products, strict=True):
                assert theirs.s_mantissa == ours.mantissa
                assert theirs.s_exp == ours.exponent + 7
                dependency = "y0" if ours.decimation is None else "u"
                assert theirs.dependency == dependency
                factors = [
                    (f"sgn({f.state_var})" if f.is_sgn else f.state_var, f.const or 0)
                    for f in theirs.factors
                ]
                assert factors == [(v, c) for v, c in ours.factors]


def test_literals_are_close_to_the_float_rule(bars_network) -> None:
    for row in lowered(bars_network).quantisation:
        if row["kind"] == "learning-rule literal":
            assert row["relative_error"] < 0.12, row


def test_tables_are_within_their_reported_error(bars_network) -> None:
    plan = lowered(bars_network)
    pop = plan.population("hidden.pyr")
    s_u, s_r = 2.0**-pop.p_u, 2.0**-pop.p_r
    u = np.arange(-4 * 2**pop.p_u, 3 * 2**pop.p_u, 97)
    exact = np.logaddexp(0, u * s_u)
    error = np.abs(pop.rate(u) * s_r - exact).max()
    reported = next(r for r in plan.quantisation if r["name"] == "hidden.pyr.rate")
    assert error <= reported["error"] + 1e-12
    assert reported["error"] < s_r


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.625, (5, -3)), (-0.125, (-1, -3)), (2.0**-7, (1, -7)), (7 * 2**8, (7, 8))],
)
def test_literals(value: float, expected: tuple[int, int]) -> None:
    assert L.to_literal(value) == expected


def test_a_literal_outside_the_engine_is_refused() -> None:
    assert L.to_literal(2.0**-12) is None
    assert L.to_literal(1e6) is None


def test_reports(bars_network) -> None:
    plan = lowered(bars_network)
    names = {row["name"] for row in plan.quantisation}
    for expected in (
        "x.rate",
        "hidden.pyr.potential",
        "hidden.pyr.rate",
        "hidden.pyr.y1",
        "hidden.pyr.y2",
        "W_up1",
        "W_up1.tag",
    ):
        assert expected in names
    for row in plan.quantisation:
        assert row["source"] in ("derived", "default", "pinned") or row[
            "source"
        ].startswith("shared")
        assert math.isfinite(row["error"])
    total = plan.resources["total"]
    assert total["neurons"] == 9 + 30 + 3 + 3
    assert total["cores"] <= plan.resources["limits"]["cores"]


def test_a_pin_fixes_a_scale(bars_network) -> None:
    pins = {"hidden.pyr.rate": L.Pin(range=2.0)}
    plan, _ = L.lower_loihi(bars_network, initial_weights(bars_network), pins=pins)
    assert plan.population("hidden.pyr").p_r == 7
    row = next(r for r in plan.quantisation if r["name"] == "hidden.pyr.rate")
    assert row["source"] == "pinned"


# -- Diagnostics ------------------------------------------------------------


def _with_rule(network: ir.Network, name: str, update: ir.Expr) -> ir.Network:
    projections = []
    for projection in network.projections:
        if projection.name == name:
            plasticity = projection.plasticity.model_copy(update={"update": update})
            projection = projection.model_copy(update={"plasticity": plasticity})
        projections.append(projection)
    return network.model_copy(update={"projections": tuple(projections)})


def _codes(network: ir.Network) -> list[str]:
    plan, diagnostics = L.lower_loihi(network, initial_weights(network))
    assert plan is None
    return [d.code for d in diagnostics]


def _ref(span, *parts: str) -> ir.Ref:
    return ir.Ref(span=span, parts=parts)


def test_a_squared_pre_rate_is_not_lowerable() -> None:
    network = bars()
    span = network.span
    rate = _ref(span, "pre", "rate")
    update = ir.Binary(span=span, op="*", left=rate, right=rate)
    assert _codes(_with_rule(network, "W_up1", update)) == [L.RULE_NOT_LOWERABLE]


def test_a_function_of_pre_and_post_is_not_lowerable() -> None:
    network = bars()
    span = network.span
    mixed = ir.Binary(
        span=span,
        op="-",
        left=_ref(span, "pre", "rate"),
        right=_ref(span, "post", "soma"),
    )
    update = ir.Call(span=span, func="exp", args=(mixed,))
    assert _codes(_with_rule(network, "W_up1", update)) == [L.RULE_NOT_LOWERABLE]


def test_a_fourth_post_factor_is_refused() -> None:
    """hidden.pyr sends y3 for W_PI1; a rule needing three more is one too many."""
    network = bars()
    span = network.span

    def times(a: ir.Expr, b: ir.Expr) -> ir.Expr:
        return ir.Binary(span=span, op="*", left=a, right=b)

    def plus(a: ir.Expr, b: ir.Expr) -> ir.Expr:
        return ir.Binary(span=span, op="+", left=a, right=b)

    soma, basal = _ref(span, "post", "soma"), _ref(span, "post", "basal")
    update = plus(
        plus(
            times(
                ir.Call(span=span, func="exp", args=(soma,)), _ref(span, "pre", "rate")
            ),
            times(ir.Call(span=span, func="tanh", args=(basal,)), _ref(span, "w")),
        ),
        times(ir.Num(span=span, value=0.01), soma),
    )
    assert L.TOO_MANY_POST_FACTORS in _codes(_with_rule(network, "W_up1", update))


def test_a_learning_rate_too_small_for_the_engine_is_refused() -> None:
    network = bars()
    projection = network.projection("W_up1")
    update = projection.plasticity.update
    tiny = ir.Binary(
        span=update.span,
        op="*",
        left=ir.Num(span=update.span, value=1e-6),
        right=update,
    )
    assert _codes(_with_rule(network, "W_up1", tiny)) == [L.RATE_OUT_OF_RANGE]


def test_a_negative_rate_is_refused() -> None:
    network = bars()
    populations = []
    for population in network.populations:
        if population.name == "hidden.inter":
            rate = ir.Call(
                span=population.span,
                func="tanh",
                args=(ir.Ref(span=population.span, parts=("soma",)),),
            )
            population = population.model_copy(update={"rate": rate})
        populations.append(population)
    network = network.model_copy(update={"populations": tuple(populations)})
    assert L.NOT_SUPPORTED in _codes(network)


def test_a_phase_that_learns_half_a_population_is_refused() -> None:
    network = bars()
    phase = network.protocol.phases[0].model_copy(update={"learn": ("W_up1",)})
    protocol = network.protocol.model_copy(update={"phases": (phase,)})
    network = network.model_copy(update={"protocol": protocol})
    assert _codes(network) == [L.PHASE_NOT_MAPPABLE]


def test_a_network_too_large_for_one_chip_is_refused(monkeypatch) -> None:
    """bars needs 4 neuro cores; on a (pretend) chip of 2 it does not fit."""
    monkeypatch.setattr(L, "CORES_PER_CHIP", 2)
    assert _codes(bars()) == [L.DOES_NOT_FIT]
