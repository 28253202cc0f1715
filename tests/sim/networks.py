"""Small network-level IRs built by hand, for the simulator's tests.

Each helper builds one IR node with a dummy span, so that a test can state
the smallest network that shows a behaviour in a few lines.
"""

from __future__ import annotations

from pathlib import Path

from mcdl import ir
from mcdl.source import Span

SPAN = Span.point("test.mcdl", 1, 1)
BARS = Path(__file__).resolve().parents[1] / "data" / "bars_network.json"


def bars_network() -> ir.Network:
    """Return the hand-built 9-30-3 bars network of ``tests/data``."""
    return ir.Network.model_validate_json(BARS.read_text())


def num(value: float) -> ir.Num:
    return ir.Num(span=SPAN, value=value)


def ref(dotted: str) -> ir.Ref:
    return ir.Ref(span=SPAN, parts=tuple(dotted.split(".")))


def binary(op: str, left: ir.Expr, right: ir.Expr) -> ir.Binary:
    return ir.Binary(span=SPAN, op=op, left=left, right=right)


def call(func: str, *args: ir.Expr) -> ir.Call:
    return ir.Call(span=SPAN, func=func, args=args)


def soma(
    leak: float = 0.1,
    rest: float = 0.0,
    capacitance: float = 1.0,
    noise: float = 0.0,
    name: str = "soma",
) -> ir.Compartment:
    return ir.Compartment(
        span=SPAN,
        name=name,
        kind="integrating",
        leak=leak,
        rest=rest,
        capacitance=capacitance,
        noise=noise,
    )


def dendrite(name: str, factor: float | None = None) -> ir.Compartment:
    prediction = None
    if factor is not None:
        prediction = ir.Prediction(span=SPAN, into="soma", factor=factor)
    return ir.Compartment(span=SPAN, name=name, kind="dendrite", prediction=prediction)


def coupling(source: str, target: str, conductance: float) -> ir.Coupling:
    return ir.Coupling(span=SPAN, source=source, target=target, conductance=conductance)


def inputs(name: str, size: int) -> ir.Population:
    return ir.Population(span=SPAN, name=name, layer=name, size=size)


def neurons(
    name: str,
    size: int,
    compartments: tuple[ir.Compartment, ...],
    couplings: tuple[ir.Coupling, ...] = (),
    rate: ir.Expr | None = None,
) -> ir.Population:
    return ir.Population(
        span=SPAN,
        name=name,
        layer=name,
        size=size,
        neuron=name.title(),
        compartments=compartments,
        couplings=couplings,
        rate=ref("soma") if rate is None else rate,
    )


def constant(value: float) -> ir.ConstantInit:
    return ir.ConstantInit(span=SPAN, value=value)


def uniform(seed: int, low: float = -1.0, high: float = 1.0) -> ir.UniformInit:
    return ir.UniformInit(span=SPAN, low=low, high=high, seed=seed)


def projection(
    name: str,
    source: str,
    target: str,
    init: ir.Init,
    *,
    source_var: str = "rate",
    one_to_one: bool = False,
    rule: ir.Expr | None = None,
    lowpass: float | None = None,
) -> ir.Projection:
    target_population, _, compartment = target.rpartition(".")
    plasticity = None
    if rule is not None:
        plasticity = ir.Plasticity(span=SPAN, rule="test", update=rule, lowpass=lowpass)
    return ir.Projection(
        span=SPAN,
        name=name,
        source=source,
        source_var=source_var,
        target=target_population,
        compartment=compartment,
        one_to_one=one_to_one,
        init=init,
        plasticity=plasticity,
    )


def nudging(
    target: str,
    conductance: float,
    source: str | None = None,
    form: str = "current",
    e_exc: float = 0.0,
    e_inh: float = 0.0,
) -> ir.Nudging:
    population, _, compartment = target.rpartition(".")
    source_population = source_compartment = None
    if source is not None:
        source_population, _, source_compartment = source.rpartition(".")
    return ir.Nudging(
        span=SPAN,
        target=population,
        compartment=compartment,
        source=source_population,
        source_compartment=source_compartment,
        conductance=conductance,
        form=form,
        e_exc=e_exc,
        e_inh=e_inh,
    )


def protocol(
    pattern: float = 1.0,
    settle: float = 0.0,
    readout: float | None = None,
    lowpass: float = 0.0,
    phases: tuple[ir.Phase, ...] = (),
) -> ir.Protocol:
    return ir.Protocol(
        span=SPAN,
        pattern=pattern,
        settle=settle,
        readout=pattern if readout is None else readout,
        lowpass=lowpass,
        phases=phases,
    )


def phase(name: str, **settings: object) -> ir.Phase:
    return ir.Phase(span=SPAN, name=name, **settings)


def network(
    populations: tuple[ir.Population, ...],
    projections: tuple[ir.Projection, ...] = (),
    nudgings: tuple[ir.Nudging, ...] = (),
    *,
    output: str | None = None,
    integration: str = "euler",
    dt: float = 0.1,
    seed: int = 0,
    protocol_: ir.Protocol | None = None,
) -> ir.Network:
    """Return a network; the first population is the input, the last the output."""
    return ir.Network(
        span=SPAN,
        name="test",
        dt=dt,
        seed=seed,
        integration=integration,
        populations=populations,
        projections=projections,
        nudgings=nudgings,
        protocol=protocol() if protocol_ is None else protocol_,
        input=populations[0].name,
        output=populations[-1].name if output is None else output,
        source=ir.SourceInfo(span=SPAN, file="test.mcdl", sha256="0" * 64),
    )
