"""The ``mcdlc`` command line: argument parsing and printing only.

Exit codes: 0 success, 1 errors in a spec (or a failed run), 2 usage errors,
130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM. Both signals
raise an exception in the running command, so that Lava is stopped and
files being written are left as they were.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from mcdl import __version__
from mcdl import verify as verification
from mcdl.build import LAYOUTS, TARGETS, BuildError, check_target
from mcdl.build import build as build_spec
from mcdl.compiler import Result, compile_file
from mcdl.data import DataError
from mcdl.diagnostics import render_json, render_text
from mcdl.init import InitError
from mcdl.tools.commands import OUTSIDE_HELP as _OUTSIDE_HELP
from mcdl.tools.commands import register as register_tools
from mcdl.train import loop
from mcdl.train.engines import ENGINES

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that everything on the way out cleans up."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``mcdlc``."""
    parser = argparse.ArgumentParser(
        prog="mcdlc",
        description="Compile MCDL network specs into Lava packages.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log phase timings"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser("check", help="check specs and report diagnostics")
    check.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="diagnostics format"
    )
    check.add_argument(
        "--summary", action="store_true", help="print a summary of each network"
    )
    check.add_argument(
        "--target",
        choices=TARGETS,
        default="cpu",
        help="also check that each network fits this target (loihi: the chip)",
    )
    check.add_argument("--allow-outside", action="store_true", help=_OUTSIDE_HELP)
    check.set_defaults(run=_check)

    build = commands.add_parser("build", help="compile a spec into a Lava package")
    build.add_argument("spec", type=Path, metavar="SPEC")
    build.add_argument("-o", "--out", type=Path, default=Path("build"), metavar="DIR")
    build.add_argument("--target", choices=TARGETS, default="cpu")
    build.add_argument("--layout", choices=LAYOUTS, default="fused")
    build.add_argument("--allow-outside", action="store_true", help=_OUTSIDE_HELP)
    build.set_defaults(run=_build)

    train = commands.add_parser("train", help="build a spec and train it")
    train.add_argument("spec", type=Path, metavar="SPEC")
    train.add_argument("--epochs", type=_positive, default=None)
    train.add_argument(
        "--dataset", default=None, help="bars, digits or FILE.npz (default: the spec's)"
    )
    train.add_argument("--target", choices=TARGETS, default="cpu")
    train.add_argument("--layout", choices=LAYOUTS, default="fused")
    train.add_argument(
        "--engine",
        choices=ENGINES,
        default="lava",
        help="lava: the generated package; sim: the reference simulator",
    )
    train.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="default: runs/NETWORK",
    )
    train.add_argument(
        "--validate-every",
        type=_positive,
        default=None,
        metavar="N",
        help="patterns between validations (default: a tenth of an epoch)",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue after the last epoch saved"
    )
    train.add_argument(
        "--timeout",
        type=_seconds,
        default=loop.WORKER_TIMEOUT,
        metavar="SECONDS",
        help="stop the run when a Lava worker answers nothing for this long "
        f"(default: {loop.WORKER_TIMEOUT:g}; 0: wait as long as the workers live)",
    )
    train.add_argument("--allow-outside", action="store_true", help=_OUTSIDE_HELP)
    train.set_defaults(run=_train)

    verify = commands.add_parser(
        "verify", help="run generated Lava code and mcdl.sim side by side"
    )
    verify.add_argument("spec", type=Path, metavar="SPEC")
    verify.add_argument(
        "--target",
        choices=TARGETS,
        default="cpu",
        help="cpu: Lava against mcdl.sim; loihi: Lava against mcdl.sim.fixed, "
        "and fixed point against float",
    )
    verify.add_argument(
        "--layout", choices=(*LAYOUTS, "both"), default="both", help="default: both"
    )
    verify.add_argument(
        "--patterns",
        type=_positive,
        default=None,
        metavar="N",
        help="training patterns for the fused layout (default: one epoch)",
    )
    verify.add_argument(
        "--layered-patterns",
        type=_positive,
        default=10,
        metavar="N",
        help="training patterns for the layered layout (default: 10)",
    )
    verify.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="the overlay figure (default: NETWORK-verify.png)",
    )
    verify.add_argument("--allow-outside", action="store_true", help=_OUTSIDE_HELP)
    verify.set_defaults(run=_verify)

    register_tools(commands)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _seconds(text: str) -> float | None:
    """A time in seconds, at least 0; 0 means none (``None``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be finite, 0 or more: {text}")
    return value or None


def main(argv: list[str] | None = None) -> int:
    """Run ``mcdlc`` with ``argv`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="mcdl: %(message)s",
    )
    with _SigtermRaises():
        try:
            return args.run(args)
        except Terminated:
            print("\nmcdlc: stopped by SIGTERM", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("\nmcdlc: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader of our output went away (``mcdlc explain E0501 | head``):
            # stop quietly, and keep Python from complaining again at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1


class _SigtermRaises:
    """Within this block, SIGTERM raises ``Terminated`` in this process."""

    def __enter__(self) -> None:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.pid = os.getpid()
            self.previous = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exception: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    def _raise(self, signum: int, frame: object) -> None:
        if os.getpid() != self.pid:
            # A child forked meanwhile (a Lava worker): end as SIGTERM does.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated


def report(result: Result, fmt: str = "text") -> None:
    """Print ``result``'s diagnostics to standard error (JSON: standard output)."""
    if fmt == "json":
        print(render_json(result.diagnostics))
        return
    for diagnostic in result.diagnostics:
        source = result.sources.get(diagnostic.span.path)
        print(render_text(diagnostic, source), file=sys.stderr)
    errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
    if errors:
        plural = "s" if errors != 1 else ""
        print(f"{errors} error{plural}", file=sys.stderr)


def _check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    collected = []
    for spec in args.specs:
        result = compile_file(spec, allow_outside=args.allow_outside)
        if result.ok and args.target != "cpu":
            result = lowered(result, spec, args.target, args.allow_outside)
        collected.append(result)
        if not result.ok:
            status = EXIT_SPEC
        if args.format == "text":
            report(result)
            if result.ok and args.summary:
                print(summary(result))
    if args.format == "json":
        merged = Result(None, [d for r in collected for d in r.diagnostics])
        report(merged, "json")
    return status


def lowered(result: Result, spec: Path, target: str, allow_outside: bool) -> Result:
    """``result`` with what ``target`` reports about its network."""
    problems = check_target(result.network, spec, target, allow_outside=allow_outside)
    if not problems:
        return result
    return Result(None, [*result.diagnostics, *problems], result.sources)


def _build(args: argparse.Namespace) -> int:
    try:
        built = build_spec(
            args.spec,
            args.out,
            args.target,
            args.layout,
            allow_outside=args.allow_outside,
        )
    except BuildError as exc:
        print(f"mcdlc build: {exc}", file=sys.stderr)
        return EXIT_SPEC
    report(Result(None, built.diagnostics, built.result.sources))
    if not built.ok:
        return EXIT_SPEC
    print(f"wrote {built.package}")
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    result = compile_file(args.spec, allow_outside=args.allow_outside)
    report(result)
    if not result.ok:
        return EXIT_SPEC
    network = result.network
    suffix = "" if args.target == "cpu" else f"-{args.target}"
    run_dir = args.run_dir or Path("runs") / f"{network.name}{suffix}"
    print(
        f"training {network.name} for {args.target} on {args.engine} "
        f"({args.layout}) in {run_dir}"
    )
    try:
        history = loop.train(
            network,
            args.spec,
            run_dir,
            epochs=args.epochs,
            dataset=args.dataset,
            engine=args.engine,
            layout=args.layout,
            target=args.target,
            resume=args.resume,
            validate_every=args.validate_every,
            progress=loop.stderr_progress,
            allow_outside=args.allow_outside,
            timeout=args.timeout,
        )
    except (loop.ResumeError, loop.RunError, BuildError, DataError, InitError) as exc:
        print(f"\nmcdlc train: {exc}", file=sys.stderr)
        return EXIT_SPEC
    print(file=sys.stderr)
    for epoch in history.epochs:
        print(
            f"{epoch.phase} epoch {epoch.epoch}: validation loss {epoch.loss:.4f}, "
            f"accuracy {100 * epoch.accuracy:.1f} %, {epoch.seconds:.1f} s "
            f"({1e3 * epoch.seconds / max(1, epoch.patterns):.1f} ms per pattern)"
        )
    print(f"weights: {run_dir / loop.WEIGHTS}, curves: {run_dir / loop.CURVES}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    result = compile_file(args.spec, allow_outside=args.allow_outside)
    report(result)
    if not result.ok:
        return EXIT_SPEC
    if args.target == "loihi":
        return _verify_loihi(args, result)
    network = result.network
    epoch = 1500 if network.protocol.dataset in (None, "bars") else 1000
    layouts = LAYOUTS if args.layout == "both" else (args.layout,)
    comparisons = []
    for layout in layouts:
        count = args.layered_patterns if layout == "layered" else args.patterns
        comparisons.append(
            verification.verify(
                network,
                args.spec,
                layout,
                count or epoch,
                progress=loop.stderr_progress,
                allow_outside=args.allow_outside,
            )
        )
    print(file=sys.stderr)
    status = _print_comparisons(comparisons, verification.TOLERANCE)
    figure = args.plot or Path(f"{network.name}-verify.png")
    verification.plot(comparisons, network, figure)
    print(f"figure: {figure}")
    return status


def _print_comparisons(comparisons, tolerance: float) -> int:
    """Print each comparison's deviations; EXIT_SPEC if one exceeds ``tolerance``."""
    status = EXIT_OK
    for comparison in comparisons:
        print(f"{comparison.layout}: {comparison.patterns} training patterns")
        for name, deviation in sorted(comparison.deviations.items()):
            print(f"  {name:<28} {deviation:.2e}")
        verdict = "ok" if comparison.largest <= tolerance else "FAILED"
        print(
            f"  largest deviation {comparison.largest:.2e} "
            f"(tolerance {tolerance:.0e}): {verdict}"
        )
        if comparison.largest > tolerance:
            status = EXIT_SPEC
    return status


def _verify_loihi(args: argparse.Namespace, result: Result) -> int:
    """Lava's fixed_pt packages against mcdl.sim.fixed (exactly), then fixed
    point against float (reported, not bounded)."""
    from mcdl import verify_loihi
    from mcdl.passes.lower_loihi import LoweringError

    network = result.network
    layouts = LAYOUTS if args.layout == "both" else (args.layout,)
    try:
        exact = [
            verify_loihi.verify_package(
                network,
                args.spec,
                layout,
                (args.layered_patterns if layout == "layered" else args.patterns) or 20,
                allow_outside=args.allow_outside,
            )
            for layout in layouts
        ]
        cost = verify_loihi.verify_fixed(
            network,
            args.spec,
            args.patterns or 100,
            progress=loop.stderr_progress,
            allow_outside=args.allow_outside,
        )
    except LoweringError as exc:
        report(Result(None, exc.diagnostics, result.sources))
        return EXIT_SPEC
    print(file=sys.stderr)
    status = _print_comparisons(exact, 0.0)
    print(f"{cost.layout}: {cost.patterns} training patterns (deviations in float)")
    for name, deviation in sorted(cost.deviations.items()):
        print(f"  {name:<28} {deviation:.3g}")
    figure = args.plot or Path(f"{network.name}-verify-loihi.png")
    verification.plot([cost], network, figure)
    print(f"figure: {figure}")
    return status


def summary(result: Result) -> str:
    """A short human-readable description of a checked network."""
    network = result.network
    lines = [f"network {network.name}: dt = {network.dt:g} ms, seed {network.seed}"]
    for population in network.populations:
        kind = "input" if population.is_input else population.neuron
        compartments = ", ".join(
            f"{c.name} ({c.kind})" for c in population.compartments
        )
        detail = f": {compartments}" if compartments else ""
        lines.append(f"  {population.name}[{population.size}] {kind}{detail}")
    for projection in network.projections:
        how = "one-to-one" if projection.one_to_one else "all-to-all"
        rule = projection.plasticity.rule if projection.plasticity else "fixed"
        lines.append(
            f"  {projection.name}: {projection.source}.{projection.source_var} -> "
            f"{projection.target}.{projection.compartment} ({how}, "
            f"{projection.init.kind}, {rule})"
        )
    for nudging in network.nudgings:
        source = (
            "target"
            if nudging.source is None
            else f"{nudging.source}.{nudging.source_compartment}"
        )
        lines.append(
            f"  nudge {nudging.target}.{nudging.compartment} from {source} "
            f"(g = {nudging.conductance:g})"
        )
    protocol = network.protocol
    lines.append(
        f"  protocol: {protocol.pattern:g} ms per pattern, settle {protocol.settle:g} "
        f"ms, read-out {protocol.readout:g} ms, phases "
        + ", ".join(p.name for p in protocol.phases)
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
