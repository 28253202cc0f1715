"""Lowering a checked network onto Loihi 2's fixed-point substrate.

``lower_loihi`` turns a network-level IR and its initial weights into a
``LoihiPlan``: every integer constant, scale, lookup table and learning-rule
string the loihi target needs, plus the quantisation and resource reports.
The integer reference (``mcdl.sim.fixed``) and the generated Lava code
(``mcdl.codegen.loihi``) read only the plan, so both compute the same thing.
``docs/loihi.md`` defines the integer semantics the plan's numbers mean.

Rules checked here (each a located diagnostic):

1. A rate is a non-negative function of one integrating compartment, so that
   it can be a lookup table with an unsigned graded-spike payload (E1005).
2. No compartment has an explicit ``current`` expression; no one-to-one
   projection is plastic (E1005).
3. A plasticity rule is a sum of products in which the pre-synaptic rate and
   the weight appear at most linearly and every other factor is a function of
   one post-synaptic variable (E1001).
4. All plastic projections onto a population need at most three distinct
   post-synaptic factors: the chip's y1, y2, y3 (E1002).
5. Every lowered learning rate is a literal ``m * 2^e`` the learning engine
   can hold (|m| <= 7, -7 <= e <= 8) (E1003).
6. Every 12-bit constant is non-zero where its conductance is (E1006).
7. A phase does not learn only some of the plastic projections onto one
   population: the chip gates plasticity per post-synaptic neuron (E1007).
8. The network fits one Loihi 2 chip (E1004).
9. Every pinned scale names a variable the plan quantises (E1008).

Nothing is rescaled silently: every scale the pass picks, and why, is an
entry of ``LoihiPlan.quantisation``; a scale can be pinned in the spec's
``loihi`` block or by the caller (``pins``), which the report marks as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from mcdl import ir
from mcdl.diagnostics import Diagnostic, Severity, did_you_mean
from mcdl.source import Span

# -- Diagnostic codes this pass adds (registered in mcdl.diagnostics) --------

RULE_NOT_LOWERABLE = "E1001"
TOO_MANY_POST_FACTORS = "E1002"
RATE_OUT_OF_RANGE = "E1003"
DOES_NOT_FIT = "E1004"
NOT_SUPPORTED = "E1005"
CONSTANT_TOO_SMALL = "E1006"
PHASE_NOT_MAPPABLE = "E1007"
UNKNOWN_PIN = "E1008"

# -- Formats of the substrate -------------------------------------------------

STATE_BITS = 24
"""Neuron state (potentials, filters): signed 24-bit."""
ACTIVATION_BITS = 16
"""Dendritic input as it arrives from the synapses: signed 16-bit."""
ACTIVATION_SHIFT = 6
"""Potentials are held 6 bits finer than their dendritic input (as Loihi's LIF)."""
DECAY_BITS = 12
"""Conductances, decays and filter gains: unsigned 12-bit, as ``x / 4096``."""
RATE_BITS = 8
"""A rate's graded-spike payload: unsigned 8-bit."""
TRACE_BITS = 7
"""The learning engine's traces x1, y1..y3: unsigned 7-bit."""
WEIGHT_MIN, WEIGHT_MAX = -256, 255
"""Synaptic weights: 8-bit magnitude and a sign (Lava's mixed sign mode)."""
TAG_MIN, TAG_MAX = -257, 255
"""The tag ``tag_1`` as Lava's bit-approximate engine saturates it."""
ACCUMULATOR = 15
"""The engine's unsigned accumulator width (``W_ACCUMULATOR_U``)."""
EPOCH_TIME_CONSTANTS = 2.0
"""A learning epoch lasts at most twice the shortest membrane time constant."""
RESIDUAL_OFFSET = 128
"""The residual ``d`` is held as ``128 + residual`` (``tag_2`` is unsigned)."""
RESIDUAL_STEP = 32
"""Residual units per weight unit: a weight steps by one unit per 32."""
RESIDUAL_LEVELS = 4
"""Weight units a synapse may move in one learning epoch.

With one unit per epoch a tag above half its range was truncated: a constant
tag of 200 units moved a weight by 60 units in 60 epochs where the rule asks
for 94; with four levels, by 91."""
FACTOR_WIDTHS = {
    "sgn(d)": 9,
    "d": 9,
    "x0": 1,
    "y0": 1,
    "x1": 7,
    "y1": 7,
    "y2": 7,
    "y3": 7,
    "w": 9,
    "t": 9,
}
MANTISSA_WIDTH = 4
SYNAPSE_SHIFT = 7
"""The engine holds a weight or tag as ``value << 7`` while it learns."""
MAX_EPOCH = 63
"""The longest learning epoch (6-bit epoch time, ``W_EPOCH_TIME``)."""
LITERAL_MANTISSA = (1, 7)
LITERAL_EXPONENT = (-7, 8)
SIGNED_OFFSET = 64
"""A signed post-synaptic factor is sent as ``64 + value``."""
ENGINE_SEED = 2
"""Lava's bit-approximate engine seeds its stochastic rounding with 2."""
NO_DECAY_TAU = 2**60
"""A trace time constant for which ``exp(-1/tau)`` is exactly 1.0 in float64."""
PWL_SEGMENTS = 64
PREDICTION_BITS = 16
"""A dendrite's prediction factor is a 16-bit multiplier."""
TABLE_FRACTION = 8
"""Fractional bits of a table's breakpoint values."""

# -- Defaults for ranges the pass cannot bound -------------------------------

DEFAULT_INPUT_RANGE = 2.0
"""Input rates (patterns) are assumed in [0, 2): datasets are scaled to [0, 1]."""
DEFAULT_RATE_RANGE = 4.0
"""Unbounded transfer functions saturate their payload at 4.0."""
DEFAULT_FACTOR_RANGE = 4.0
"""Unsigned learning factors (functions of a potential) saturate at 4.0."""
DEFAULT_SIGNED_FACTOR_RANGE = 1.0
"""Signed learning factors (potentials) saturate at +-1.0."""
PLASTIC_HEADROOM = 2.0
"""A plastic projection's weights may grow to 2x their initial largest value.

A trade of range for resolution: bars' weights clip at 2 (W_up1 reaches 2.9
in float), which costs less than the coarser steps of a larger range."""

# -- Loihi 2 limits (docs/loihi.md gives the sources) -------------------------

CORES_PER_CHIP = 128
NEURONS_PER_CORE = 8192
SYNAPSE_MEMORY_BITS = 128 * 1024 * 8
BITS_PER_FIXED_SYNAPSE = 9
BITS_PER_PLASTIC_SYNAPSE = 18
POST_TRACES = 3


class LoweringError(ValueError):
    """The network cannot be lowered; ``diagnostics`` says why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


# -- Plan ----------------------------------------------------------------------


@dataclass
class Table:
    """A piecewise-linear integer function ``y = f(x)``.

    Breakpoints at ``lo + i * 2**shift`` for ``i = 0 .. len(values) - 1``,
    holding ``f`` with 8 fractional bits; between two, the interpolation
    ``v[i] + ((v[i+1] - v[i]) * frac >> shift)``, rounded to an integer
    (``(... + 128) >> 8``) and clipped to ``[low, high]``; below the first
    and above the last breakpoint the end values hold.
    """

    lo: int
    shift: int
    values: list[int]
    low: int
    high: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        fine = self.fine(x)
        rounded = (fine + (1 << (TABLE_FRACTION - 1))) >> TABLE_FRACTION
        return np.clip(rounded, self.low, self.high)

    def fine(self, x: np.ndarray) -> np.ndarray:
        """The interpolated value with its 8 fractional bits, unclipped."""
        v = np.asarray(self.values, dtype=np.int64)
        n = len(v) - 1
        d = np.clip(np.asarray(x, dtype=np.int64) - self.lo, 0, n << self.shift)
        if n == 0:
            return np.full_like(d, v[0])
        i = np.minimum(d >> self.shift, n - 1)
        frac = d - (i << self.shift)
        return v[i] + (((v[i + 1] - v[i]) * frac) >> self.shift)


@dataclass
class Term:
    """One input of a compartment's current: ``gain * value / 4096`` per step.

    ``kind``: ``leak`` (value: the resting potential), ``coupling`` (a
    dendrite's input or another compartment's potential), ``direct`` (a
    projection's current), ``target`` (the filtered target, only while
    teaching), ``nudge`` (another population's potential).
    """

    kind: str
    source: str
    gain_teach: int
    gain_free: int
    value: int = 0


@dataclass
class CompartmentPlan:
    """An integrating compartment: ``u += (sum gain*value - decay*u + 2048) >> 12``."""

    name: str
    rest: int
    decay_teach: int
    decay_free: int
    terms: list[Term]
    noise: int
    """Half-width of the uniform integer noise added per step (0: none)."""


@dataclass
class AtomTerm:
    """One function of one post-synaptic variable inside a learning factor.

    ``source`` is a compartment (``kind`` potential, input scale ``s_u``) or
    a dendrite (``kind`` dendrite, scale ``s_a``). Its fine value, in units
    of ``factor scale * 2**-8``, is ``table.fine(x)`` or, for the variable
    itself, ``x`` shifted left by ``8 - shift`` (``s_factor = s_in * 2**shift``).
    """

    atom: str
    source: str
    kind: str
    gain: int
    """Signed 12-bit weight of the term in the factor (4096 is 1)."""
    table: Table | None = None
    shift: int = 0
    multiplier: int = 0
    """For a tabled dendrite: its input is ``((a << 6) * multiplier + 2**15) >> 16``,
    in potential units; 0 for a potential or the dendrite itself."""


@dataclass
class FactorPlan:
    """A post-synaptic learning factor ``y<slot>`` a population sends.

    ``y = clip(offset + ((sum_k gain_k * fine_k + const + 2**19) >> 20), 0, 127)``
    with the terms of ``terms``; it stands for ``(y - offset) * scale``.
    """

    slot: int
    text: str
    scale: float
    offset: int
    terms: list[AtomTerm]
    const: int = 0


@dataclass
class PopulationPlan:
    """A population in integers: its scales, compartments, tables, factors."""

    name: str
    index: int
    size: int
    is_input: bool
    p_a: int = 0
    """Dendritic input scale ``s_a = 2**-p_a``; potentials ``s_u = 2**-(p_a+6)``."""
    p_r: int = 0
    """Rate payload scale ``s_r = 2**-p_r``."""
    compartments: list[CompartmentPlan] = field(default_factory=list)
    dendrites: list[str] = field(default_factory=list)
    rate_source: str | None = None
    rate: Table | None = None
    factors: list[FactorPlan] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)
    """Compartments whose potential is sent as a 16-bit payload."""
    filter_gain: int = 0
    """Input and target low-pass gain (x / 4096); 0: no filter."""
    p_f: int = 0
    """Input filter state scale ``2**-p_f`` (inputs only)."""

    @property
    def p_u(self) -> int:
        return self.p_a + ACTIVATION_SHIFT


@dataclass
class ProductPlan:
    """One product of a learning-rule string: ``m * 2^e * y0 * factors``."""

    mantissa: int
    exponent: int
    factors: list[tuple[str, int]]
    """(state variable, constant added) per factor; x0, x1, y1..y3, w, t."""
    shift: int
    """The engine's right shift of this product (its factor widths past 15)."""
    ideal: float
    """The literal the float rule asks for; ``mantissa * 2**exponent`` is kept."""
    meaning: str
    decimation: int | None = None
    """None: the product's dependency is ``y0`` (the post-synaptic bAP). An
    integer ``k``: its dependency is ``u<k>`` (every ``2**k``-th epoch) and
    ``y0`` is a factor."""

    @property
    def literal(self) -> float:
        return self.mantissa * 2.0**self.exponent

    def text(self) -> str:
        head = f"2^{self.exponent}"
        if abs(self.mantissa) != 1:
            head = f"{abs(self.mantissa)}*{head}"
        parts = [head, "y0" if self.decimation is None else f"u{self.decimation}"]
        for var, const in self.factors:
            parts.append(_factor_text(var, const))
        return " * ".join(parts)


def _factor_text(var: str, const: int) -> str:
    """``y1``, ``(y3 - 2^6)``, ``sgn(d - 5*2^5)``: a factor as Lava parses it."""
    name = var[4:-1] if var.startswith("sgn(") else var
    if const:
        sign = "-" if const < 0 else "+"
        magnitude = abs(const)
        exponent = (magnitude & -magnitude).bit_length() - 1
        mantissa = magnitude >> exponent
        literal = f"2^{exponent}" if mantissa == 1 else f"{mantissa}*2^{exponent}"
        inner = f"{name} {sign} {literal}"
    else:
        inner = name
    if var.startswith("sgn("):
        return f"sgn({inner})"
    return f"({inner})" if const else inner


@dataclass
class RulePlan:
    """A projection's rule lowered onto the learning engine."""

    rule: str
    lowpass: float | None
    dw: list[ProductPlan]
    dt: list[ProductPlan]
    tag_scale: float = 0.0
    """Float value of one tag unit (lowpass only)."""
    decay_ideal: float = 0.0
    dd: list[ProductPlan] = field(default_factory=list)
    """The residual ``d`` (``tag_2``): the tag's consolidation and the carry."""

    @staticmethod
    def join(products: list[ProductPlan]) -> str:
        text = ""
        for product in products:
            sign = "-" if product.mantissa < 0 else "+"
            if not text:
                text = ("-" if sign == "-" else "") + product.text()
            else:
                text += f" {sign} {product.text()}"
        return text

    @property
    def dw_text(self) -> str:
        return self.join(self.dw)

    @property
    def dt_text(self) -> str | None:
        return self.join(self.dt) if self.dt else None

    @property
    def dd_text(self) -> str | None:
        return self.join(self.dd) if self.dd else None


@dataclass
class ProjectionPlan:
    """Weights as the chip holds them, and how their sum is scaled.

    The synapses' output is ``(W @ s) << weight_exp`` (``>> -weight_exp``
    when negative, rounding down), in the target's dendritic scale. ``kind``
    is ``rate`` (the source's rate payload), ``potential`` (a compartment's
    16-bit potential payload) or ``nudge`` (a one-to-one teaching link).
    """

    name: str
    source: str
    source_var: str
    target: str
    compartment: str
    one_to_one: bool
    kind: str
    p_w: int
    weight_exp: int
    weights: list
    sign_mode: str = "mixed"
    plastic: RulePlan | None = None
    learn_slots: list[int] = field(default_factory=list)


@dataclass
class LoihiPlan:
    """Everything the loihi target computes with, in integers."""

    network: str
    dt: float
    seed: int
    epoch: int
    steps_per_pattern: int
    settle_steps: int
    readout_steps: int
    input: str
    output: str
    readout: str
    populations: list[PopulationPlan]
    projections: list[ProjectionPlan]
    phases: list[dict]
    target_high: float
    target_low: float
    factoring: str = "combined"
    quantisation: list[dict] = field(default_factory=list)
    resources: dict = field(default_factory=dict)

    def population(self, name: str) -> PopulationPlan:
        for population in self.populations:
            if population.name == name:
                return population
        raise KeyError(name)

    def projection(self, name: str) -> ProjectionPlan:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    def to_dict(self) -> dict:
        """The plan as plain JSON-able data."""
        data = asdict(self)
        for projection, raw in zip(self.projections, data["projections"], strict=True):
            if projection.plastic is not None:
                raw["plastic"]["dw_text"] = projection.plastic.dw_text
                raw["plastic"]["dd_text"] = projection.plastic.dd_text
                raw["plastic"]["dt_text"] = projection.plastic.dt_text
        return data


@dataclass
class Pin:
    """A scale the user fixes: by ``range`` (largest magnitude) or ``exponent``."""

    range: float | None = None
    exponent: int | None = None


# -- Small numerics ----------------------------------------------------------


def to_literal(value: float) -> tuple[int, int] | None:
    """The literal ``m * 2^e`` nearest ``value`` in relative terms, or None.

    ``|m|`` is 1..7 and ``e`` -7..8; None when ``value`` is 0 or rounds
    outside that range.
    """
    if value == 0 or not math.isfinite(value):
        return None
    sign = 1 if value > 0 else -1
    magnitude = abs(value)
    best: tuple[float, int, int] | None = None
    for e in range(LITERAL_EXPONENT[1], LITERAL_EXPONENT[0] - 1, -1):
        for m in range(LITERAL_MANTISSA[0], LITERAL_MANTISSA[1] + 1):
            error = abs(math.log(m * 2.0**e / magnitude))
            if best is None or error < best[0] - 1e-12:
                best = (error, m, e)
    assert best is not None
    error, m, e = best
    if error > math.log(1.5):
        return None
    return sign * m, e


def gain12(value: float) -> int:
    """``round(4096 * value)``, the 12-bit representation of a rate per step."""
    return int(round(value * (1 << DECAY_BITS)))


def exponent_for(range_: float, levels: int) -> int:
    """The ``p`` of the finest scale ``2**-p`` with ``levels * 2**-p >= range_``."""
    return int(math.floor(math.log2(levels / range_)))


# -- Expressions ---------------------------------------------------------------


def evaluate(expr: ir.Expr, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate ``expr`` in float64 with names from ``env`` (dotted)."""
    if isinstance(expr, ir.Num):
        return np.float64(expr.value)
    if isinstance(expr, ir.Ref):
        return env[expr.dotted]
    if isinstance(expr, ir.Unary):
        return -evaluate(expr.operand, env)
    if isinstance(expr, ir.Binary):
        a, b = evaluate(expr.left, env), evaluate(expr.right, env)
        with np.errstate(all="ignore"):
            return {
                "+": np.add,
                "-": np.subtract,
                "*": np.multiply,
                "/": np.divide,
                "**": np.power,
            }[expr.op](a, b)
    args = [evaluate(arg, env) for arg in expr.args]
    return _call(expr.func, args)


def _call(func: str, args: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        if func in ("exp", "log", "tanh", "abs"):
            return getattr(np, func)(args[0])
        if func == "logistic":
            return 1.0 / (1.0 + np.exp(-args[0]))
        if func == "soft_relu":
            x, gamma, beta, theta = args
            return gamma * np.logaddexp(0.0, beta * (x - theta))
        if func == "relu":
            return np.maximum(args[0], 0.0)
        if func == "linear":
            return args[0]
        if func in ("min", "max"):
            return getattr(np, f"{func}imum")(*args)
        if func == "clip":
            return np.clip(*args)
    raise ValueError(f"unknown function {func!r}")


def refs_of(expr: ir.Expr) -> list[ir.Ref]:
    """Every reference in ``expr``, in order."""
    if isinstance(expr, ir.Ref):
        return [expr]
    if isinstance(expr, ir.Unary):
        return refs_of(expr.operand)
    if isinstance(expr, ir.Binary):
        return refs_of(expr.left) + refs_of(expr.right)
    if isinstance(expr, ir.Call):
        return [r for arg in expr.args for r in refs_of(arg)]
    return []


def show(expr: ir.Expr) -> str:
    """A readable one-line rendering of ``expr`` (for reports only)."""
    if isinstance(expr, ir.Num):
        return f"{expr.value:g}"
    if isinstance(expr, ir.Ref):
        return expr.dotted
    if isinstance(expr, ir.Unary):
        return f"-{show(expr.operand)}"
    if isinstance(expr, ir.Binary):
        return f"({show(expr.left)} {expr.op} {show(expr.right)})"
    return f"{expr.func}({', '.join(show(a) for a in expr.args)})"


def key(expr: ir.Expr) -> tuple:
    """A structural key of ``expr`` that ignores spans."""
    if isinstance(expr, ir.Num):
        return ("num", expr.value)
    if isinstance(expr, ir.Ref):
        return ("ref", expr.parts)
    if isinstance(expr, ir.Unary):
        return ("neg", key(expr.operand))
    if isinstance(expr, ir.Binary):
        return (expr.op, key(expr.left), key(expr.right))
    return ("call", expr.func, tuple(key(a) for a in expr.args))


class _NotPolynomial(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


Monomial = tuple[int, int, tuple[int, ...]]
"""(power of pre.rate, power of w, sorted atom indices)."""


class _Expander:
    """Expands a rule's update into a sum of monomials over atoms.

    An atom is a maximal sub-expression that reads exactly one post-synaptic
    variable and nothing else; the pre-synaptic rate and the weight must
    enter polynomially.
    """

    def __init__(self) -> None:
        self.atoms: list[ir.Expr] = []
        self._keys: list[tuple] = []

    def atom(self, expr: ir.Expr) -> int:
        k = key(expr)
        if k not in self._keys:
            self._keys.append(k)
            self.atoms.append(expr)
        return self._keys.index(k)

    def expand(self, expr: ir.Expr) -> dict[Monomial, float]:
        names = {r.dotted for r in refs_of(expr)}
        post = {n for n in names if n.startswith("post.")}
        if not names:
            return {(0, 0, ()): float(evaluate(expr, {}))}
        if names == post and len(post) == 1 and not self._splittable(expr):
            return {(0, 0, (self.atom(expr),)): 1.0}
        if isinstance(expr, ir.Ref):
            if expr.dotted == "pre.rate":
                return {(1, 0, ()): 1.0}
            if expr.dotted == "w":
                return {(0, 1, ()): 1.0}
            raise _NotPolynomial(expr.span, f"'{expr.dotted}' is not local")
        if isinstance(expr, ir.Unary):
            return {k: -v for k, v in self.expand(expr.operand).items()}
        if isinstance(expr, ir.Binary):
            if expr.op in "+-":
                left, right = self.expand(expr.left), self.expand(expr.right)
                sign = 1.0 if expr.op == "+" else -1.0
                out = dict(left)
                for k, v in right.items():
                    out[k] = out.get(k, 0.0) + sign * v
                return out
            if expr.op == "*":
                return _multiply(self.expand(expr.left), self.expand(expr.right))
            if expr.op == "/" and not refs_of(expr.right):
                divisor = float(evaluate(expr.right, {}))
                return {k: v / divisor for k, v in self.expand(expr.left).items()}
            if expr.op == "**" and not refs_of(expr.right):
                power = float(evaluate(expr.right, {}))
                if power == int(power) and 0 <= power <= 3:
                    out = {(0, 0, ()): 1.0}
                    for _ in range(int(power)):
                        out = _multiply(out, self.expand(expr.left))
                    return out
        raise _NotPolynomial(
            expr.span,
            f"'{show(expr)}' mixes the pre-synaptic rate, the weight or several "
            "post-synaptic variables in a way that is not a sum of products",
        )

    @staticmethod
    def _splittable(expr: ir.Expr) -> bool:
        """A sum, difference, product or negation is split, to share atoms."""
        return isinstance(expr, ir.Unary) or (
            isinstance(expr, ir.Binary) and expr.op in "+-*"
        )


def _multiply(a: dict[Monomial, float], b: dict[Monomial, float]) -> dict:
    out: dict[Monomial, float] = {}
    for (pa, wa, xa), va in a.items():
        for (pb, wb, xb), vb in b.items():
            k = (pa + pb, wa + wb, tuple(sorted(xa + xb)))
            out[k] = out.get(k, 0.0) + va * vb
    return out


# -- The pass ----------------------------------------------------------------


def spec_pins(network: ir.Network) -> tuple[dict[str, Pin], int | None]:
    """The pins and the epoch of ``network``'s ``loihi`` block, as arguments."""
    if network.loihi is None:
        return {}, None
    pins = {
        p.variable: Pin(range=p.range, exponent=p.exponent) for p in network.loihi.pins
    }
    return pins, network.loihi.epoch


def lower_loihi(
    network: ir.Network,
    weights: Mapping[str, np.ndarray],
    pins: Mapping[str, Pin] | None = None,
    epoch: int | None = None,
    factoring: str = "combined",
) -> tuple[LoihiPlan | None, list[Diagnostic]]:
    """Lower ``network`` with initial ``weights`` onto Loihi 2.

    Args:
        network: the checked network.
        weights: the initial weights of every projection (``mcdl.init``).
        pins: scales the user fixes, by quantised variable name (the names
            of the quantisation report, e.g. ``hidden.pyr.rate``, ``W_up1``,
            ``hidden.pyr.y3``, ``hidden.pyr.potential``); by default those of
            the spec's ``loihi`` block.
        epoch: the learning epoch in steps; by default the spec's, else the
            one that keeps the low-pass time constants closest.
        factoring: ``combined`` (the neuron computes each rule's whole
            post-synaptic part, one factor per rule) or ``expanded`` (one
            factor per function of a post-synaptic variable, products
            expanded into a sum).

    Returns:
        The plan, or None with the diagnostics that say why not.
    """
    if factoring not in ("combined", "expanded"):
        raise ValueError(
            f"factoring must be 'combined' or 'expanded', not {factoring!r}"
        )
    spec, spec_epoch = spec_pins(network)
    pins = spec if pins is None else pins
    epoch = spec_epoch if epoch is None else epoch
    lowering = _Lowering(network, dict(weights), dict(pins), epoch, factoring)
    plan = lowering.run()
    # Only a lowering that went through has asked for every scale it has.
    unknown = sorted(set(pins) - lowering.asked) if plan is not None else []
    spans = {p.variable: p.span for p in network.loihi.pins} if network.loihi else {}
    for name in unknown:
        message = f"the loihi target quantises no variable named '{name}'"
        hint = did_you_mean(name, lowering.asked) or "see the quantisation report"
        lowering.error(UNKNOWN_PIN, spans.get(name, network.span), message, hint)
    diagnostics = sorted(lowering.diagnostics, key=Diagnostic.sort_key)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    return plan, diagnostics


def _diag(code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, span=span, message=message, hint=hint)


class _Lowering:
    def __init__(
        self,
        network: ir.Network,
        weights: dict[str, np.ndarray],
        pins: dict[str, Pin],
        epoch: int | None,
        factoring: str = "combined",
    ) -> None:
        self.factoring = factoring
        self.net = network
        self.weights = weights
        self.pins = pins
        self.epoch_pin = epoch
        self.asked: set[str] = set()
        self.diagnostics: list[Diagnostic] = []
        self.report: list[dict] = []
        self.pops: dict[str, PopulationPlan] = {}
        self.ranges: dict[str, float] = {}
        self.steps = int(round(network.protocol.pattern / network.dt))
        self.settle = int(round(network.protocol.settle / network.dt))
        self.readout = int(round(network.protocol.readout / network.dt))

    # -- Reporting -----------------------------------------------------------

    def error(self, code: str, span: Span, message: str, hint: str | None = None):
        self.diagnostics.append(_diag(code, span, message, hint))

    def entry(self, name: str, kind: str, bits: int, signed: bool, scale: float, **kw):
        low = -(2 ** (bits - 1)) if signed else 0
        high = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        row = {
            "name": name,
            "kind": kind,
            "bits": bits,
            "signed": signed,
            "scale": scale,
            "range": [low * scale, high * scale],
            "error": kw.pop("error", scale / 2),
            "source": kw.pop("source", "derived"),
        }
        row.update(kw)
        self.report.append(row)

    def pinned(self, name: str, default_range: float, levels: int) -> tuple[int, str]:
        """The exponent for ``name``: pinned, or from ``default_range``."""
        self.asked.add(name)
        pin = self.pins.get(name)
        if pin is not None and pin.exponent is not None:
            return pin.exponent, "pinned"
        if pin is not None and pin.range is not None:
            return exponent_for(pin.range, levels), "pinned"
        return exponent_for(default_range, levels), "default"

    # -- Driver ----------------------------------------------------------------

    def run(self) -> LoihiPlan | None:
        net = self.net
        for index, population in enumerate(net.populations):
            self.pops[population.name] = PopulationPlan(
                name=population.name,
                index=index,
                size=population.size,
                is_input=population.is_input,
            )
        self._check_support()
        self._rate_scales()
        self._potential_scales()
        exponents = self._weight_exponents()
        projections = [self._projection(p, *exponents[p.name]) for p in net.projections]
        projections += self._nudge_links()
        if net.protocol.lowpass > 0:
            gain = gain12(net.dt / net.protocol.lowpass)
            for population in self.pops.values():
                population.filter_gain = gain
        for population in net.populations:
            if not population.is_input:
                self._compartments(population)
                self._rate_table(population)
        self._sends(projections)
        epoch = self._epoch()
        for projection, plan in zip(net.projections, projections, strict=False):
            if projection.plasticity is not None:
                plan.plastic = self._rule(projection, plan, epoch)
        self._check_phases()
        if any(d.severity is Severity.ERROR for d in self.diagnostics):
            return None
        plan = LoihiPlan(
            network=net.name,
            dt=net.dt,
            seed=net.seed,
            epoch=epoch,
            steps_per_pattern=self.steps,
            settle_steps=self.settle,
            readout_steps=self.readout,
            input=net.input,
            output=net.output,
            readout=self._readout_compartment(),
            populations=list(self.pops.values()),
            projections=projections,
            phases=[
                {
                    "name": p.name,
                    "patterns": p.patterns,
                    "epochs": p.epochs,
                    "input": p.input,
                    "teach": p.teach,
                    "noise": p.noise,
                    "learn": list(p.learn),
                }
                for p in net.protocol.phases
            ],
            target_high=net.protocol.target_high,
            target_low=net.protocol.target_low,
            factoring=self.factoring,
        )
        plan.quantisation = self.report
        plan.resources = self._resources(plan)
        return plan

    # -- Support checks --------------------------------------------------------

    def _check_support(self) -> None:
        for population in self.net.populations:
            for compartment in population.compartments:
                if compartment.current is not None:
                    self.error(
                        NOT_SUPPORTED,
                        compartment.current.span,
                        f"{population.name}.{compartment.name}: an explicit "
                        "current cannot be compiled for loihi",
                        "write the dynamics with leak, couplings and projections",
                    )
        for projection in self.net.projections:
            if projection.one_to_one and projection.plastic:
                self.error(
                    NOT_SUPPORTED,
                    projection.span,
                    f"{projection.name}: a plastic one-to-one projection is not "
                    "supported on loihi (the learning engine would learn the "
                    "zero weights of a dense matrix too)",
                )

    # -- Scales ------------------------------------------------------------------

    def _rate_scales(self) -> None:
        for population in self.net.populations:
            plan = self.pops[population.name]
            name = f"{population.name}.rate"
            if population.is_input:
                p, source = self.pinned(name, DEFAULT_INPUT_RANGE, 2**RATE_BITS)
                plan.p_r = p
                plan.p_f = p + 8
                self.ranges[name] = 2**RATE_BITS * 2.0**-p
                self.entry(
                    name,
                    "rate payload",
                    RATE_BITS,
                    False,
                    2.0**-p,
                    source=source,
                    note="input patterns above the range saturate",
                )
                continue
            bound = self._rate_bound(population)
            p, source = self.pinned(name, bound, 2**RATE_BITS)
            plan.p_r = p
            self.ranges[name] = 2**RATE_BITS * 2.0**-p

    def _rate_bound(self, population: ir.Population) -> float:
        """The rate's largest value over all potentials, capped at the default."""
        compartment = self._rate_compartment(population)
        if compartment is None:
            return DEFAULT_RATE_RANGE
        u = np.linspace(-1e3, 1e3, 200001)
        values = evaluate(population.rate, {compartment: u})
        top = float(np.nanmax(values))
        return min(top, DEFAULT_RATE_RANGE) if top > 0 else DEFAULT_RATE_RANGE

    def _rate_compartment(self, population: ir.Population) -> str | None:
        names = (
            {r.dotted for r in refs_of(population.rate)} if population.rate else set()
        )
        integrating = [
            c.name for c in population.compartments if c.kind == "integrating"
        ]
        inside = [n for n in names if n in integrating]
        if len(names) != 1 or len(inside) != 1:
            return None
        return inside[0]

    def _potential_scales(self) -> None:
        """One dendritic scale per population, from a bound on its inputs."""
        net = self.net
        bounds: dict[str, float] = {}
        for population in net.populations:
            if population.is_input:
                continue
            bound = 1.0
            for compartment in population.compartments:
                total = sum(
                    self._drive_bound(p, bounds)
                    for p in net.projections
                    if (p.target, p.compartment) == (population.name, compartment.name)
                )
                bound = max(bound, total, abs(compartment.rest))
            for nudging in net.nudgings:
                if nudging.target == population.name and nudging.source is None:
                    protocol = net.protocol
                    bound = max(
                        bound, abs(protocol.target_high), abs(protocol.target_low)
                    )
            bounds[population.name] = bound
        # A population nudged by another's potential holds that potential's range.
        for nudging in net.nudgings:
            if nudging.source is not None and nudging.source in bounds:
                bounds[nudging.target] = max(
                    bounds[nudging.target], bounds[nudging.source]
                )
        for name, bound in bounds.items():
            p, source = self.pinned(
                f"{name}.potential", bound, 2 ** (ACTIVATION_BITS - 1)
            )
            self.pops[name].p_a = p
            self.entry(
                f"{name}.dendrites",
                "dendritic input",
                ACTIVATION_BITS,
                True,
                2.0**-p,
                source=source,
                note=f"bound {bound:.3g}: sum_j |W0_ij| * source range, largest "
                "over the population's compartments",
            )
            self.entry(
                f"{name}.potential",
                "potential",
                STATE_BITS,
                True,
                2.0 ** -(p + ACTIVATION_SHIFT),
                source=source,
                note="6 bits finer than the dendritic input",
            )
        # Where a nudging source is coarser, the target takes its scale.
        for nudging in net.nudgings:
            if nudging.source is not None:
                src, tgt = self.pops[nudging.source], self.pops[nudging.target]
                tgt.p_a = min(tgt.p_a, src.p_a)

    def _drive_bound(
        self, projection: ir.Projection, bounds: dict[str, float]
    ) -> float:
        w = np.abs(np.asarray(self.weights[projection.name], dtype=np.float64))
        if projection.source_var == "rate":
            srange = self.ranges.get(f"{projection.source}.rate", DEFAULT_RATE_RANGE)
        else:
            srange = bounds.get(projection.source, 16.0)
        if projection.one_to_one:
            return float(w.max(initial=0.0)) * srange
        return float(w.sum(axis=1).max(initial=0.0)) * srange

    # -- Projections -----------------------------------------------------------

    def _weight_exponents(self) -> dict[str, tuple[int, str]]:
        """Each projection's weight exponent and where it came from.

        A projection initialised self-predicting from another shares the
        coarser exponent of the two, so that ``W_PI = -W_down`` (and the
        like) holds exactly in integers and the apical potentials start at
        rest, as in float.
        """
        out: dict[str, tuple[int, str]] = {}
        for projection in self.net.projections:
            w = np.asarray(self.weights[projection.name], dtype=np.float64)
            largest = float(np.abs(w).max(initial=0.0)) or 1.0
            headroom = PLASTIC_HEADROOM if projection.plastic else 1.0
            out[projection.name] = self.pinned(projection.name, largest * headroom, 256)
        for projection in self.net.projections:
            init = projection.init
            if isinstance(init, ir.SelfPredictingInit) and abs(init.factor) == 1.0:
                a, b = out[projection.name], out[init.source]
                shared = min(a[0], b[0])
                pair = (
                    (projection.name, a, init.source),
                    (init.source, b, projection.name),
                )
                for name, (p, source), other in pair:
                    if p != shared and source != "pinned":
                        out[name] = (shared, f"shared with {other} (self-predicting)")
        return out

    def _projection(
        self, projection: ir.Projection, p: int, source: str
    ) -> ProjectionPlan:
        w = np.asarray(self.weights[projection.name], dtype=np.float64)
        headroom = PLASTIC_HEADROOM if projection.plastic else 1.0
        scale = 2.0**-p
        if projection.one_to_one:
            matrix = np.diag(w)
        else:
            matrix = w
        q = 2 * np.round(matrix / (2 * scale))
        q = np.clip(q, WEIGHT_MIN, WEIGHT_MAX - 1).astype(np.int64)
        error = float(np.abs(q * scale - matrix).max(initial=0.0))
        clipped = int(np.sum(np.abs(matrix) > (WEIGHT_MAX + 0.5) * scale))
        tgt = self.pops[projection.target]
        src = self.pops[projection.source]
        if projection.source_var == "rate":
            kind, p_src = "rate", src.p_r
        else:
            kind, p_src = "potential", src.p_a
        weight_exp = tgt.p_a - p - p_src
        self.entry(
            projection.name,
            "weight" + (" (plastic)" if projection.plastic else ""),
            9,
            True,
            scale,
            error=error,
            source=source,
            weight_exp=weight_exp,
            note=(
                f"initial weights quantised to even values (Lava drops the "
                f"mixed-sign LSB); headroom x{headroom:g}"
                + (f"; {clipped} weights clipped" if clipped else "")
            ),
        )
        return ProjectionPlan(
            name=projection.name,
            source=projection.source,
            source_var=projection.source_var,
            target=projection.target,
            compartment=projection.compartment,
            one_to_one=projection.one_to_one,
            kind=kind,
            p_w=p,
            weight_exp=weight_exp,
            weights=q.tolist(),
        )

    def _nudge_links(self) -> list[ProjectionPlan]:
        links = []
        for nudging in self.net.nudgings:
            if nudging.source is None:
                continue
            src, tgt = self.pops[nudging.source], self.pops[nudging.target]
            size = tgt.size
            links.append(
                ProjectionPlan(
                    name=f"nudge:{nudging.target}.{nudging.compartment}",
                    source=nudging.source,
                    source_var=nudging.source_compartment or "soma",
                    target=nudging.target,
                    compartment=nudging.compartment,
                    one_to_one=True,
                    kind="nudge",
                    p_w=0,
                    weight_exp=tgt.p_a - src.p_a,
                    weights=np.eye(size, dtype=np.int64).tolist(),
                    sign_mode="excitatory",
                )
            )
        return links

    def _sends(self, projections: list[ProjectionPlan]) -> None:
        for plan in projections:
            if plan.kind in ("potential", "nudge"):
                sends = self.pops[plan.source].sends
                if plan.source_var not in sends:
                    sends.append(plan.source_var)

    # -- Compartments ------------------------------------------------------------

    def _compartments(self, population: ir.Population) -> None:
        net = self.net
        plan = self.pops[population.name]
        plan.dendrites = [
            c.name for c in population.compartments if c.kind == "dendrite"
        ]
        s_u = 2.0**-plan.p_u
        for compartment in population.compartments:
            if compartment.kind == "integrating":
                plan.compartments.append(
                    self._integration(population, compartment, s_u)
                )
        if population.name == net.output and plan.filter_gain:
            self.entry(
                f"{population.name}.target",
                "filtered target",
                STATE_BITS,
                True,
                s_u,
                filter_gain=plan.filter_gain,
                note=f"low-pass gain {plan.filter_gain}/4096 for dt/tau0 = "
                f"{net.dt / net.protocol.lowpass:.5g}",
            )

    def _integration(
        self, population: ir.Population, compartment: ir.Compartment, s_u: float
    ) -> CompartmentPlan:
        """The 12-bit gains of one compartment, with and without teaching."""
        net = self.net
        C = compartment.capacitance
        # (kind, source, conductance or None for a direct current, teach only)
        inputs: list[tuple[str, str, float | None, bool]] = [
            ("leak", "rest", compartment.leak, False)
        ]
        for coupling in population.couplings:
            if coupling.target == compartment.name:
                inputs.append(
                    ("coupling", coupling.source, coupling.conductance, False)
                )
        for nudging in net.nudgings:
            if (nudging.target, nudging.compartment) != (
                population.name,
                compartment.name,
            ):
                continue
            if nudging.source is None:
                inputs.append(("target", "target", nudging.conductance, True))
            else:
                link = f"nudge:{population.name}.{compartment.name}"
                inputs.append(("nudge", link, nudging.conductance, False))
        if any(
            (p.target, p.compartment) == (population.name, compartment.name)
            for p in net.projections
        ):
            inputs.append(("direct", compartment.name, None, False))
        gains: dict[bool, list[tuple[int, float]]] = {}
        decays: dict[bool, int] = {}
        for teach in (True, False):
            on = [teach or not only for *_, only in inputs]
            total = sum(
                g for (_, _, g, _), o in zip(inputs, on, strict=True) if o and g
            )
            if net.integration == "exponential" and total > 0:
                step = 1.0 - math.exp(-net.dt * total / C)
                exact = [
                    step * (g if g is not None else 1.0) / total
                    for _, _, g, _ in inputs
                ]
                decays[teach] = gain12(step)
            else:
                exact = [
                    net.dt * (g if g is not None else 1.0) / C for _, _, g, _ in inputs
                ]
                decays[teach] = 0
            gains[teach] = [
                (gain12(x) if o else 0, x if o else 0.0)
                for x, o in zip(exact, on, strict=True)
            ]
            if net.integration != "exponential" or total == 0:
                decays[teach] = sum(
                    q
                    for (q, _), (_, _, g, _) in zip(gains[teach], inputs, strict=True)
                    if g is not None
                )
        terms = []
        rest = int(round(compartment.rest / s_u))
        name = f"{population.name}.{compartment.name}"
        for index, (kind, source, g, _) in enumerate(inputs):
            q_teach, x_teach = gains[True][index]
            q_free, _ = gains[False][index]
            terms.append(
                Term(kind, source, q_teach, q_free, rest if kind == "leak" else 0)
            )
            if g is not None and g > 0 and q_teach == 0:
                self.error(
                    CONSTANT_TOO_SMALL,
                    compartment.span,
                    f"{name}: the conductance {g:g} of '{source}' rounds to 0 as a "
                    f"12-bit gain (dt*g/C = {x_teach:.3g} < 1/8192)",
                    "use a larger time step or conductance",
                )
            self.entry(
                f"{name}.gain:{source}",
                "12-bit gain",
                DECAY_BITS,
                False,
                1 / 4096,
                error=abs(q_teach / 4096 - x_teach),
                value=q_teach,
                exact=x_teach,
                relative_error=abs(q_teach / 4096 / x_teach - 1) if x_teach else 0.0,
            )
        noise = 0
        if compartment.noise > 0:
            sigma = compartment.noise * math.sqrt(net.dt)
            noise = max(1, int(round(math.sqrt(3) * sigma / s_u)))
            std = math.sqrt(noise * (noise + 1) / 3) * s_u
            self.entry(
                f"{name}.noise",
                "uniform noise half-width",
                STATE_BITS,
                True,
                s_u,
                error=abs(std - sigma),
                half_width=noise,
                note=f"uniform integers in [-{noise}, {noise}]: std {std:.4g} for "
                f"sigma*sqrt(dt) = {sigma:.4g}",
            )
        return CompartmentPlan(
            name=compartment.name,
            rest=rest,
            decay_teach=decays[True],
            decay_free=decays[False],
            terms=terms,
            noise=noise,
        )

    def _readout_compartment(self) -> str:
        for nudging in self.net.nudgings:
            if nudging.target == self.net.output and nudging.source is None:
                return nudging.compartment
        output = self.net.population(self.net.output)
        return self._rate_compartment(output) or output.compartments[0].name

    # -- Tables ------------------------------------------------------------------

    def _rate_table(self, population: ir.Population) -> None:
        plan = self.pops[population.name]
        compartment = self._rate_compartment(population)
        if compartment is None:
            self.error(
                NOT_SUPPORTED,
                population.rate.span if population.rate else population.span,
                f"{population.name}: on loihi a rate must be a function of one "
                "integrating compartment (it becomes a lookup table)",
            )
            return
        plan.rate_source = compartment
        s_u, s_r = 2.0**-plan.p_u, 2.0**-plan.p_r
        rate = population.rate

        def f(x: np.ndarray) -> np.ndarray:
            return evaluate(rate, {compartment: x})

        table, error, low = build_table(f, s_u, STATE_BITS, s_r, 0, 2**RATE_BITS - 1)
        if low < -0.5 * s_r:
            self.error(
                NOT_SUPPORTED,
                rate.span,
                f"{population.name}: the rate takes negative values "
                f"(down to {low:.3g}); graded-spike payloads and the learning "
                "engine's pre-synaptic trace are unsigned",
            )
        plan.rate = table
        self.entry(
            f"{population.name}.rate",
            "rate payload (piecewise-linear table)",
            RATE_BITS,
            False,
            s_r,
            error=error,
            segments=len(table.values) - 1,
            source="pinned" if f"{population.name}.rate" in self.pins else "derived",
            note=f"rate of {compartment}; saturates at {255 * s_r:g}",
        )

    # -- Learning ----------------------------------------------------------------

    def _epoch(self) -> int:
        """The learning epoch: a divisor of the settling and pattern steps.

        At most ``EPOCH_TIME_CONSTANTS`` times the shortest membrane time
        constant (longer epochs make the learning engine's once-per-epoch
        updates lag the neurons; measured unstable for bars at 4 ms), and
        among those the one whose decay literals keep the low-pass time
        constants closest; on ties the longer.
        """
        if self.epoch_pin is not None:
            return self.epoch_pin
        taus = [
            p.plasticity.lowpass
            for p in self.net.projections
            if p.plasticity is not None and p.plasticity.lowpass
        ]
        longest = max(
            1, int(EPOCH_TIME_CONSTANTS * self._membrane_time() / self.net.dt)
        )
        candidates = [
            t
            for t in range(1, min(MAX_EPOCH, longest) + 1)
            if self.steps % t == 0 and self.settle % t == 0
        ] or [1]
        if not taus:
            return max(candidates)
        best, best_error = candidates[0], math.inf
        for t in candidates:
            error = 0.0
            for tau in taus:
                g = 1 - (1 - self.net.dt / tau) ** t
                literal = to_literal(g)
                kept = literal[0] * 2.0 ** literal[1] if literal else 1.0
                if kept >= 1:
                    error = math.inf
                    break
                tau_kept = -t * self.net.dt / math.log(1 - kept)
                error = max(error, abs(tau_kept - tau) / tau)
            if error < best_error - 0.005 or (
                abs(error - best_error) <= 0.005 and t > best
            ):
                best, best_error = t, error
        return best

    @staticmethod
    def _tag_unit(ideals: Callable[[float], list[tuple]]) -> tuple[float, list[tuple]]:
        """The tag's unit, as the share ``c_w`` of a weight unit, and its products.

        ``c_w`` is a power of two whose consolidation literal
        ``RESIDUAL_STEP * c_w`` the engine can hold. Of those, the one whose Hebbian
        literals are nearest the rule's (an ideal below the engine's smallest
        exponent would be rounded to a far mantissa); on ties the largest,
        which gives the tag the widest range.
        """
        largest = 7 * 2.0 ** LITERAL_EXPONENT[1]
        best: tuple[float, float, list[tuple]] | None = None
        # The consolidation literal RESIDUAL_STEP * c_w lies in 2^-7 .. 2^8.
        top = 8 - (RESIDUAL_STEP.bit_length() - 1)
        for k in range(top, top - 16, -1):
            table = ideals(2.0**k)
            if max(abs(row[0]) for row in table) > largest:
                continue
            worst = 0.0
            for ideal, *_ in table:
                literal = to_literal(ideal)
                if literal is None:
                    worst = math.inf
                    break
                worst = max(worst, abs(literal[0] * 2.0 ** literal[1] / ideal - 1))
            if best is None or worst < best[0] - 1e-9:
                best = (worst, 2.0**k, table)
        if best is None:
            return 2.0**2, ideals(2.0**2)
        return best[1], best[2]

    def _membrane_time(self) -> float:
        """The shortest ``C / G`` over the integrating compartments (teaching)."""
        shortest = math.inf
        for population in self.net.populations:
            for compartment in population.compartments:
                if compartment.kind != "integrating":
                    continue
                total = compartment.leak + sum(
                    c.conductance
                    for c in population.couplings
                    if c.target == compartment.name
                )
                total += sum(
                    n.conductance
                    for n in self.net.nudgings
                    if (n.target, n.compartment) == (population.name, compartment.name)
                )
                if total > 0:
                    shortest = min(shortest, compartment.capacitance / total)
        return shortest if math.isfinite(shortest) else self.net.protocol.pattern

    def _rule(
        self, projection: ir.Projection, plan: ProjectionPlan, epoch: int
    ) -> RulePlan | None:
        plasticity = projection.plasticity
        assert plasticity is not None
        target = self.net.population(projection.target)
        tgt = self.pops[target.name]
        span = plasticity.update.span
        expander = _Expander()
        try:
            monomials = expander.expand(plasticity.update)
        except _NotPolynomial as problem:
            self.error(
                RULE_NOT_LOWERABLE,
                problem.span,
                f"{projection.name}: rule '{plasticity.rule}' cannot be lowered to "
                f"the learning engine: {problem.message}",
                "the engine sums products of x1 (pre rate), y1..y3 (post factors) "
                "and w",
            )
            return None
        monomials = {k: v for k, v in sorted(monomials.items()) if v != 0.0}
        for pre, w, _ in monomials:
            if pre > 1 or w > 1:
                self.error(
                    RULE_NOT_LOWERABLE,
                    span,
                    f"{projection.name}: a product of rule '{plasticity.rule}' has "
                    f"the pre-synaptic rate to the power {pre} and the weight to "
                    f"the power {w}; the engine has one x1 and one w per product",
                )
                return None
        rows = self._rule_rows(projection, target, tgt, expander, monomials)
        if rows is None:
            return None
        plan.learn_slots = sorted({slot for *_, slots in rows for slot in slots})
        s_x = 2.0 ** -(self.pops[projection.source].p_r - 1)
        s_w = 2.0**-plan.p_w
        dt = self.net.dt
        tau = plasticity.lowpass

        def ideals(gain: float, unit: float) -> list[tuple]:
            out = []
            for coeff, pre, w, slots in rows:
                factors: list[tuple[str, int]] = []
                scale = coeff
                meaning = [f"{coeff:g}"]
                if pre:
                    factors += [("x0", 0), ("x1", 0)]
                    scale *= s_x
                    meaning.append("pre.rate")
                for slot in slots:
                    factor = tgt.factors[slot - 1]
                    factors.append((f"y{slot}", -factor.offset))
                    scale *= factor.scale
                    meaning.append(f"y{slot}")
                if w:
                    factors.append(("w", 0))
                    scale *= s_w
                    meaning.append("w")
                width = sum(FACTOR_WIDTHS[v] for v, _ in factors) + MANTISSA_WIDTH
                shift = max(0, width - ACCUMULATOR)
                ideal = gain * scale * 2.0**shift / unit
                out.append((ideal, factors, shift, " * ".join(meaning)))
            return out

        def products(rows: list[tuple]) -> list[ProductPlan] | None:
            out = []
            for ideal, factors, shift, meaning in rows:
                literal = to_literal(ideal)
                if literal is None:
                    self.error(
                        RATE_OUT_OF_RANGE,
                        span,
                        f"{projection.name}: the product {meaning} needs the engine "
                        f"literal {ideal:.3g}, outside m*2^e (|m| <= 7, "
                        "-7 <= e <= 8)",
                        "change the learning epoch, the learning rate or the "
                        "weight scale",
                    )
                    return None
                out.append(
                    ProductPlan(literal[0], literal[1], factors, shift, ideal, meaning)
                )
            return out

        residual_unit = s_w / RESIDUAL_STEP
        if tau is None:
            # The update goes straight into the residual d, in 1/64 of a weight LSB.
            into_d = products(ideals(epoch * dt, residual_unit))
            if into_d is None:
                return None
            rule = RulePlan(plasticity.rule, None, _steps(), [], dd=into_d + _carry())
        else:
            g_exact = 1 - (1 - dt / tau) ** epoch
            decay = to_literal(g_exact)
            if decay is None or decay[0] * 2.0 ** decay[1] >= 1:
                self.error(
                    RATE_OUT_OF_RANGE,
                    plasticity.span,
                    f"{projection.name}: the low-pass of {tau:g} ms needs a decay "
                    f"of {g_exact:.3g} per epoch, which the engine cannot hold",
                )
                return None
            g_kept = decay[0] * 2.0 ** decay[1]
            per_epoch = s_w / (epoch * dt)
            c_w, table = self._tag_unit(lambda c: ideals(g_kept, c * per_epoch))
            s_t = c_w * per_epoch
            dt_products = products(table)
            if dt_products is None:
                return None
            # The tag's share of a weight per epoch goes into the residual d.
            c_r = epoch * dt * s_t / residual_unit
            literal = to_literal(c_r)
            assert literal is not None
            consolidate = ProductPlan(
                literal[0], literal[1], [("t", 0)], 0, c_r, f"{epoch} * dt * tag"
            )
            leak = ProductPlan(-decay[0], decay[1], [("t", 0)], 0, -g_exact, "decay")
            rule = RulePlan(
                plasticity.rule,
                tau,
                _steps(),
                dt_products + [leak],
                tag_scale=s_t,
                decay_ideal=g_exact,
                dd=[consolidate] + _carry(),
            )
            tau_kept = -epoch * dt / math.log(1 - g_kept)
            self.entry(
                f"{projection.name}.tag",
                "low-passed update (tag)",
                9,
                True,
                s_t,
                source="derived",
                tau=tau,
                tau_kept=tau_kept,
                note=f"one unit is {c_w:g} of a weight unit per epoch; low-pass "
                f"{tau:g} ms kept as "
                f"{tau_kept:.4g} ms ({epoch}-step epochs)",
            )
        self.entry(
            f"{projection.name}.residual",
            "consolidation residual (tag_2)",
            8,
            False,
            residual_unit,
            error=residual_unit / 2,
            source="derived",
            note=f"sent as {RESIDUAL_OFFSET} + residual; the weight steps by one "
            f"unit per {RESIDUAL_STEP} of residual past +-{RESIDUAL_STEP // 2}, "
            f"up to {RESIDUAL_LEVELS} units per epoch",
        )
        for product in rule.dw + rule.dd + rule.dt:
            self.entry(
                f"{projection.name}.literal:{product.meaning}",
                "learning-rule literal",
                MANTISSA_WIDTH,
                True,
                2.0**product.exponent,
                error=abs(product.literal - product.ideal),
                value=product.literal,
                exact=product.ideal,
                relative_error=abs(product.literal / product.ideal - 1)
                if product.ideal
                else 0.0,
                note=f"m*2^e = {product.mantissa}*2^{product.exponent}, "
                f"engine shift >> {product.shift}",
            )
        return rule

    def _rule_rows(
        self,
        projection: ir.Projection,
        target: ir.Population,
        tgt: PopulationPlan,
        expander: _Expander,
        monomials: dict[Monomial, float],
    ) -> list[tuple[float, int, int, list[int]]] | None:
        """(coefficient, pre power, w power, factor slots) per engine product.

        ``combined``: the post-synaptic part of every group of products with
        the same pre and w factors is one factor the neuron computes.
        ``expanded``: every function of a post variable is a factor of its own.
        """
        rows: list[tuple[float, int, int, list[int]]] = []
        span = projection.plasticity.update.span  # type: ignore[union-attr]
        if self.factoring == "expanded":
            for (pre, w, atoms), coeff in monomials.items():
                if len(atoms) > 2:
                    self.error(
                        RULE_NOT_LOWERABLE,
                        span,
                        f"{projection.name}: a product has {len(atoms)} post factors; "
                        "the engine multiplies at most two y traces",
                    )
                    return None
                slots = []
                for index in atoms:
                    slot = self._factor(
                        target, tgt, [(expander.atoms[index], 1.0)], 0.0, projection
                    )
                    if slot is None:
                        return None
                    slots.append(slot)
                rows.append((coeff, pre, w, slots))
            return rows
        groups: dict[tuple[int, int], dict[tuple[int, ...], float]] = {}
        for (pre, w, atoms), coeff in monomials.items():
            groups.setdefault((pre, w), {})[atoms] = coeff
        for (pre, w), parts in groups.items():
            if any(len(atoms) > 1 for atoms in parts):
                self.error(
                    RULE_NOT_LOWERABLE,
                    span,
                    f"{projection.name}: the post-synaptic part of rule "
                    f"'{projection.plasticity.rule}' multiplies post-synaptic "  # type: ignore[union-attr]
                    "factors; mcdl combines only sums of them",
                    "lower it with factoring='expanded'",
                )
                return None
            linear = [(expander.atoms[a[0]], c) for a, c in parts.items() if a]
            const = parts.get((), 0.0)
            if not linear:
                rows.append((const, pre, w, []))
                continue
            reference = max((c for _, c in linear), key=abs)
            terms = [(atom, c / reference) for atom, c in linear]
            slot = self._factor(target, tgt, terms, const / reference, projection)
            if slot is None:
                return None
            rows.append((reference, pre, w, [slot]))
        return rows

    def _factor(
        self,
        population: ir.Population,
        plan: PopulationPlan,
        terms: list[tuple[ir.Expr, float]],
        const: float,
        projection: ir.Projection,
    ) -> int | None:
        """The slot of the factor ``sum ratio * atom + const`` (made if new)."""
        text = " + ".join(
            show(atom) if ratio == 1 else f"{ratio:g}*{show(atom)}"
            for atom, ratio in terms
        )
        if const:
            text += f" + {const:g}"
        for factor in plan.factors:
            if factor.text == text:
                return factor.slot
        span = terms[0][0].span
        if len(plan.factors) >= POST_TRACES:
            names = "; ".join(f.text for f in plan.factors)
            self.error(
                TOO_MANY_POST_FACTORS,
                span,
                f"{projection.name}: '{text}' would be the 4th post-synaptic factor "
                f"of {population.name} (it already sends {names}); Loihi 2 has "
                "three, y1..y3",
                "let the rules onto this population share post-synaptic factors",
            )
            return None
        slot = len(plan.factors) + 1
        name = f"{population.name}.y{slot}"
        resolved = [self._atom(population, plan, atom) for atom, _ in terms]
        grid = np.linspace(-64, 64, 4097)
        negative = const < 0 or any(
            ratio < 0 or identity or float(np.nanmin(f(grid))) < 0
            for (_, ratio), (f, _, _, _, identity, _) in zip(
                terms, resolved, strict=True
            )
        )
        if negative:
            p, source = self.pinned(name, DEFAULT_SIGNED_FACTOR_RANGE, SIGNED_OFFSET)
            offset = SIGNED_OFFSET
        else:
            p, source = self.pinned(name, DEFAULT_FACTOR_RANGE, 2**TRACE_BITS)
            offset = 0
        s_y = 2.0**-p
        atom_range = max(2 * DEFAULT_RATE_RANGE, 2 * (2**TRACE_BITS) * s_y)
        atom_terms, error = [], s_y / 2
        for (atom, ratio), (f, source_name, kind, s_in, identity, multiplier) in zip(
            terms, resolved, strict=True
        ):
            gain = int(round(ratio * (1 << DECAY_BITS)))
            if identity:
                shift = int(round(math.log2(s_y / s_in)))
                atom_terms.append(
                    AtomTerm(show(atom), source_name, kind, gain, None, shift)
                )
                continue
            low = 0 if float(np.nanmin(f(grid))) >= 0 else -int(atom_range / s_y)
            table, table_error, _ = build_table(
                f, s_in, STATE_BITS, s_y, low, int(atom_range / s_y), segments=128
            )
            error += abs(ratio) * table_error
            atom_terms.append(
                AtomTerm(show(atom), source_name, kind, gain, table, 0, multiplier)
            )
        fine_const = int(round(const / s_y * 2**TABLE_FRACTION * (1 << DECAY_BITS)))
        plan.factors.append(FactorPlan(slot, text, s_y, offset, atom_terms, fine_const))
        self.entry(
            name,
            "post-synaptic learning factor",
            TRACE_BITS,
            bool(offset),
            s_y,
            error=error,
            source=source,
            factor=text,
            note=(
                f"sent as {offset} + value/scale" if offset else "sent as value/scale"
            )
            + f"; saturates at {(2**TRACE_BITS - 1 - offset) * s_y:g}",
        )
        return slot

    def _atom(self, population: ir.Population, plan: PopulationPlan, atom: ir.Expr):
        """How the neuron computes one atom of a factor.

        Returns (f, source, kind, s_in, identity, multiplier): the atom as a
        function of a potential, its input compartment, whether that is a
        potential or a dendrite, the input scale, whether the atom is the
        input itself, and for a dendrite its 16-bit multiplier into potential
        units (the prediction factor, from the integer gains, so that a
        dendrite's prediction meets the soma's integer steady state).
        """
        (ref,) = {r.dotted: r for r in refs_of(atom)}.values()
        parts = ref.parts[1:]
        env_name = ref.dotted
        if parts == ("rate",):
            source = self._rate_compartment(population) or ""
            rate = population.rate
            assert rate is not None

            def inner(x: np.ndarray) -> np.ndarray:
                return evaluate(rate, {source: x})

        else:
            source = parts[0]

            def inner(x: np.ndarray) -> np.ndarray:
                return x

        compartment = population.compartment(source)
        kind = "dendrite" if compartment.kind == "dendrite" else "potential"
        identity = isinstance(atom, ir.Ref) and len(parts) == 1 and parts != ("rate",)
        multiplier = 0
        if kind == "dendrite" and not identity:
            factor = 1.0
            if len(parts) == 2 and compartment.prediction is not None:
                factor = self._integer_prediction(plan, compartment)
            multiplier = int(round(factor * 2**PREDICTION_BITS))
        if kind == "dendrite" and identity:
            s_in = 2.0**-plan.p_a
        else:
            s_in = 2.0**-plan.p_u

        def f(x: np.ndarray) -> np.ndarray:
            return evaluate(atom, {env_name: inner(x)})

        return f, source, kind, s_in, identity, multiplier

    def _integer_prediction(
        self, plan: PopulationPlan, dendrite: ir.Compartment
    ) -> float:
        """The prediction factor of ``dendrite`` from the integer gains."""
        assert dendrite.prediction is not None
        into = next(c for c in plan.compartments if c.name == dendrite.prediction.into)
        gain = sum(
            t.gain_free
            for t in into.terms
            if t.kind == "coupling" and t.source == (dendrite.name)
        )
        total = sum(t.gain_free for t in into.terms if t.kind in ("leak", "coupling"))
        return gain / total if total else dendrite.prediction.factor

    def _check_phases(self) -> None:
        for phase in self.net.protocol.phases:
            learn = set(phase.learn)
            for population in self.net.populations:
                plastic = [
                    p.name
                    for p in self.net.projections
                    if p.target == population.name and p.plastic
                ]
                chosen = [name for name in plastic if name in learn]
                if chosen and len(chosen) != len(plastic):
                    missing = sorted(set(plastic) - learn)
                    self.error(
                        PHASE_NOT_MAPPABLE,
                        phase.span,
                        f"phase '{phase.name}' learns {', '.join(chosen)} but not "
                        f"{', '.join(missing)}, all onto {population.name}: the chip "
                        "turns plasticity on per post-synaptic neuron",
                        "learn all plastic projections onto a population together",
                    )

    # -- Resources -------------------------------------------------------------

    def _resources(self, plan: LoihiPlan) -> dict:
        layers: dict[str, dict] = {}
        for population in self.net.populations:
            layer = layers.setdefault(
                population.layer,
                {
                    "neurons": 0,
                    "compartments": 0,
                    "synapses": 0,
                    "plastic": 0,
                    "cores": 0,
                },
            )
            incoming = [p for p in plan.projections if p.target == population.name]
            synapses = sum(
                population.size
                if p.one_to_one
                else population.size * self.pops[p.source].size
                for p in incoming
            )
            plastic = sum(
                population.size * self.pops[p.source].size
                for p in incoming
                if p.plastic is not None
            )
            bits = plastic * BITS_PER_PLASTIC_SYNAPSE
            bits += (synapses - plastic) * BITS_PER_FIXED_SYNAPSE
            cores = max(
                math.ceil(population.size / NEURONS_PER_CORE),
                math.ceil(bits / SYNAPSE_MEMORY_BITS),
                1,
            )
            layer["neurons"] += population.size
            layer["compartments"] += population.size * max(
                1, len(population.compartments)
            )
            layer["synapses"] += synapses
            layer["plastic"] += plastic
            layer["cores"] += cores
        total = {
            k: sum(layer[k] for layer in layers.values())
            for k in ("neurons", "compartments", "synapses", "plastic", "cores")
        }
        limits = {
            "cores": CORES_PER_CHIP,
            "neurons": CORES_PER_CHIP * NEURONS_PER_CORE,
            "neurons_per_core": NEURONS_PER_CORE,
            "synapse_memory_bits_per_core": SYNAPSE_MEMORY_BITS,
            "post_traces": POST_TRACES,
            "epoch": MAX_EPOCH,
        }
        if total["cores"] > CORES_PER_CHIP:
            self.error(
                DOES_NOT_FIT,
                self.net.span,
                f"{self.net.name} needs {total['cores']} neuro cores; one Loihi 2 "
                f"chip has {CORES_PER_CHIP}",
                "mcdl maps onto one chip; shrink the populations or projections",
            )
        return {"layers": layers, "total": total, "limits": limits}


def _thresholds() -> list[tuple[int, int]]:
    """The residual's (upper, lower) thresholds, one pair per weight unit.

    Level ``j`` lies ``(j + 1/2) * RESIDUAL_STEP`` above and below the
    offset, so the residual rounds to the nearest whole weight unit and a
    weight moves by up to ``RESIDUAL_LEVELS`` units in one learning epoch.
    """
    pairs = []
    for level in range(RESIDUAL_LEVELS):
        distance = RESIDUAL_STEP * level + RESIDUAL_STEP // 2
        pairs.append((RESIDUAL_OFFSET + distance, RESIDUAL_OFFSET - distance))
    return pairs


def _steps() -> list[ProductPlan]:
    """``dw``: one weight unit up (down) per threshold the residual is past.

    ``sgn(d - high) + sgn(d - low)`` is 2 above a level, -2 below it and 0
    between; each sign moves the weight by half a unit (64 of the
    accumulator's 128 per unit).
    """
    products = []
    for level, (high, low) in enumerate(_thresholds(), start=1):
        products.append(ProductPlan(1, -1, [("sgn(d)", -high)], 0, 0.5, f"up {level}"))
        products.append(ProductPlan(1, -1, [("sgn(d)", -low)], 0, 0.5, f"down {level}"))
    return products


def _carry() -> list[ProductPlan]:
    """``dd``: the residual gives back ``RESIDUAL_STEP`` units per weight step."""
    half = RESIDUAL_STEP // 2
    exponent = half.bit_length() - 1
    products = []
    for level, (high, low) in enumerate(_thresholds(), start=1):
        for name, threshold in (
            (f"carry up {level}", high),
            (f"carry down {level}", low),
        ):
            products.append(
                ProductPlan(-1, exponent, [("sgn(d)", -threshold)], 0, -half, name)
            )
    return products


def build_table(
    f: Callable[[np.ndarray], np.ndarray],
    s_in: float,
    in_bits: int,
    s_out: float,
    out_min: int,
    out_max: int,
    segments: int = PWL_SEGMENTS,
) -> tuple[Table, float, float]:
    """A piecewise-linear table of ``f`` from integers at ``s_in`` to ``s_out``.

    The table spans the inputs where ``f`` leaves its saturated ends, in at
    most 64 segments of a power-of-two width. Returns the table, the largest
    error ``|table(x) * s_out - f(x)|`` over the inputs where ``f`` is within
    the output range, and the smallest value of ``f``.
    """
    limit = 2 ** (in_bits - 1)
    coarse = np.linspace(-limit, limit - 1, 1 << 16).round()
    values = f(coarse * s_in) / s_out
    inside = (values > out_min + 0.5) & (values < out_max - 0.5)
    if inside.any():
        where = np.nonzero(inside)[0]
        lo = int(coarse[max(where[0] - 1, 0)])
        hi = int(coarse[min(where[-1] + 1, len(coarse) - 1)])
    else:
        lo, hi = -1, 1
    span = max(hi - lo, 1)
    shift = max(0, int(math.ceil(math.log2(span / segments))))
    n = int(math.ceil(span / 2**shift))
    points = lo + (np.arange(n + 1) << shift)
    raw = np.round(f(points * s_in) / s_out * 2**TABLE_FRACTION)
    bound = 2 ** (15 + TABLE_FRACTION)
    table_values = np.clip(raw, (out_min << TABLE_FRACTION) - bound, bound)
    table = Table(lo, shift, [int(v) for v in table_values], out_min, out_max)
    step = max(1, (n << shift) // 200000)
    probe = np.arange(lo, lo + (n << shift) + 1, step)
    exact = f(probe * s_in)
    kept = table(probe) * s_out
    valid = (exact >= out_min * s_out) & (exact <= out_max * s_out)
    error = float(np.abs(kept - exact)[valid].max(initial=0.0))
    low = float(np.nanmin(values * s_out))
    return table, error, low
