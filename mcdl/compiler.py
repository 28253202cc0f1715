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


def compile_file(path: Path, name: str | None = None) -> Result:
    """Compile the spec at ``path`` (reported as ``name``, default the path)."""
    return _compile(imports.load_file(Path(path), name))


def compile_text(text: str, name: str = "<spec>", path: Path | None = None) -> Result:
    """Compile spec ``text``; imports are relative to ``path`` if given."""
    return _compile(imports.load_text(text, name, path))


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
    result.network = network if not diagnostics else None
    result.diagnostics.extend(derived)
    log.debug("checked %s in %.1f ms", main.name, 1e3 * (time.perf_counter() - started))
    return _sorted(result)


def _sorted(result: Result) -> Result:
    unique = {d.model_dump_json(): d for d in result.diagnostics}
    result.diagnostics = sorted(unique.values(), key=Diagnostic.sort_key)
    return result
