"""The compiler driver: spec text in, a checked network or diagnostics out."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mcdl import ir
from mcdl.diagnostics import Diagnostic, error
from mcdl.frontend import imports
from mcdl.passes.derive import derive
from mcdl.passes.resolve import resolve
from mcdl.source import SourceFile, Span

log = logging.getLogger("mcdl")


@dataclass
class Result:
    """What compiling a spec gave: the network if it is valid, and diagnostics."""

    network: ir.Network | None
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    module: ir.Module | None = None

    @property
    def ok(self) -> bool:
        return self.network is not None


def compile_file(
    path: Path, name: str | None = None, *, allow_outside: bool = False
) -> Result:
    """Compile the spec at ``path`` (reported as ``name``, default the path).

    The files it names (imports, ``file`` initialisers) must lie in its
    folder unless ``allow_outside`` (E0703).
    """
    return _compile(imports.load_file(Path(path), name, allow_outside=allow_outside))


def compile_text(
    text: str,
    name: str = "<spec>",
    path: Path | None = None,
    *,
    allow_outside: bool = False,
) -> Result:
    """Compile spec ``text``; imports are relative to ``path`` if given.

    Without ``path`` the files it names are relative to the working folder
    and must lie in it unless ``allow_outside`` (E0703).
    """
    return _compile(imports.load_text(text, name, path, allow_outside=allow_outside))


#: Constants and functions are evaluated recursively; a chain of a few
#: thousand of them is allowed, a longer one is reported (E0104).
_RECURSION_LIMIT = 8000


def _compile(loaded: imports.Loaded) -> Result:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    try:
        return _passes(loaded)
    except RecursionError:
        span = loaded.main.span if loaded.main else Span.point("<spec>", 1, 1)
        message = "constants or functions depend on each other too deeply"
        hint = "shorten the chain of constants or function calls"
        result = Result(None, [error("E0104", span, message, hint)], loaded.sources)
        return result
    finally:
        sys.setrecursionlimit(limit)


def _passes(loaded: imports.Loaded) -> Result:
    started = time.perf_counter()
    result = Result(None, list(loaded.diagnostics), loaded.sources, loaded.main)
    if loaded.main is None or loaded.diagnostics:
        return _sorted(result)
    scope, diagnostics = resolve(loaded.modules)
    result.diagnostics.extend(diagnostics)
    if scope is None:
        return _sorted(result)
    main = loaded.sources[loaded.main.span.path]
    source = ir.SourceInfo(
        span=loaded.main.span, file=Path(main.name).name, sha256=main.sha256
    )
    network, derived = derive(scope, source, quiet=bool(diagnostics))
    if network is not None and not loaded.allow_outside:
        derived.extend(_files_outside(network, loaded.root))
    result.network = network if not (diagnostics or derived) else None
    result.diagnostics.extend(derived)
    log.debug("checked %s in %.1f ms", main.name, 1e3 * (time.perf_counter() - started))
    return _sorted(result)


def _files_outside(network: ir.Network, root: Path | None) -> list[Diagnostic]:
    """E0703 for every ``file`` initialiser that leaves the spec's folder."""
    found = []
    for projection in network.projections:
        init = projection.init
        if not isinstance(init, ir.FileInit) or root is None:
            continue
        path = Path(init.path)
        if not imports.inside(path if path.is_absolute() else root / path, root):
            message = (
                f"the weights file {init.path!r} is outside the spec's folder {root}"
            )
            found.append(error("E0703", init.span, message, imports.OUTSIDE_HINT))
    return found


def _sorted(result: Result) -> Result:
    unique = {d.model_dump_json(): d for d in result.diagnostics}
    result.diagnostics = sorted(unique.values(), key=Diagnostic.sort_key)
    return result
