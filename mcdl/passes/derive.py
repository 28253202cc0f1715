"""Assembling the network-level IR, with the quantities the model derives.

Rules checked here:

1. A projection initialised ``self_predicting()`` has the partner the
   closed form needs (model.md §3) (E0901): an interneuron-to-pyramidal
   projection whose interneurons are nudged one-to-one from a population
   that also projects onto the same compartment (``W_PI = -W_down``), or a
   pyramidal-to-interneuron projection whose interneurons are nudged
   one-to-one from a population the same source projects onto
   (``W_IP = att_up / att_IP * W_up``, the ratio of the two dendrites'
   prediction factors).
2. A network has exactly one input and exactly one population nudged by the
   target, its output (E0904).
3. The protocol's times are positive multiples of ``dt`` that fit in a
   pattern, its phases learn only plastic projections, and the exponential
   integration is not combined with an explicit ``current`` (E0903).

The ``loihi`` block is checked by ``mcdl.passes.loihi_settings``.
"""

from __future__ import annotations

from mcdl import ir
from mcdl.diagnostics import Diagnostic, did_you_mean, error
from mcdl.passes import couplings, locality, shapes
from mcdl.passes.functions import Inliner, check_recursion
from mcdl.passes.loihi_settings import loihi_settings
from mcdl.passes.resolve import Scope
from mcdl.passes.values import Quantity, Values

NETWORK_SETTINGS = ("dt", "seed", "integration")
PROTOCOL_SETTINGS = (
    "pattern",
    "settle",
    "readout",
    "lowpass",
    "target_high",
    "target_low",
    "dataset",
)
PHASE_SETTINGS = ("epochs", "patterns", "inputs", "teach", "noise")
DATASETS = ("bars", "digits", "regression", "random")


def derive(
    scope: Scope, source: ir.SourceInfo, quiet: bool = False
) -> tuple[ir.Network | None, list]:
    """Build the checked network of ``scope``; None if anything is wrong.

    With ``quiet`` (earlier passes found errors), diagnostics that only say
    that something is missing are left out, since what is missing may just
    not have been built because of those errors.
    """
    return _Builder(scope, source, quiet).build()


class _Builder:
    def __init__(self, scope: Scope, source: ir.SourceInfo, quiet: bool) -> None:
        self.scope = scope
        self.prior_errors = quiet
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.values = Values(scope, self.diagnostics)
        self.inliner = Inliner(self.values, self.diagnostics)
        self.populations: dict[str, ir.Population] = {}

    def _report(self, code, span, message, hint=None) -> None:
        self.diagnostics.append(error(code, span, message, hint))

    def _has_errors(self) -> bool:
        return self.prior_errors or bool(self.diagnostics)

    def build(self):
        network = self.scope.network
        settings = couplings.named_settings(
            network.settings, NETWORK_SETTINGS, self.diagnostics
        )
        dt = 0.1
        if "dt" in settings:
            dt = self.values.positive_time(settings["dt"].value, {}, "dt") or dt
        seed = 0
        if "seed" in settings:
            value = self.values.number(
                settings["seed"].value, {}, "the seed", nonnegative=True, whole=True
            )
            seed = int(value) if value is not None else 0
        integration = "euler"
        if "integration" in settings:
            integration = (
                self.values.word(
                    settings["integration"].value,
                    ("euler", "exponential"),
                    "the integration",
                )
                or "euler"
            )

        check_recursion(self.values, self.diagnostics)
        for rule in self.scope.rules.values():
            self.diagnostics.extend(locality.check_rule(rule, self.scope))
        self._build_populations()
        projections = self._build_projections()
        nudgings = self._build_nudgings()
        projections = self._self_predicting(projections, nudgings)
        protocol = self._protocol(dt, projections)
        loihi = loihi_settings(network, self.values, protocol, dt, self.diagnostics)
        ends = self._ends(nudgings)
        shapes.check_memory(
            network.span, projections, self.populations, self.diagnostics
        )
        if protocol is not None:
            shapes.check_run_memory(protocol, dt, self.populations, self.diagnostics)
        if integration == "exponential":
            for population in self.populations.values():
                for compartment in population.compartments:
                    if compartment.current is not None:
                        message = (
                            "the exponential integration needs linear dynamics; "
                            f"'{population.name}.{compartment.name}' has a current"
                        )
                        self._report("E0903", compartment.span, message)

        if self.diagnostics or protocol is None or ends is None:
            return None, self.diagnostics
        return (
            ir.Network(
                span=network.span,
                name=network.name.text,
                dt=dt,
                seed=seed,
                integration=integration,
                populations=tuple(self.populations.values()),
                projections=tuple(projections),
                nudgings=tuple(nudgings),
                protocol=protocol,
                input=ends[0],
                output=ends[1],
                source=self.source,
                loihi=loihi,
            ),
            [],
        )

    # -- populations ----------------------------------------------------

    def _build_populations(self) -> None:
        network = self.scope.network
        for decl in network.inputs:
            size = shapes.check_size(self.values, decl.size, "an input's size")
            if size is not None:
                name = decl.name.text
                self.populations[name] = ir.Population(
                    span=decl.span, name=name, layer=name, size=size
                )
        for layer in network.layers:
            for instance in layer.populations:
                self._build_instance(layer, instance)

    def _build_instance(self, layer: ir.LayerDecl, instance: ir.Instance) -> None:
        size = shapes.check_size(self.values, instance.size, "a population's size")
        neuron = self.scope.neurons.get(instance.neuron.text)
        if size is None or neuron is None:
            return
        env = couplings.neuron_env(neuron, instance, self.values)
        if env is None:
            return
        name = f"{layer.name.text}.{instance.name.text}"
        population = couplings.build_population(
            name,
            layer.name.text,
            size,
            neuron,
            env,
            instance.span,
            self.values,
            self.inliner,
        )
        if population is not None:
            self.populations[name] = population

    # -- projections ----------------------------------------------------

    def _build_projections(self) -> list[ir.Projection]:
        built = []
        for decl in self.scope.network.projections:
            projection = self._build_projection(decl)
            if projection is not None:
                built.append(projection)
        return built

    def _build_projection(self, decl: ir.ProjectionDecl) -> ir.Projection | None:
        diagnostics = self.diagnostics
        source, source_rest = shapes.endpoint(
            decl.source, self.scope, self.populations, diagnostics
        )
        target, target_rest = shapes.endpoint(
            decl.target, self.scope, self.populations, diagnostics
        )
        if source is None or target is None:
            return None
        var = shapes.source_var(decl.source, source, source_rest, diagnostics)
        compartment = shapes.target_compartment(
            decl.target, target, target_rest, diagnostics
        )
        if var is None or compartment is None:
            return None
        if decl.one_to_one and not shapes.check_one_to_one(
            decl.span,
            f"projection '{decl.name.text}'",
            target.size,
            source.size,
            diagnostics,
        ):
            return None
        init_decl = shapes.first(decl.inits, "init", diagnostics)
        learn_decl = shapes.first(decl.learns, "learn", diagnostics)
        if init_decl is None:
            init: ir.Init | None = ir.ConstantInit(span=decl.span, value=0.0)
        else:
            init = shapes.build_init(init_decl, self.values)
        plasticity = None
        if learn_decl is not None:
            plasticity = self._plasticity(learn_decl, target, compartment, source)
            if plasticity is None:
                return None
        if init is None:
            return None
        return ir.Projection(
            span=decl.span,
            name=decl.name.text,
            source=source.name,
            source_var=var,
            target=target.name,
            compartment=compartment,
            one_to_one=decl.one_to_one,
            init=init,
            plasticity=plasticity,
        )

    def _plasticity(self, learn, target, site, source) -> ir.Plasticity | None:
        rule = self.scope.rules.get(learn.rule.text)
        if rule is None:
            return None
        before = len(self.diagnostics)
        call = ir.Call(span=learn.span, func=rule.name.text, keywords=learn.args)
        env = self._rule_env(rule, call)
        settings = couplings.named_settings(
            rule.settings, ("dw", "lowpass"), self.diagnostics
        )
        if env is None:
            return None
        if "dw" not in settings:
            message = f"rule '{rule.name.text}' has no 'dw = ...'"
            self._report("E0205", rule.name.span, message)
            return None
        params = {p.name.text for p in rule.params}

        def resolve(ref: ir.Ref) -> ir.Expr | None:
            problem = locality.check_ref(ref, params, self.scope)
            if problem is not None:
                self.diagnostics.append(problem)
                return None
            if ref.parts[0] in ("w", "pre"):
                return ref
            resolved, problem = locality.resolve_post(ref, target, site)
            if problem is not None:
                self.diagnostics.append(problem)
            return resolved

        def phi(call: ir.Call, argument: ir.Expr) -> ir.Expr | None:
            read = {r.parts[0] for r in locality.refs(target.rate)}
            if len(read) != 1:
                message = f"phi is ambiguous: the rate of '{target.name}' reads "
                message += f"{len(read)} compartments"
                self._report("E0602", call.span, message)
                return None
            return _substitute(target.rate, read.pop(), argument)

        update = self.inliner.inline(settings["dw"].value, env, resolve, phi)
        lowpass = None
        if "lowpass" in settings:
            lowpass = self.values.positive_time(
                settings["lowpass"].value, env, "the low-pass time constant"
            )
        if update is None or len(self.diagnostics) > before:
            return None
        return ir.Plasticity(
            span=learn.span, rule=rule.name.text, update=update, lowpass=lowpass
        )

    def _rule_env(self, rule: ir.RuleDecl, call: ir.Call) -> dict[str, Quantity] | None:
        params = {p.name.text: p for p in rule.params}
        env: dict[str, Quantity] = {}
        ok = True
        for keyword in call.keywords:
            if keyword.name not in params:
                message = f"rule '{rule.name.text}' has no parameter '{keyword.name}'"
                hint = did_you_mean(keyword.name, params)
                self._report("E0602", keyword.span, message, hint)
                ok = False
                continue
            value = self.values.quantity(keyword.value, {})
            if value is None:
                ok = False
            else:
                env[keyword.name] = value
        for name, param in params.items():
            if name in env:
                continue
            if param.default is None:
                message = f"rule '{rule.name.text}' needs the argument '{name}'"
                self._report("E0602", call.span, message)
                ok = False
                continue
            value = self.values.quantity(param.default, {})
            if value is None:
                ok = False
            else:
                env[name] = value
        return env if ok else None

    # -- nudgings -------------------------------------------------------

    def _build_nudgings(self) -> list[ir.Nudging]:
        built = []
        for decl in self.scope.network.nudges:
            nudging = self._build_nudging(decl)
            if nudging is not None:
                built.append(nudging)
        return built

    def _build_nudging(self, decl: ir.NudgeDecl) -> ir.Nudging | None:
        diagnostics = self.diagnostics
        target, rest = shapes.endpoint(
            decl.target, self.scope, self.populations, diagnostics
        )
        if target is None:
            return None
        compartment = shapes.target_compartment(decl.target, target, rest, diagnostics)
        if compartment is None:
            return None
        if target.compartment(compartment).kind != "integrating":
            message = f"'{compartment}' is a dendrite; nudge an integrating compartment"
            self._report("E0203", decl.target.span, message)
            return None
        source_name = source_compartment = None
        if decl.source is not None:
            source, source_rest = shapes.endpoint(
                decl.source, self.scope, self.populations, diagnostics
            )
            if source is None:
                return None
            source_compartment = shapes.source_var(
                decl.source, source, source_rest, diagnostics
            )
            if source_compartment is None:
                return None
            if source_compartment == "rate" or source.is_input:
                message = (
                    "a nudging follows a potential: name an integrating compartment"
                )
                self._report("E0803", decl.source.span, message)
                return None
            if not shapes.check_one_to_one(
                decl.span, "the nudging", target.size, source.size, diagnostics
            ):
                return None
            source_name = source.name
        if decl.conductance_name.text != "g":
            message = f"a nudging takes 'g = ...', not '{decl.conductance_name.text}'"
            self._report("E0205", decl.conductance_name.span, message)
            return None
        g = self.values.number(decl.conductance, {}, "a conductance", positive=True)
        if g is None:
            return None
        e_exc = e_inh = 0.0
        if decl.form == "conductance":
            reversal = self._reversal(decl)
            if reversal is None:
                return None
            e_exc, e_inh = reversal
        return ir.Nudging(
            span=decl.span,
            target=target.name,
            compartment=compartment,
            source=source_name,
            source_compartment=source_compartment,
            conductance=g,
            form=decl.form,
            e_exc=e_exc,
            e_inh=e_inh,
        )

    def _reversal(self, decl: ir.NudgeDecl) -> tuple[float, float] | None:
        given = {k.name: k for k in decl.reversal}
        for keyword in decl.reversal:
            if keyword.name not in ("E_exc", "E_inh"):
                message = f"conductance() takes E_exc and E_inh, not '{keyword.name}'"
                self._report("E0602", keyword.span, message)
                return None
        if set(given) != {"E_exc", "E_inh"}:
            self._report("E0602", decl.span, "conductance() needs E_exc and E_inh")
            return None
        e_exc = self.values.number(given["E_exc"].value, {}, "E_exc")
        e_inh = self.values.number(given["E_inh"].value, {}, "E_inh")
        if e_exc is None or e_inh is None:
            return None
        if e_exc == e_inh:
            self._report("E0602", decl.span, "E_exc and E_inh must differ")
            return None
        return e_exc, e_inh

    # -- derived --------------------------------------------------------

    def _self_predicting(self, projections, nudgings) -> list[ir.Projection]:
        # After an earlier error a partner may be missing only because it was
        # not built; reporting that too would bury the real mistake.
        self._quiet = self._has_errors()
        nudged_from = {n.target: n.source for n in nudgings if n.source is not None}
        by_ends: dict[tuple[str, str], list[ir.Projection]] = {}
        for candidate in projections:
            if not isinstance(candidate.init, ir.SelfPredictingInit):
                key = (candidate.source, candidate.target)
                by_ends.setdefault(key, []).append(candidate)
        result = []
        for projection in projections:
            if not isinstance(projection.init, ir.SelfPredictingInit):
                result.append(projection)
                continue
            init = self._closed_form(projection, by_ends, nudged_from)
            if init is not None:
                projection = projection.model_copy(update={"init": init})
            result.append(projection)
        return result

    def _closed_form(self, projection, by_ends, nudged_from):
        span = projection.init.span
        upper = nudged_from.get(projection.source)
        if upper is not None:
            partners = [
                p
                for p in by_ends.get((upper, projection.target), ())
                if p.compartment == projection.compartment
            ]
            if len(partners) == 1:
                return ir.SelfPredictingInit(
                    span=span, source=partners[0].name, factor=-1.0
                )
        upper = nudged_from.get(projection.target)
        if upper is not None:
            partners = list(by_ends.get((projection.source, upper), ()))
            if len(partners) == 1:
                up = partners[0]
                up_prediction = self.populations[up.target].compartment(up.compartment)
                own = self.populations[projection.target].compartment(
                    projection.compartment
                )
                if up_prediction.prediction and own.prediction:
                    factor = up_prediction.prediction.factor / own.prediction.factor
                    return ir.SelfPredictingInit(
                        span=span, source=up.name, factor=factor
                    )
        message = (
            f"'{projection.name}' cannot start in the self-predicting state: no "
            "partner projection for the closed form"
        )
        hint = (
            "W_PI needs its interneurons nudged from a population that also projects "
            "onto the same compartment; W_IP needs them nudged from a population its "
            "source projects onto"
        )
        if not self._quiet:
            self._report("E0901", span, message, hint)
        return None

    def _ends(self, nudgings) -> tuple[str, str] | None:
        network = self.scope.network
        inputs = [p for p in self.populations.values() if p.is_input]
        outputs = [n for n in nudgings if n.source is None]
        if self._has_errors() and (len(inputs) == 0 or len(outputs) == 0):
            return None
        ok = True
        if len(inputs) != 1:
            message = f"a network needs exactly one input, not {len(inputs)}"
            self._report(
                "E0904", network.name.span, message, "declare 'input NAME[size]'"
            )
            ok = False
        seen: dict[str, ir.Nudging] = {}
        for nudging in outputs:
            if nudging.target in seen:
                first = seen[nudging.target].span
                message = (
                    f"'{nudging.target}' is already nudged from the target at {first}"
                )
                self._report("E0202", nudging.span, message)
                ok = False
            seen.setdefault(nudging.target, nudging)
        if len(seen) != 1:
            names = ", ".join(f"'{name}'" for name in seen) or "none"
            message = (
                "a network needs exactly one population nudged 'from target'; "
                f"found {names}"
            )
            hint = (
                "add 'nudge LAYER.POP.soma from target g = 0.8'" if not seen else None
            )
            self._report("E0904", network.name.span, message, hint)
            ok = False
        if not ok:
            return None
        return inputs[0].name, outputs[0].target

    def _protocol(self, dt: float, projections) -> ir.Protocol | None:
        network = self.scope.network
        protocols = network.protocols
        for extra in protocols[1:]:
            self._report("E0202", extra.span, "a network has one protocol")
        if not protocols:
            message = "the network has no protocol"
            hint = "add 'protocol { pattern = 100 ms  readout = 20 ms }'"
            self._report("E0903", network.name.span, message, hint)
            return None
        decl = protocols[0]
        settings = couplings.named_settings(
            decl.settings, PROTOCOL_SETTINGS, self.diagnostics
        )
        values = self.values

        def time(key, default=None, allow_zero=True):
            if key not in settings:
                return default
            return values.positive_time(
                settings[key].value, {}, f"'{key}'", allow_zero=allow_zero
            )

        def number(key, default):
            if key not in settings:
                return default
            return values.number(settings[key].value, {}, f"'{key}'")

        if "pattern" not in settings:
            self._report("E0903", decl.span, "the protocol needs 'pattern = ...'")
            return None
        pattern = time("pattern", allow_zero=False)
        settle = time("settle", 0.0)
        readout = time("readout", pattern)
        lowpass = time("lowpass", 0.0)
        dataset = None
        if "dataset" in settings:
            dataset = values.word(settings["dataset"].value, DATASETS, "the dataset")
        if None in (pattern, settle, readout, lowpass):
            return None
        for key, value in (
            ("pattern", pattern),
            ("settle", settle),
            ("readout", readout),
        ):
            steps = value / dt
            if not steps <= shapes.MAX_STEPS:
                span = settings[key].value.span
                message = (
                    f"'{key}' ({value:g} ms) is {steps:.3g} steps of dt; at most "
                    f"{shapes.MAX_STEPS:,} are supported"
                )
                self._report("E0804", span, message)
                return None
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                span = settings[key].value.span
                message = f"'{key}' ({value:g} ms) is not a whole number of steps of dt"
                self._report("E0903", span, message)
                return None
        if (
            settle >= pattern
            or readout > pattern
            or (readout <= 0 and readout != pattern)
        ):
            message = "settle must be shorter than the pattern and readout no longer"
            self._report("E0903", decl.span, message)
            return None
        plastic = [p.name for p in projections if p.plastic]
        self._built = {p.name for p in projections}
        phases = tuple(self._phase(p, plastic, i) for i, p in enumerate(decl.phases))
        if not phases:
            phases = (
                ir.Phase(span=decl.span, name="train", epochs=1, learn=tuple(plastic)),
            )
        if any(p is None for p in phases):
            return None
        target_high = number("target_high", 1.0)
        target_low = number("target_low", 0.0)
        if target_high is None or target_low is None:
            return None
        return ir.Protocol(
            span=decl.span,
            pattern=pattern,
            settle=settle,
            readout=readout,
            lowpass=lowpass,
            target_high=target_high,
            target_low=target_low,
            dataset=dataset,
            phases=phases,
        )

    def _phase(self, decl: ir.PhaseDecl, plastic, index) -> ir.Phase | None:
        settings = couplings.named_settings(
            decl.settings, PHASE_SETTINGS, self.diagnostics
        )
        values = self.values
        count = {}
        for key in ("epochs", "patterns"):
            if key in settings:
                value = values.number(
                    settings[key].value, {}, f"'{key}'", positive=True, whole=True
                )
                if value is None:
                    return None
                count[key] = int(value)
        if len(count) == 2:
            message = "a phase lasts 'epochs' or 'patterns', not both"
            self._report("E0903", decl.span, message)
            return None
        inputs = "data"
        if "inputs" in settings:
            inputs = values.word(settings["inputs"].value, ("data", "random"), "inputs")
        switches = {}
        for key in ("teach", "noise"):
            switches[key] = True
            if key in settings:
                switches[key] = values.switch(settings[key].value, f"'{key}'")
        if inputs is None or None in switches.values():
            return None
        if inputs == "random" and not count.get("patterns"):
            message = "a phase with random inputs needs 'patterns = N'"
            self._report("E0903", decl.span, message)
            return None
        learn = tuple(plastic)
        plastic = set(plastic)
        if decl.learn is not None:
            names = [n.text for n in decl.learn]
            if names == ["none"]:
                learn = ()
            elif names != ["all"]:
                for name in decl.learn:
                    if name.text in self._built and name.text not in plastic:
                        message = f"'{name.text}' has no 'learn' rule; it cannot learn"
                        self._report("E0903", name.span, message)
                        return None
                learn = tuple(names)
        if not count:
            count = {"epochs": 1}
        return ir.Phase(
            span=decl.span,
            name=decl.name.text,
            patterns=count.get("patterns"),
            epochs=count.get("epochs"),
            input=inputs,
            teach=switches["teach"] and inputs == "data",
            noise=switches["noise"],
            learn=learn,
        )


def _substitute(expr: ir.Expr, name: str, value: ir.Expr) -> ir.Expr:
    """``expr`` with every reference to ``name`` replaced by ``value``."""
    if isinstance(expr, ir.Ref):
        return value if expr.parts == (name,) else expr
    if isinstance(expr, ir.Unary):
        return expr.model_copy(
            update={"operand": _substitute(expr.operand, name, value)}
        )
    if isinstance(expr, ir.Binary):
        return expr.model_copy(
            update={
                "left": _substitute(expr.left, name, value),
                "right": _substitute(expr.right, name, value),
            }
        )
    if isinstance(expr, ir.Call):
        args = tuple(_substitute(a, name, value) for a in expr.args)
        return expr.model_copy(update={"args": args})
    return expr
