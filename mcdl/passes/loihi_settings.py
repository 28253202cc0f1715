"""The spec's ``loihi { }`` block: pinned quantisation scales and the epoch.

The block fixes what the loihi target would otherwise choose, so that no
scale is picked in secret: ``pin VARIABLE range = R`` or ``pin VARIABLE
exponent = E`` fixes one variable of the quantisation report, and ``epoch =
N`` the learning epoch. Whether the variable exists is known only once the
network is lowered (``mcdl.passes.lower_loihi``, E1008).

Rules checked here:

1. A network has at most one ``loihi`` block (E0202).
2. The block's only setting is ``epoch``, given once; a pin's setting is
   ``range`` or ``exponent`` (E0205, E0202).
3. Every value is a constant plain number (E0404, E0402).
4. A pinned range is positive (E1101).
5. A pinned exponent is a whole number from -24 to 24 (E1102).
6. The epoch is a whole number of steps from 1 to 63, the learning engine's
   longest, and divides the steps of a pattern and of the settling time
   (E1103).
7. A variable is pinned by a range or by an exponent, not both (E1104), and
   only once (E1105).
"""

from __future__ import annotations

from mcdl import ir
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes import couplings
from mcdl.passes.values import Values

LOIHI_SETTINGS = ("epoch",)
PIN_SETTINGS = ("range", "exponent")
EXPONENTS = (-24, 24)
"""A scale finer or coarser than 2**24 leaves a 24-bit state without a use."""
EPOCHS = (1, 63)
"""The learning engine's epoch is a 6-bit count of steps."""


def loihi_settings(
    network: ir.NetworkDecl,
    values: Values,
    protocol: ir.Protocol | None,
    dt: float,
    diagnostics: list[Diagnostic],
) -> ir.LoihiSettings | None:
    """The checked ``loihi`` block of ``network``; None if it has none.

    Args:
        network: the network as written.
        values: the evaluator of constant expressions (it reports into
            ``diagnostics`` too).
        protocol: the checked protocol, if it is valid: the epoch must divide
            its steps.
        dt: the time step in ms.
        diagnostics: where the problems found are appended.
    """
    blocks = network.loihi
    for extra in blocks[1:]:
        diagnostics.append(error("E0202", extra.span, "a network has one loihi block"))
    if not blocks:
        return None
    block = blocks[0]
    settings = couplings.named_settings(block.settings, LOIHI_SETTINGS, diagnostics)
    epoch = None
    if "epoch" in settings:
        epoch = _epoch(settings["epoch"].value, values, protocol, dt, diagnostics)
    pins = _pins(block.pins, values, diagnostics)
    return ir.LoihiSettings(span=block.span, pins=pins, epoch=epoch)


def _epoch(
    expr: ir.Expr,
    values: Values,
    protocol: ir.Protocol | None,
    dt: float,
    diagnostics: list[Diagnostic],
) -> int | None:
    value = values.number(expr, {}, "the epoch")
    if value is None:
        return None
    low, high = EPOCHS
    if value != int(value) or not low <= value <= high:
        message = f"the epoch must be a whole number of steps from {low} to {high}"
        diagnostics.append(error("E1103", expr.span, f"{message}, not {value:g}"))
        return None
    epoch = int(value)
    if protocol is None:
        return epoch
    for what, time in (("a pattern", protocol.pattern), ("'settle'", protocol.settle)):
        steps = int(round(time / dt))
        if steps % epoch:
            message = (
                f"an epoch of {epoch} steps does not divide the {steps} steps of {what}"
            )
            hint = "learning is switched on and off at the start of an epoch"
            diagnostics.append(error("E1103", expr.span, message, hint))
            return None
    return epoch


def _pins(
    decls: tuple[ir.PinDecl, ...], values: Values, diagnostics: list[Diagnostic]
) -> tuple[ir.LoihiPin, ...]:
    pins: dict[str, ir.LoihiPin] = {}
    first: dict[str, ir.PinDecl] = {}
    for decl in decls:
        pin = _pin(decl, values, diagnostics)
        if pin is None:
            continue
        earlier = first.get(pin.variable)
        if earlier is None:
            first[pin.variable] = decl
            pins[pin.variable] = pin
            continue
        kind = earlier.setting.name.text
        if kind == decl.setting.name.text:
            message = f"'{pin.variable}' is already pinned at {earlier.span}"
            diagnostics.append(error("E1105", decl.variable.span, message))
        else:
            message = (
                f"'{pin.variable}' is pinned by its {kind} at {earlier.span}; "
                "a scale is fixed by a range or by an exponent, not both"
            )
            hint = "keep one of the two pins"
            diagnostics.append(error("E1104", decl.variable.span, message, hint))
    return tuple(pins.values())


def _pin(
    decl: ir.PinDecl, values: Values, diagnostics: list[Diagnostic]
) -> ir.LoihiPin | None:
    setting = decl.setting
    kind = setting.name.text
    variable = decl.variable.dotted
    if kind not in PIN_SETTINGS:
        message = f"a pin sets 'range' or 'exponent', not '{kind}'"
        hint = did_you_mean(kind, PIN_SETTINGS)
        diagnostics.append(error("E0205", setting.name.span, message, hint))
        return None
    value = values.number(setting.value, {}, f"the {kind} of '{variable}'")
    if value is None:
        return None
    span = setting.value.span
    if kind == "range":
        if value <= 0:
            message = f"the range of '{variable}' must be positive, not {value:g}"
            hint = "a range is the largest magnitude the variable must hold"
            diagnostics.append(error("E1101", span, message, hint))
            return None
        return ir.LoihiPin(span=decl.span, variable=variable, range=value)
    low, high = EXPONENTS
    if value != int(value) or not low <= value <= high:
        message = (
            f"the exponent of '{variable}' must be a whole number from {low} to "
            f"{high}, not {value:g}"
        )
        hint = "an exponent e makes one integer unit 2^-e"
        diagnostics.append(error("E1102", span, message, hint))
        return None
    return ir.LoihiPin(span=decl.span, variable=variable, exponent=int(value))
