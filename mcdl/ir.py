"""The intermediate representation of MCDL: frozen pydantic models.

The IR has two levels, both serialisable to JSON:

* the *spec* level (``Module`` and its declarations) is what the parser reads:
  names are unresolved, numbers carry their units, and every node has the
  span of the text it came from;
* the *network* level (``Network`` and below) is what the passes produce from
  a checked spec and what every backend reads: neuron types are expanded into
  populations, parameters are substituted, times are plain milliseconds, user
  functions are inlined, and the quantities the model derives (total
  conductances, attenuation factors of dendritic predictions, the
  self-predicting initialisation) are filled in.

Backends read only the network level; ``docs/semantics.md`` gives its meaning.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcdl.source import Span


class Node(BaseModel):
    """Base of every IR node: frozen, strict about fields, with a span."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span


# -- Expressions ------------------------------------------------------------


class Num(Node):
    """A number, with the unit it was written with (``ms``, ``s``) if any."""

    kind: Literal["num"] = "num"
    value: float
    unit: str | None = None


class Ref(Node):
    """A dotted name: ``eta``, ``pre.rate``, ``post.basal.prediction``."""

    kind: Literal["ref"] = "ref"
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


class Unary(Node):
    """Arithmetic negation ``-operand``."""

    kind: Literal["unary"] = "unary"
    op: Literal["-"] = "-"
    operand: Expr


class Binary(Node):
    """A binary operation ``left op right``."""

    kind: Literal["binary"] = "binary"
    op: Literal["+", "-", "*", "/", "**"]
    left: Expr
    right: Expr


class Keyword(Node):
    """A keyword argument ``name = value`` of a call."""

    name: str
    value: Expr


class Call(Node):
    """A call of a built-in or user function ``func(args, name = value)``."""

    kind: Literal["call"] = "call"
    func: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()


Expr = Annotated[Num | Ref | Unary | Binary | Call, Field(discriminator="kind")]


# -- Spec level: declarations as written ------------------------------------


class Name(Node):
    """An identifier with the span it was written at."""

    text: str


class Setting(Node):
    """``name = expr`` inside a block."""

    name: Name
    value: Expr


class Param(Node):
    """A parameter of a neuron type, rule or function, with its default."""

    name: Name
    default: Expr | None = None


class CompartmentDecl(Node):
    """``compartment NAME { settings }`` or ``compartment NAME dendrite``."""

    name: Name
    dendrite: bool
    settings: tuple[Setting, ...] = ()


class CouplingDecl(Node):
    """``couple SOURCE -> TARGET g = EXPR``: a conductance inside a neuron."""

    source: Name
    target: Name
    conductance_name: Name
    conductance: Expr


class NeuronDecl(Node):
    """``neuron NAME(params) { compartments, couplings, rate = expr }``."""

    name: Name
    params: tuple[Param, ...] = ()
    compartments: tuple[CompartmentDecl, ...] = ()
    couplings: tuple[CouplingDecl, ...] = ()
    settings: tuple[Setting, ...] = ()


class FunctionDecl(Node):
    """``function NAME(params) = expr``: a user-defined function."""

    name: Name
    params: tuple[Param, ...]
    body: Expr


class RuleDecl(Node):
    """``rule NAME(params) { dw = expr  lowpass = expr }``: a plasticity rule."""

    name: Name
    params: tuple[Param, ...] = ()
    settings: tuple[Setting, ...] = ()


class ConstDecl(Node):
    """``const NAME = expr``: a named constant."""

    name: Name
    value: Expr


class PathRef(Node):
    """A dotted path to a population or a variable of one, as written."""

    parts: tuple[Name, ...]

    @property
    def dotted(self) -> str:
        return ".".join(part.text for part in self.parts)


class Instance(Node):
    """``NAME: Type(args)[size]``: a population inside a layer."""

    name: Name
    neuron: Name
    args: tuple[Keyword, ...] = ()
    size: Expr


class LayerDecl(Node):
    """``layer NAME { populations }``."""

    name: Name
    populations: tuple[Instance, ...]


class InputDecl(Node):
    """``input NAME[size]``: a population whose rate is the presented pattern."""

    name: Name
    size: Expr


class InitDecl(Node):
    """An initialiser call as written: ``uniform(-1, 1, seed = 1)``."""

    func: Name
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    strings: tuple[str, ...] = ()


class LearnDecl(Node):
    """``learn RULE(args)``: the rule that makes a projection plastic."""

    rule: Name
    args: tuple[Keyword, ...] = ()


class ProjectionDecl(Node):
    """``project SOURCE -> TARGET as NAME { init, learn, one_to_one }``."""

    name: Name
    source: PathRef
    target: PathRef
    one_to_one: bool = False
    inits: tuple[InitDecl, ...] = ()
    learns: tuple[LearnDecl, ...] = ()


class NudgeDecl(Node):
    """``nudge TARGET from SOURCE g = EXPR [conductance(E_exc=.., E_inh=..)]``.

    ``source`` is ``None`` for the teaching signal (``from target``).
    """

    target: PathRef
    source: PathRef | None
    conductance_name: Name
    conductance: Expr
    form: Literal["current", "conductance"] = "current"
    reversal: tuple[Keyword, ...] = ()


class PhaseDecl(Node):
    """``phase NAME { settings, learn a, b }`` inside a protocol."""

    name: Name
    settings: tuple[Setting, ...] = ()
    learn: tuple[Name, ...] | None = None


class ProtocolDecl(Node):
    """``protocol { settings, phases }``: the presentation schedule."""

    settings: tuple[Setting, ...] = ()
    phases: tuple[PhaseDecl, ...] = ()


class PinDecl(Node):
    """``pin VARIABLE range = EXPR`` or ``pin VARIABLE exponent = EXPR``.

    ``variable`` is a name of the loihi target's quantisation report
    (``hidden.pyr.rate``, ``W_up1``); ``setting`` says how its scale is fixed.
    """

    variable: PathRef
    setting: Setting


class LoihiDecl(Node):
    """``loihi { settings, pins }``: what the spec fixes of the loihi target."""

    settings: tuple[Setting, ...] = ()
    pins: tuple[PinDecl, ...] = ()


class NetworkDecl(Node):
    """``network NAME { ... }``: everything one network declares."""

    name: Name
    settings: tuple[Setting, ...] = ()
    consts: tuple[ConstDecl, ...] = ()
    neurons: tuple[NeuronDecl, ...] = ()
    functions: tuple[FunctionDecl, ...] = ()
    rules: tuple[RuleDecl, ...] = ()
    inputs: tuple[InputDecl, ...] = ()
    layers: tuple[LayerDecl, ...] = ()
    projections: tuple[ProjectionDecl, ...] = ()
    nudges: tuple[NudgeDecl, ...] = ()
    protocols: tuple[ProtocolDecl, ...] = ()
    loihi: tuple[LoihiDecl, ...] = ()


class ImportDecl(Node):
    """``import "path.mcdl"``: reuse another file's declarations."""

    path: str


class Module(Node):
    """One parsed ``.mcdl`` file: imports, library declarations, networks."""

    imports: tuple[ImportDecl, ...] = ()
    consts: tuple[ConstDecl, ...] = ()
    neurons: tuple[NeuronDecl, ...] = ()
    functions: tuple[FunctionDecl, ...] = ()
    rules: tuple[RuleDecl, ...] = ()
    networks: tuple[NetworkDecl, ...] = ()


# -- Network level: checked, resolved, derived ------------------------------


class Prediction(Node):
    """How the soma sees a dendrite at steady state without other input.

    ``factor = g / (g_lk + sum of all conductances coupled into the soma)``:
    the dendritic prediction of the somatic potential is ``factor * v``.
    """

    into: str
    factor: float


class Compartment(Node):
    """A compartment of a neuron.

    Integrating: ``C du/dt = g_lk (E - u) + sum_c g_c (v_c - u) + I + current``,
    plus noise ``sigma dW``. Dendrite: ``v = sum of its projections`` each step.
    """

    name: str
    kind: Literal["integrating", "dendrite"]
    leak: float = 0.0
    capacitance: float = 1.0
    rest: float = 0.0
    noise: float = 0.0
    current: Expr | None = None
    total_conductance: float = 0.0
    prediction: Prediction | None = None


class Coupling(Node):
    """A conductance ``g`` from compartment ``source`` into ``target``."""

    source: str
    target: str
    conductance: float


class Population(Node):
    """A group of identical neurons, or an input of ``size`` rates.

    ``rate`` is the transfer function as an expression over the names of the
    population's compartments; ``None`` for an input, whose rate is the
    (low-pass filtered) presented pattern.
    """

    name: str
    layer: str
    size: int
    neuron: str | None = None
    compartments: tuple[Compartment, ...] = ()
    couplings: tuple[Coupling, ...] = ()
    rate: Expr | None = None

    @property
    def is_input(self) -> bool:
        return self.neuron is None

    def compartment(self, name: str) -> Compartment:
        """Return the compartment called ``name``; raise KeyError if none."""
        for compartment in self.compartments:
            if compartment.name == name:
                return compartment
        raise KeyError(name)


class ConstantInit(Node):
    """Every weight is ``value``."""

    kind: Literal["constant"] = "constant"
    value: float


class UniformInit(Node):
    """Weights drawn uniformly from ``[low, high)`` by a generator seeded ``seed``."""

    kind: Literal["uniform"] = "uniform"
    low: float
    high: float
    seed: int


class NormalInit(Node):
    """Weights drawn from a normal distribution by a generator seeded ``seed``."""

    kind: Literal["normal"] = "normal"
    mean: float
    std: float
    seed: int


class FileInit(Node):
    """Weights loaded from a ``.npy`` file, relative to the spec's folder."""

    kind: Literal["file"] = "file"
    path: str


class SelfPredictingInit(Node):
    """``factor`` times the initial weights of projection ``source``.

    Derived from the closed form of the self-predicting state:
    ``W_PI = -W_down`` and ``W_IP = (att_up / att_IP) * W_up`` (model.md §3).
    """

    kind: Literal["self_predicting"] = "self_predicting"
    source: str
    factor: float


Init = Annotated[
    ConstantInit | UniformInit | NormalInit | FileInit | SelfPredictingInit,
    Field(discriminator="kind"),
]


class Plasticity(Node):
    """A projection's plasticity: ``dw/dt = update``, optionally low-passed.

    ``update`` reads only ``pre.rate``, ``post.<compartment>``,
    ``post.<dendrite>.prediction``, ``post.rate`` and ``w``. With a
    ``lowpass`` of ``tau`` ms the weight follows the filtered update:
    ``tau dD/dt = -D + update``, ``dw/dt = D``.
    """

    rule: str
    update: Expr
    lowpass: float | None = None


class Projection(Node):
    """Weights from a source variable of one population onto a compartment.

    ``source_var`` is ``"rate"`` or the name of a compartment whose potential
    is sent. All-to-all weights have shape ``(target size, source size)``;
    one-to-one weights have shape ``(size,)``.
    """

    name: str
    source: str
    source_var: str
    target: str
    compartment: str
    one_to_one: bool = False
    init: Init
    plasticity: Plasticity | None = None

    @property
    def plastic(self) -> bool:
        return self.plasticity is not None


class Nudging(Node):
    """A teaching input onto ``target.compartment``.

    The signal ``s`` is the presented target (``source is None``) or, one to
    one, the potential ``source.source_compartment``. Current form:
    ``I = g (s - u)``. Conductance form: ``g_exc = g (s - E_inh)/(E_exc - E_inh)``,
    ``g_inh = -g (s - E_exc)/(E_exc - E_inh)``,
    ``I = g_exc (E_exc - u) + g_inh (E_inh - u)``.
    """

    target: str
    compartment: str
    source: str | None = None
    source_compartment: str | None = None
    conductance: float
    form: Literal["current", "conductance"] = "current"
    e_exc: float = 0.0
    e_inh: float = 0.0


class Phase(Node):
    """One phase of the protocol.

    ``patterns`` patterns (or ``epochs`` passes over the dataset) are shown;
    ``input`` is ``"data"`` or ``"random"`` (uniform in [0, 1)); ``teach``
    turns the target's nudging on; ``learn`` names the projections that are
    plastic in this phase.
    """

    name: str
    patterns: int | None = None
    epochs: int | None = None
    input: Literal["data", "random"] = "data"
    teach: bool = True
    noise: bool = True
    learn: tuple[str, ...] = ()


class Protocol(Node):
    """How patterns are presented; all times in milliseconds.

    Plasticity is off for the first ``settle`` ms of each pattern; the output
    is read as the mean over its last ``readout`` ms; inputs and targets
    follow the presented values through a low-pass of ``lowpass`` ms (0: no
    filter). Class targets are the potentials ``target_high`` for the true
    class and ``target_low`` for the others.
    """

    pattern: float
    settle: float = 0.0
    readout: float
    lowpass: float = 0.0
    target_high: float = 1.0
    target_low: float = 0.0
    dataset: str | None = None
    phases: tuple[Phase, ...]


class LoihiPin(Node):
    """A quantisation scale of the loihi target that the spec fixes.

    ``variable`` is named as in the quantisation report. With ``exponent``
    ``e`` one integer unit of the variable is ``2**-e``; with ``range`` ``r``
    the lowering takes the finest such scale whose integer format still
    holds magnitudes up to ``r``. Exactly one of the two is set.
    """

    variable: str
    range: float | None = None
    exponent: int | None = None


class LoihiSettings(Node):
    """What the spec fixes of the loihi target, in place of the lowering's choice.

    ``pins`` fix quantisation scales; ``epoch`` is the learning epoch in time
    steps (``None``: the lowering picks it).
    """

    pins: tuple[LoihiPin, ...] = ()
    epoch: int | None = None


class SourceInfo(Node):
    """Where a network came from: the spec's file name and SHA-256."""

    file: str
    sha256: str


class Network(Node):
    """A checked network: what every backend and the reference simulator read.

    Populations are in declaration order, inputs first; ``output`` is the
    population nudged by the target and read out. ``loihi`` holds the
    spec's ``loihi { }`` block, read only by the loihi target.
    """

    name: str
    dt: float
    seed: int = 0
    integration: Literal["euler", "exponential"] = "euler"
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]
    nudgings: tuple[Nudging, ...] = ()
    protocol: Protocol
    input: str
    output: str
    source: SourceInfo
    loihi: LoihiSettings | None = None

    def population(self, name: str) -> Population:
        """Return the population called ``name``; raise KeyError if none."""
        for population in self.populations:
            if population.name == name:
                return population
        raise KeyError(name)

    def projection(self, name: str) -> Projection:
        """Return the projection called ``name``; raise KeyError if none."""
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)


for _model in (Unary, Binary, Keyword, Call):
    _model.model_rebuild()
