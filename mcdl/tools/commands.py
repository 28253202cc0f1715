"""The ``mcdlc`` subcommands of the language tools: ``fmt``, ``graph``, ``explain``.

``register(commands)`` adds them to the subparsers object of ``mcdlc``'s
argument parser; each sets ``run`` to a function of the parsed arguments that
returns the exit code: 0 success, 1 errors in a spec (or files that ``fmt
--check`` would change, or a failed run), 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcdl.compiler import compile_file
from mcdl.diagnostics import Diagnostic, render_text
from mcdl.source import SourceFile
from mcdl.tools import explain as explaining
from mcdl.tools import formatter, graph

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2

OUTSIDE_HELP = (
    "let the spec read imports and weights files outside its folder "
    "(only for specs you trust)"
)
"""The help of ``--allow-outside``, for every command that compiles a spec."""


def register(commands) -> None:
    """Add ``fmt``, ``graph`` and ``explain`` to ``commands`` (argparse subparsers)."""
    fmt = commands.add_parser(
        "fmt",
        help="format specs in the canonical layout",
        description="Rewrite specs in the canonical layout, keeping comments. "
        "A folder stands for every .mcdl file below it; '-' formats standard "
        "input to standard output.",
    )
    fmt.add_argument("specs", nargs="+", metavar="SPEC", help="spec file, folder or -")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list the files that would change and exit 1 if any",
    )
    fmt.set_defaults(run=run_fmt)

    draw = commands.add_parser(
        "graph",
        help="draw a network with Graphviz",
        description="Draw the network of a spec: layers, populations with their "
        "compartments and couplings, projections and nudgings. The format "
        "follows the output's suffix; .svg, .png and .pdf need Graphviz's "
        "'dot', .dot writes the Graphviz source.",
    )
    draw.add_argument("spec", type=Path, metavar="SPEC")
    draw.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="FILE.svg, FILE.png, FILE.pdf or FILE.dot",
    )
    draw.add_argument("--allow-outside", action="store_true", help=OUTSIDE_HELP)
    draw.set_defaults(run=run_graph)

    explain = commands.add_parser(
        "explain",
        help="explain a diagnostic code",
        description="Print the documentation of a diagnostic code, such as E0201.",
    )
    explain.add_argument("code", nargs="?", metavar="CODE")
    explain.add_argument(
        "--list", action="store_true", help="list every code with its title"
    )
    explain.set_defaults(run=run_explain)


# -- fmt ----------------------------------------------------------------------


def run_fmt(args: argparse.Namespace) -> int:
    """``mcdlc fmt``: format files in place, or only check them."""
    if "-" in args.specs:
        if len(args.specs) > 1:
            return _usage("fmt: '-' (standard input) cannot be mixed with files")
        return _fmt_stdin(args.check)
    paths, missing = _spec_paths(args.specs)
    for path in missing:
        print(f"mcdlc fmt: {path}: no such file or folder", file=sys.stderr)
    if missing:
        return EXIT_USAGE
    status = EXIT_OK
    changed = failed = 0
    for path in paths:
        try:
            result = formatter.format_file(path)
        except formatter.FormatterBug as exc:
            print(f"mcdlc fmt: {exc}", file=sys.stderr)
            status, failed = EXIT_SPEC, failed + 1
            continue
        if result.text is None:
            _print_diagnostics(result.diagnostics, result.source)
            status, failed = EXIT_SPEC, failed + 1
            continue
        if not result.changed:
            continue
        changed += 1
        if args.check:
            print(f"would reformat {path}")
            status = EXIT_SPEC
        else:
            graph.write_atomically(path, result.text.encode("utf-8"))
            print(f"reformatted {path}")
    verb = "would be reformatted" if args.check else "reformatted"
    parts = [f"{_files(changed)} {verb}"]
    parts.append(f"{_files(len(paths) - changed - failed)} left unchanged")
    if failed:
        parts.append(f"{_files(failed)} not formatted because of errors")
    print(", ".join(parts), file=sys.stderr)
    return status


def _files(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def _fmt_stdin(check: bool) -> int:
    text = sys.stdin.read()
    try:
        result = formatter.format_text(text, "<stdin>")
    except formatter.FormatterBug as exc:
        print(f"mcdlc fmt: {exc}", file=sys.stderr)
        return EXIT_SPEC
    if result.text is None:
        _print_diagnostics(result.diagnostics, result.source)
        return EXIT_SPEC
    if check:
        if result.changed:
            print("would reformat <stdin>")
            return EXIT_SPEC
        return EXIT_OK
    sys.stdout.write(result.text)
    return EXIT_OK


def _spec_paths(specs: list[str]) -> tuple[list[Path], list[Path]]:
    """The files named or under the folders named, and the paths that do not exist."""
    files: list[Path] = []
    missing: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.mcdl") if p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            missing.append(path)
    return list(dict.fromkeys(files)), missing


def _print_diagnostics(found: list[Diagnostic], source: SourceFile | None) -> None:
    for diagnostic in found:
        shown = source if source and source.name == diagnostic.span.path else None
        print(render_text(diagnostic, shown), file=sys.stderr)
    errors = len(found)
    plural = "s" if errors != 1 else ""
    print(f"{errors} error{plural}", file=sys.stderr)


# -- graph --------------------------------------------------------------------


def run_graph(args: argparse.Namespace) -> int:
    """``mcdlc graph SPEC -o FILE``: check the spec, then draw its network."""
    if args.output.suffix.lower() not in graph.FORMATS:
        known = ", ".join(sorted(graph.FORMATS))
        return _usage(f"graph: cannot tell the format of {args.output}; use {known}")
    result = compile_file(args.spec, allow_outside=args.allow_outside)
    if not result.ok:
        for diagnostic in result.diagnostics:
            source = result.sources.get(diagnostic.span.path)
            print(render_text(diagnostic, source), file=sys.stderr)
        errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
        print(f"{errors} error{'s' if errors != 1 else ''}", file=sys.stderr)
        return EXIT_SPEC
    try:
        graph.render(graph.to_dot(result.network), args.output)
    except (graph.GraphvizMissing, RuntimeError, OSError) as exc:
        print(f"mcdlc graph: {exc}", file=sys.stderr)
        return EXIT_SPEC
    print(f"wrote {args.output}")
    return EXIT_OK


# -- explain ------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    """``mcdlc explain CODE``: print the documentation of a diagnostic code."""
    if args.list:
        for code, title in explaining.CODES.items():
            print(f"{code}  {title}")
        return EXIT_OK
    if args.code is None:
        return _usage("explain: give a code such as E0201, or --list")
    try:
        explanation = explaining.explain(args.code)
    except explaining.UnknownCode as exc:
        return _usage(f"explain: {exc}")
    print(explanation.text())
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"mcdlc {message}", file=sys.stderr)
    return EXIT_USAGE
