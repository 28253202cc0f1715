"""Loading a spec and the files it imports.

Rules checked here:

1. An imported file exists (E0701). ``"std/NAME.mcdl"`` names a file of the
   standard library; any other path is relative to the importing file.
2. Imports are not circular (E0702).
3. Every file parses (the parser's rules, E01xx).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mcdl import ir
from mcdl.diagnostics import Diagnostic, error
from mcdl.frontend import parser
from mcdl.frontend.transform import to_module
from mcdl.resources import stdlib_dir
from mcdl.source import SourceFile, Span

STD_PREFIX = "std/"


@dataclass
class Loaded:
    """A spec and its imports: modules in dependency order, main module last."""

    main: ir.Module | None
    modules: list[ir.Module] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def load_text(text: str, name: str, path: Path | None = None) -> Loaded:
    """Parse the spec ``text`` (reported as ``name``) and its imports."""
    loaded = Loaded(main=None)
    source = SourceFile(name=name, text=text.removeprefix("\ufeff"), path=path)
    loaded.main = _load(source, loaded, stack=[])
    return loaded


def load_file(path: Path, name: str | None = None) -> Loaded:
    """Read and parse the spec at ``path`` and its imports."""
    shown = name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        loaded = Loaded(main=None)
        span = Span.point(shown, 1, 1)
        reason = exc.strerror or str(exc)
        loaded.diagnostics.append(
            error("E0701", span, f"cannot read {shown}: {reason}")
        )
        return loaded
    return _load_bytes(raw, shown, path)


def _load_bytes(raw: bytes, name: str, path: Path) -> Loaded:
    loaded = Loaded(main=None)
    text = _decode(raw, name, loaded.diagnostics)
    if text is None:
        return loaded
    loaded.main = _load(SourceFile(name=name, text=text, path=path), loaded, stack=[])
    return loaded


def _decode(raw: bytes, name: str, diagnostics: list[Diagnostic]) -> str | None:
    if len(raw) > parser.MAX_BYTES:
        message = f"the file is larger than {parser.MAX_BYTES} bytes"
        diagnostics.append(error("E0103", Span.point(name, 1, 1), message))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        span = Span.point(name, line, column)
        diagnostics.append(error("E0106", span, "the file is not valid UTF-8"))
        return None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        span = Span.point(name, line, column)
        diagnostics.append(error("E0106", span, "the file contains a NUL character"))
        return None
    return text


def _load(source: SourceFile, loaded: Loaded, stack: list[Path]) -> ir.Module | None:
    loaded.sources[source.name] = source
    tree, diagnostics = parser.parse(source)
    loaded.diagnostics.extend(diagnostics)
    if tree is None:
        return None
    module = to_module(tree, source.name)
    here = source.path.resolve() if source.path is not None else None
    for decl in module.imports:
        _import(decl, here, loaded, stack + ([here] if here else []))
    loaded.modules.append(module)
    return module


def _import(decl: ir.ImportDecl, here: Path | None, loaded: Loaded, stack) -> None:
    target = _resolve(decl.path, here)
    if target is None or not target.is_file():
        message = f"cannot find the imported file '{decl.path}'"
        hint = "paths are relative to the importing file; 'std/...' is the library"
        loaded.diagnostics.append(error("E0701", decl.span, message, hint))
        return
    target = target.resolve()
    if target in stack:
        message = f"'{decl.path}' imports, directly or not, the file importing it"
        loaded.diagnostics.append(error("E0702", decl.span, message))
        return
    name = _display_name(decl.path, target)
    if name in loaded.sources:
        return
    try:
        raw = target.read_bytes()
    except OSError as exc:
        message = f"cannot read the imported file '{decl.path}': {exc.strerror or exc}"
        loaded.diagnostics.append(error("E0701", decl.span, message))
        return
    text = _decode(raw, name, loaded.diagnostics)
    if text is None:
        return
    _load(SourceFile(name=name, text=text, path=target), loaded, stack)


def _resolve(path: str, here: Path | None) -> Path | None:
    if path.startswith(STD_PREFIX):
        return stdlib_dir() / path[len(STD_PREFIX) :]
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    base = here.parent if here is not None else Path.cwd()
    return base / candidate


def _display_name(written: str, target: Path) -> str:
    if written.startswith(STD_PREFIX):
        return written
    relative = os.path.relpath(target)
    return str(target) if relative.startswith("..") else relative
