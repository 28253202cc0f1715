"""Building a spec into a package on disk, atomically and only where allowed.

``mcdlc build SPEC -o DIR`` writes ``DIR/<network>/``. The output folder
``DIR`` is marked as mcdl's with a file ``.mcdl-build``; a folder that is
neither empty nor marked is never written to, and neither is a marker that is
not a plain file (a symbolic link to a file elsewhere, say). Inside ``DIR``
only ``<network>/`` is replaced, and only if it is a folder (not a symbolic
link) holding a package that mcdl generated. The package is rendered in
memory, written to a temporary sibling folder, synced to disk (its files and
its folders) and swapped into place in one atomic rename (``renameat2`` with
``RENAME_EXCHANGE`` on Linux; elsewhere two renames), so a failed or
interrupted build leaves an earlier package as it was. ``DIR`` is synced
after the swap, so that a power loss cannot undo it.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.compiler import Result, compile_file
from mcdl.diagnostics import Diagnostic, error
from mcdl.files import sync_folder
from mcdl.init import InitError, OutsideError, initial_weights

log = logging.getLogger("mcdl")

MARKER = ".mcdl-build"
TARGETS = ("cpu", "loihi")
LAYOUTS = ("fused", "layered")


class BuildError(Exception):
    """The build could not write its output (not a mistake in the spec)."""


@dataclass
class Built:
    """The outcome of a build: the compile result and the package folder."""

    result: Result
    package: Path | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.package is not None


def spec_weights(
    network: ir.Network, spec: Path, *, allow_outside: bool = False
) -> tuple[dict[str, np.ndarray] | None, list[Diagnostic]]:
    """The initial weights of ``network``; diagnostics if an initialiser fails.

    ``file`` initialisers are relative to the folder of ``spec`` and must lie
    in it unless ``allow_outside`` (E0703; other failures are E0805).
    """
    try:
        return initial_weights(network, spec.parent, allow_outside=allow_outside), []
    except InitError as exc:
        span = network.span
        for projection in network.projections:
            if projection.name == getattr(exc, "projection", None):
                span = projection.init.span
                break
        code = "E0703" if isinstance(exc, OutsideError) else "E0805"
        return None, [error(code, span, str(exc))]


def render(
    network: ir.Network,
    weights: dict[str, np.ndarray],
    target: str = "cpu",
    layout: str = "fused",
) -> dict[str, bytes]:
    """Render the package files of ``network`` for ``target`` and ``layout``.

    Raises:
        BuildError: an unknown target.
        mcdl.codegen.cpu.CodegenError: the target cannot generate the network.
        mcdl.passes.lower_loihi.LoweringError: the network does not fit
            Loihi 2 (target ``loihi``).
    """
    if target == "cpu":
        from mcdl.codegen.cpu import render_package

        return render_package(network, weights, layout=layout)
    if target == "loihi":
        from mcdl.codegen.loihi import render_loihi_package

        return render_loihi_package(network, weights, layout)
    raise BuildError(f"unknown target '{target}'; known: {', '.join(TARGETS)}")


def render_checked(
    network: ir.Network,
    weights: dict[str, np.ndarray],
    target: str = "cpu",
    layout: str = "fused",
) -> tuple[dict[str, bytes] | None, list[Diagnostic]]:
    """``render``, with what the target cannot generate as diagnostics.

    The front end checks the names that reach generated code; this catches
    what only the target's naming finds (E0105) and, for the loihi target,
    what does not fit the chip (E10xx), so that neither is a traceback.
    """
    from mcdl.codegen.cpu import CodegenError
    from mcdl.passes.lower_loihi import LoweringError

    try:
        return render(network, weights, target, layout), []
    except CodegenError as exc:
        return None, [error("E0105", network.span, str(exc))]
    except LoweringError as exc:
        return None, list(exc.diagnostics)


def check_target(
    network: ir.Network, spec: Path, target: str, *, allow_outside: bool = False
) -> list[Diagnostic]:
    """What ``target`` reports about ``network``, without rendering a package.

    The cpu target takes every checked network; the loihi target lowers it
    and reports what does not fit the chip (E10xx).
    """
    if target == "cpu":
        return []
    weights, problems = spec_weights(network, Path(spec), allow_outside=allow_outside)
    if weights is None:
        return problems
    if target == "loihi":
        from mcdl.passes.lower_loihi import lower_loihi

        plan, diagnostics = lower_loihi(network, weights)
        return [] if plan is not None else diagnostics
    raise BuildError(f"unknown target '{target}'; known: {', '.join(TARGETS)}")


def build(
    spec: Path,
    out_dir: Path,
    target: str = "cpu",
    layout: str = "fused",
    *,
    allow_outside: bool = False,
) -> Built:
    """Compile ``spec`` and write its package into ``out_dir``.

    ``allow_outside`` lets the spec read files outside its folder.

    Raises:
        BuildError: ``out_dir`` is not mcdl's to write, or writing failed.
    """
    result = compile_file(spec, allow_outside=allow_outside)
    built = Built(result, diagnostics=list(result.diagnostics))
    if not result.ok:
        return built
    weights, problems = spec_weights(
        result.network, Path(spec), allow_outside=allow_outside
    )
    built.diagnostics.extend(problems)
    if weights is None:
        return built
    files, problems = render_checked(result.network, weights, target, layout)
    built.diagnostics.extend(problems)
    if files is None:
        return built
    built.package = write_package(files, Path(out_dir), result.network.name)
    return built


def write_package(files: dict[str, bytes], out_dir: Path, name: str) -> Path:
    """Write ``files`` as the package ``out_dir/name``, replacing it atomically.

    Raises:
        BuildError: ``out_dir`` holds files mcdl did not write, ``name`` is
            there but is not a package mcdl wrote, or I/O failed.
    """
    claim_output(out_dir)
    final = out_dir / name
    if os.path.lexists(final) and not is_package(final):
        raise BuildError(
            f"{final} exists and is not a package written by mcdlc build; "
            "move it away or choose another folder"
        )
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir)).resolve()
    staging.chmod(0o755)
    try:
        for relative, data in sorted(files.items()):
            path = staging / relative
            if staging not in path.resolve().parents:
                raise BuildError(f"refusing to write outside the package: {relative}")
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_synced(path, data)
        _sync_tree(staging)
        if os.path.lexists(final):
            _swap(staging, final)
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, final)
        sync_folder(out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"cannot write {final}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.debug("wrote %s (%d files)", final, len(files))
    return final


def is_package(folder: Path) -> bool:
    """Whether ``folder`` is a real folder holding a package mcdl generated."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
        init = folder / "__init__.py"
        if not (init.is_file() and not init.is_symlink()):
            return False
        with init.open("rb") as file:
            head = file.read(4096)
        return b"Generated by mcdl" in head and (folder / "network.json").is_file()
    except OSError:
        return False


def claim_output(out_dir: Path) -> None:
    """Make ``out_dir`` mcdl's output folder, or refuse if it is someone else's.

    Raises:
        BuildError: ``out_dir`` is a file, a non-empty folder without the
            marker that mcdl leaves in folders it creates, or a folder whose
            marker is not a plain file.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"{out_dir} exists and is not a folder")
    marker = out_dir / MARKER
    if os.path.lexists(marker):
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            raise BuildError(
                f"{marker} is not a plain file; mcdlc build does not write through it"
            )
        return
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise BuildError(
            f"{out_dir} is not empty and was not created by mcdlc build; "
            "choose a new or empty folder"
        )
    try:
        if not out_dir.is_dir():
            out_dir.mkdir(parents=True, exist_ok=True)
            sync_folder(out_dir.parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        handle = os.open(marker, flags, 0o644)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("This folder holds packages written by mcdlc build.\n")
    except OSError as exc:
        raise BuildError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_tree(folder: Path) -> None:
    """Make the entries of ``folder`` and of every folder below it durable."""
    for below in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        sync_folder(below)
    sync_folder(folder)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap(new: Path, old: Path) -> None:
    """Put folder ``new`` at ``old``'s path, and ``old`` at ``new``'s.

    One ``renameat2(RENAME_EXCHANGE)`` where the system has it, so that a
    reader sees the old package or the new one and nothing in between;
    otherwise two renames, between which ``old``'s path is briefly empty.
    """
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        status = renameat2(
            _AT_FDCWD,
            os.fsencode(new),
            _AT_FDCWD,
            os.fsencode(old),
            _RENAME_EXCHANGE,
        )
        if status == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(old))
    aside = Path(tempfile.mkdtemp(prefix=f".{old.name}.old.", dir=old.parent))
    os.replace(old, aside / old.name)
    os.replace(new, old)
    os.replace(aside / old.name, new)
    aside.rmdir()


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
