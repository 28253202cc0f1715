"""Loading a spec and the files it imports.

Rules checked here:

1. An imported file exists (E0701). ``"std/NAME.mcdl"`` names a file of the
   standard library; any other path is relative to the importing file.
2. Imports are not circular (E0702).
3. An imported file lies, symbolic links followed, inside the folder of the
   spec being compiled or in the standard library, unless the caller allows
   files outside (``allow_outside``, ``--allow-outside``) (E0703). A spec
   shared by someone else then reads nothing but its own folder.
4. Every file parses (the parser's rules, E01xx). At most ``MAX_BYTES`` + 1
   bytes of a file are read, so a device or a huge file costs nothing.
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
OUTSIDE_HINT = (
    "keep the files a spec reads in its folder, or allow others with --allow-outside"
)


@dataclass
class Loaded:
    """A spec and its imports: modules in dependency order, main module last."""

    main: ir.Module | None
    modules: list[ir.Module] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    root: Path | None = None
    allow_outside: bool = False


def spec_folder(path: Path | None) -> Path:
    """The folder a spec at ``path`` may read files from (the working folder)."""
    folder = Path.cwd() if path is None else Path(path).parent
    try:
        return folder.resolve()
    except (OSError, RuntimeError):
        return folder.absolute()


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with symbolic links followed, lies inside ``folder``."""
    try:
        resolved = Path(path).resolve()
        base = Path(folder).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return resolved == base or base in resolved.parents


def load_text(
    text: str, name: str, path: Path | None = None, *, allow_outside: bool = False
) -> Loaded:
    """Parse the spec ``text`` (reported as ``name``) and its imports.

    Imports are relative to ``path`` (else to the working folder) and must
    stay in its folder unless ``allow_outside``.
    """
    loaded = Loaded(main=None, root=spec_folder(path), allow_outside=allow_outside)
    source = SourceFile(name=name, text=text.removeprefix("\ufeff"), path=path)
    loaded.main = _load(source, loaded, stack=[])
    return loaded


def load_file(
    path: Path, name: str | None = None, *, allow_outside: bool = False
) -> Loaded:
    """Read and parse the spec at ``path`` and its imports.

    Imports must stay in the spec's folder unless ``allow_outside``.
    """
    shown = name or str(path)
    try:
        raw = read_bounded(path)
    except (OSError, ValueError) as exc:
        loaded = Loaded(main=None)
        span = Span.point(shown, 1, 1)
        reason = exc.strerror or str(exc)
        loaded.diagnostics.append(
            error("E0701", span, f"cannot read {shown}: {reason}")
        )
        return loaded
    return _load_bytes(raw, shown, path, allow_outside)


def read_bounded(path: Path) -> bytes:
    """Return the first ``MAX_BYTES`` + 1 bytes of the file at ``path``."""
    with Path(path).open("rb") as file:
        return file.read(parser.MAX_BYTES + 1)


def _load_bytes(raw: bytes, name: str, path: Path, allow_outside: bool) -> Loaded:
    loaded = Loaded(main=None, root=spec_folder(path), allow_outside=allow_outside)
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
    if "\x00" in decl.path:
        message = f"cannot find the imported file {_quoted(decl.path)}"
        loaded.diagnostics.append(error("E0701", decl.span, message))
        return
    target = _resolve(decl.path, here)
    in_library = decl.path.startswith(STD_PREFIX) and inside(target, stdlib_dir())
    if not (in_library or loaded.allow_outside or inside(target, loaded.root)):
        # Checked first, so that nothing outside is even looked at.
        message = (
            f"the imported file {_quoted(decl.path)} is outside the spec's folder "
            f"{loaded.root}"
        )
        loaded.diagnostics.append(error("E0703", decl.span, message, OUTSIDE_HINT))
        return
    try:
        found = target.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        message = f"cannot find the imported file {_quoted(decl.path)}"
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
        raw = read_bounded(target)
    except OSError as exc:
        reason = exc.strerror or exc
        message = f"cannot read the imported file {_quoted(decl.path)}: {reason}"
        loaded.diagnostics.append(error("E0701", decl.span, message))
        return
    text = _decode(raw, name, loaded.diagnostics)
    if text is None:
        return
    _load(SourceFile(name=name, text=text, path=target), loaded, stack)


def _quoted(path: str) -> str:
    """``path`` in quotes for a message, control characters escaped, cut short."""
    shown = repr(path)
    return shown if len(shown) <= 80 else shown[:76] + "...'"


def _resolve(path: str, here: Path | None) -> Path:
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
