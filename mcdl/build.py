"""Building a spec into a package on disk, atomically and only where allowed.

``mcdlc build SPEC -o DIR`` writes ``DIR/<network>/``. The output folder
``DIR`` is marked as mcdl's with a file ``.mcdl-build``; a folder that is
neither empty nor marked is never written to. The package is rendered in
memory, written to a temporary sibling folder and renamed into place, so a
failed build leaves an earlier package as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcdl import ir
from mcdl.compiler import Result, compile_file
from mcdl.diagnostics import Diagnostic, error
from mcdl.init import InitError, initial_weights

log = logging.getLogger("mcdl")

MARKER = ".mcdl-build"
TARGETS = ("cpu",)
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
    network: ir.Network, spec: Path
) -> tuple[dict[str, np.ndarray] | None, list[Diagnostic]]:
    """The initial weights of ``network``; diagnostics if a file init fails."""
    try:
        return initial_weights(network, spec.parent), []
    except InitError as exc:
        span = network.span
        for projection in network.projections:
            if isinstance(projection.init, ir.FileInit) and projection.init.path in str(
                exc
            ):
                span = projection.init.span
                break
        return None, [error("E0805", span, str(exc))]


def render(
    network: ir.Network,
    weights: dict[str, np.ndarray],
    target: str = "cpu",
    layout: str = "fused",
) -> dict[str, bytes]:
    """Render the package files of ``network`` for ``target`` and ``layout``."""
    if target != "cpu":
        raise BuildError(f"unknown target '{target}'; known: {', '.join(TARGETS)}")
    from mcdl.codegen.cpu import render_package

    return render_package(network, weights, layout=layout)


def build(
    spec: Path, out_dir: Path, target: str = "cpu", layout: str = "fused"
) -> Built:
    """Compile ``spec`` and write its package into ``out_dir``.

    Raises:
        BuildError: ``out_dir`` is not mcdl's to write, or writing failed.
    """
    result = compile_file(spec)
    built = Built(result, diagnostics=list(result.diagnostics))
    if not result.ok:
        return built
    weights, problems = spec_weights(result.network, Path(spec))
    built.diagnostics.extend(problems)
    if weights is None:
        return built
    files = render(result.network, weights, target, layout)
    built.package = write_package(files, Path(out_dir), result.network.name)
    return built


def write_package(files: dict[str, bytes], out_dir: Path, name: str) -> Path:
    """Write ``files`` as the package ``out_dir/name``, replacing it atomically.

    Raises:
        BuildError: ``out_dir`` holds files mcdl did not write, or I/O failed.
    """
    claim_output(out_dir)
    final = out_dir / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir)).resolve()
    staging.chmod(0o755)
    try:
        for relative, data in sorted(files.items()):
            path = staging / relative
            if staging not in path.resolve().parents:
                raise BuildError(f"refusing to write outside the package: {relative}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=out_dir))
            os.replace(final, old / name)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"cannot write {final}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.debug("wrote %s (%d files)", final, len(files))
    return final


def claim_output(out_dir: Path) -> None:
    """Make ``out_dir`` mcdl's output folder, or refuse if it is someone else's.

    Raises:
        BuildError: ``out_dir`` is a file, or a non-empty folder without the
            marker that mcdl leaves in folders it creates.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and not (out_dir / MARKER).exists():
        if any(out_dir.iterdir()):
            raise BuildError(
                f"{out_dir} is not empty and was not created by mcdlc build; "
                "choose a new or empty folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MARKER).write_text(
            "This folder holds packages written by mcdlc build.\n", encoding="utf-8"
        )
    except OSError as exc:
        raise BuildError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
