"""Specs of microcircuits with any number of hidden layers, written as text.

``deep_spec((n_in, h_1, ..., h_k, n_out))`` writes the MCDL of the
dendritic microcircuit with ``k`` hidden layers: hidden layer ``i`` holds
``h_i`` pyramidal neurons and as many interneurons as layer ``i + 1`` has
pyramidal neurons; each interneuron population is nudged one to one by the
layer above; bottom-up, lateral and (fixed) top-down projections connect
neighbouring layers; the lateral weights start in the self-predicting state.
The tests run such specs with one, two and three hidden layers on every
engine, and ``benchmarks/scale.py`` times one of the paper's MNIST size.
"""

from __future__ import annotations

from collections.abc import Sequence


def deep_spec(
    sizes: Sequence[int],
    *,
    name: str = "deep",
    pattern: str = "100 ms",
    settle: str = "20 ms",
    readout: str = "20 ms",
    eta_up: float | Sequence[float] = 0.01,
    eta_lateral: float = 0.01,
    eta_pi: float | None = None,
    sigma: float = 0.1,
    rate: str = "soft_relu",
    output_rate: str | None = None,
    init_scale: float = 1.0,
    feedback_scale: float | None = None,
    dataset: str | None = None,
    epochs: int = 1,
    seed: int = 1,
) -> str:
    """Return the MCDL text of a microcircuit of layer sizes ``sizes``.

    Args:
        sizes: the input size, each hidden layer's size, the output size.
        name: the network's name.
        pattern, settle, readout: the protocol's times, with their units.
        eta_up: the bottom-up learning rate, one for all or one per layer.
        eta_lateral: the learning rate of W_IP (and of W_PI).
        eta_pi: another learning rate for W_PI.
        sigma: the noise of every soma.
        rate: ``soft_relu`` (gamma 1, beta 1, theta 0), ``logistic``,
            ``tanh`` or ``linear``: the transfer function of every neuron.
        output_rate: another one for the output layer and for the
            interneurons that follow it (those of the top hidden layer).
        init_scale: bottom-up and top-down weights are uniform in
            ``(-s / sqrt(fan-in), s / sqrt(fan-in))`` with this ``s``.
        feedback_scale: another ``s`` for the (fixed) top-down weights.
        dataset: the protocol's dataset, if any.
        epochs: the epochs of the one phase.
        seed: the network's seed; initialiser seeds follow from it.
    """
    sizes = list(sizes)
    if len(sizes) < 3 or min(sizes) < 1:
        raise ValueError(
            "sizes needs an input, at least one hidden layer and an output"
        )
    hidden = sizes[1:-1]
    depth = len(hidden)
    etas = (
        list(eta_up) if not isinstance(eta_up, (int, float)) else [eta_up] * (depth + 1)
    )
    if len(etas) != depth + 1:
        raise ValueError(
            f"eta_up needs {depth + 1} rates, one per bottom-up projection"
        )
    functions = {
        "soft_relu": "soft_relu(soma)",
        "logistic": "logistic(soma)",
        "tanh": "tanh(soma)",
        "linear": "linear(soma)",
    }
    function = functions[rate]
    top = functions[output_rate or rate]
    lines = [
        f"// A dendritic microcircuit {'-'.join(map(str, sizes))}, written by",
        "// mcdl.experiments.deep.deep_spec.",
        'import "std/microcircuit.mcdl"',
        "",
        f"network {name} {{",
        "    dt = 0.1 ms",
        f"    seed = {seed}",
        "    const g_som = 0.8",
        "",
        f"    neuron Pyr(g_lk = 0.1, g_B = 1.0, g_A = 0.8, sigma = {sigma}) {{",
        "        compartment soma { leak = g_lk  noise = sigma }",
        "        compartment basal dendrite",
        "        compartment apical dendrite",
        "        couple basal -> soma g = g_B",
        "        couple apical -> soma g = g_A",
        f"        rate = {function}",
        "    }",
        f"    neuron Out(g_lk = 0.1, g_B = 1.0, sigma = {sigma}) {{",
        "        compartment soma { leak = g_lk  noise = sigma }",
        "        compartment basal dendrite",
        "        couple basal -> soma g = g_B",
        f"        rate = {top}",
        "    }",
        f"    neuron Inter(g_lk = 0.1, g_D = 1.0, sigma = {sigma}) {{",
        "        compartment soma { leak = g_lk  noise = sigma }",
        "        compartment dendrite dendrite",
        "        couple dendrite -> soma g = g_D",
        f"        rate = {function}",
        "    }",
    ]
    if top != function:
        lines += [
            f"    neuron InterOut(g_lk = 0.1, g_D = 1.0, sigma = {sigma}) {{",
            "        compartment soma { leak = g_lk  noise = sigma }",
            "        compartment dendrite dendrite",
            "        couple dendrite -> soma g = g_D",
            f"        rate = {top}",
            "    }",
        ]
    lines += [
        "",
        f"    input x[{sizes[0]}]",
    ]
    names = [f"h{i + 1}" for i in range(depth)] + ["out"]
    for index, size in enumerate(hidden):
        above = sizes[index + 2]
        follower = "InterOut" if index == depth - 1 and top != function else "Inter"
        lines += [
            f"    layer {names[index]} {{",
            f"        pyr: Pyr[{size}]",
            f"        inter: {follower}[{above}]",
            "    }",
        ]
    lines += ["    layer out {", f"        pyr: Out[{sizes[-1]}]", "    }", ""]
    sources = ["x"] + [f"{n}.pyr" for n in names[:-1]]
    plastic = []
    for index, source in enumerate(sources):
        target = f"{names[index]}.pyr"
        bound = init_scale / sizes[index] ** 0.5
        draw = f"uniform({-bound:.6g}, {bound:.6g}, seed = {seed * 100 + index + 1})"
        plastic.append(f"W_up{index + 1}")
        lines += [
            f"    project {source} -> {target}.basal as W_up{index + 1} {{",
            f"        init {draw}",
            f"        learn dendritic_prediction(eta = {etas[index]:g})",
            "    }",
        ]
    for index in range(depth):
        layer, upper = names[index], names[index + 1]
        scale = init_scale if feedback_scale is None else feedback_scale
        bound = scale / sizes[index + 2] ** 0.5
        k = index + 1
        draw = f"uniform({-bound:.6g}, {bound:.6g}, seed = {seed * 100 + 50 + k})"
        rate_pi = eta_lateral if eta_pi is None else eta_pi
        plastic += [f"W_IP{k}", f"W_PI{k}"]
        lines += [
            f"    project {upper}.pyr -> {layer}.pyr.apical as W_down{k} {{",
            f"        init {draw}",
            "    }",
            f"    project {layer}.pyr -> {layer}.inter.dendrite as W_IP{k} {{",
            "        init self_predicting()",
            f"        learn dendritic_prediction(eta = {eta_lateral:g})",
            "    }",
            f"    project {layer}.inter -> {layer}.pyr.apical as W_PI{k} {{",
            "        init self_predicting()",
            f"        learn apical_to_rest(eta = {rate_pi:g})",
            "    }",
            f"    nudge {layer}.inter.soma from {upper}.pyr.soma g = g_som",
        ]
    lines += [
        "    nudge out.pyr.soma from target g = g_som",
        "",
        "    protocol {",
        f"        pattern = {pattern}",
        f"        settle = {settle}",
        f"        readout = {readout}",
        "        lowpass = 3 ms",
        "        target_high = 1.0",
        "        target_low = 0.1",
    ]
    if dataset is not None:
        lines.append(f"        dataset = {dataset}")
    lines += [
        "        phase task {",
        f"            epochs = {epochs}",
        f"            learn {', '.join(plastic)}",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"
