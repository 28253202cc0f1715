"""Files: a spec reads only its own folder; a build writes only its own.

Imports and ``.npy`` initialisers resolve relative to the spec, and one that
leaves the spec's folder (by ``..``, an absolute path or a symbolic link) is
E0703 unless ``--allow-outside`` is given. A weights file is checked from its
header before its data is read. ``mcdlc build`` writes only inside its
output folder, never through a symbolic link it did not make, never over a
folder it did not create, and replaces a package in one atomic swap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mcdl import build as building
from mcdl.build import BuildError, build, write_package
from mcdl.cli import main
from mcdl.compiler import compile_file

from .hostile import small
from .runs import quick_bars, small_dataset


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes(result) -> set[str]:
    return {d.code for d in result.diagnostics}


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry below ``folder``: file contents, or a link's target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


LIBRARY = "neuron N {\n    compartment soma { leak = 0.1 }\n    rate = relu(soma)\n}\n"
USES_LIBRARY = small().split("network", 1)[1]


def spec_importing(path: str) -> str:
    return f'import "{path}"\nnetwork' + USES_LIBRARY


# -- Imports ------------------------------------------------------------------


def test_imports_below_the_spec_folder_are_read(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "types.mcdl", 'import "../shared.mcdl"\n')
    write(tmp_path / "shared.mcdl", LIBRARY)
    spec = write(tmp_path / "net.mcdl", spec_importing("lib/types.mcdl"))

    assert compile_file(spec).diagnostics == []


@pytest.mark.parametrize("how", ["dots", "absolute", "linked file", "linked folder"])
def test_an_import_that_leaves_the_folder_is_e0703(tmp_path: Path, how: str) -> None:
    outside = write(tmp_path / "elsewhere" / "types.mcdl", LIBRARY)
    project = tmp_path / "project"
    project.mkdir()
    path = {
        "dots": "../elsewhere/types.mcdl",
        "absolute": str(outside),
        "linked file": "types.mcdl",
        "linked folder": "lib/types.mcdl",
    }[how]
    if how == "linked file":
        (project / "types.mcdl").symlink_to(outside)
    if how == "linked folder":
        (project / "lib").symlink_to(outside.parent, target_is_directory=True)
    spec = write(project / "net.mcdl", spec_importing(path))

    refused = compile_file(spec)
    allowed = compile_file(spec, allow_outside=True)

    assert codes(refused) == {"E0703"}
    assert (refused.diagnostics[0].span.line, refused.diagnostics[0].span.column) == (
        1,
        1,
    )
    assert allowed.diagnostics == []


def test_an_imported_file_may_not_leave_the_folder_of_the_main_spec(
    tmp_path: Path,
) -> None:
    write(tmp_path / "secret.mcdl", LIBRARY)
    write(tmp_path / "project" / "lib" / "types.mcdl", 'import "../../secret.mcdl"\n')
    spec = write(tmp_path / "project" / "net.mcdl", spec_importing("lib/types.mcdl"))

    (diagnostic,) = compile_file(spec).diagnostics

    assert diagnostic.code == "E0703"
    assert Path(diagnostic.span.path).name == "types.mcdl"


def test_std_cannot_be_used_to_climb_out_of_the_library(tmp_path: Path) -> None:
    write(tmp_path / "secret.mcdl", LIBRARY)
    depth = len(Path(__file__).resolve().parents) + 2
    climb = "std/" + "../" * depth + str(tmp_path / "secret.mcdl").lstrip("/")
    spec = write(tmp_path / "project" / "net.mcdl", spec_importing(climb))

    assert codes(compile_file(spec)) == {"E0703"}


@pytest.mark.parametrize("command", ["check", "graph"])
def test_mcdlc_needs_allow_outside_for_a_file_outside(
    tmp_path: Path, capsys, command: str
) -> None:
    write(tmp_path / "types.mcdl", LIBRARY)
    spec = write(tmp_path / "project" / "net.mcdl", spec_importing("../types.mcdl"))
    drawing = tmp_path / "net.dot"
    arguments = [command, str(spec)]
    if command == "graph":
        arguments += ["-o", str(drawing)]

    assert main(arguments) == 1
    assert "error[E0703]" in capsys.readouterr().err
    assert not drawing.exists()
    assert main([*arguments, "--allow-outside"]) == 0
    assert drawing.exists() == (command == "graph")


# -- Weights files --------------------------------------------------------------


def with_file(folder: Path, path: str) -> Path:
    text = small().replace("as W", f'as W {{ init file("{path}") }}')
    return write(folder / "net.mcdl", text)


def test_a_weights_file_next_to_the_spec_is_loaded(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.full((1, 1), 0.25))
    spec = with_file(tmp_path, "w.npy")

    built = build(spec, tmp_path / "out")

    assert built.ok
    weights = np.load(built.package / "weights" / "W.npy")
    assert weights.tolist() == [[0.25]]


@pytest.mark.parametrize("how", ["dots", "linked file"])
def test_a_weights_file_outside_is_e0703_unless_allowed(
    tmp_path: Path, how: str
) -> None:
    outside = tmp_path / "private.npy"
    np.save(outside, np.ones((1, 1)))
    project = tmp_path / "project"
    project.mkdir()
    if how == "linked file":
        (project / "w.npy").symlink_to(outside)
    spec = with_file(project, "../private.npy" if how == "dots" else "w.npy")

    refused = build(spec, tmp_path / "out")
    allowed = build(spec, tmp_path / "out", allow_outside=True)

    assert codes(refused) == {"E0703"}
    assert not refused.ok
    assert allowed.ok


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("npz", "not a .npy file"),
        ("pickle", "not numbers"),
        ("text", "not a .npy file"),
        ("shape", "have shape (2, 3)"),
        ("nan", "not all finite: nan at (0, 0)"),
        ("folder", "not a file"),
        ("fifo", "not a file"),
        ("truncated", "cannot load"),
        ("missing", "not a file"),
    ],
)
def test_a_bad_weights_file_is_e0805_naming_what_is_wrong(
    tmp_path: Path, kind: str, words: str
) -> None:
    path = tmp_path / "w.npy"
    if kind == "npz":
        with path.open("wb") as file:
            np.savez(file, w=np.zeros((1, 1)))
    elif kind == "pickle":
        np.save(path, np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    elif kind == "text":
        path.write_text("0.5\n")
    elif kind == "shape":
        np.save(path, np.zeros((2, 3)))
    elif kind == "nan":
        np.save(path, np.full((1, 1), np.nan))
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "truncated":
        np.save(path, np.zeros((1, 1)))
        path.write_bytes(path.read_bytes()[:-4])
    spec = with_file(tmp_path, "w.npy")

    built = build(spec, tmp_path / "out")

    assert not built.ok
    (diagnostic,) = built.diagnostics
    assert diagnostic.code == "E0805"
    assert words in diagnostic.message
    assert (
        diagnostic.span.line
        == spec.read_text()
        .splitlines()
        .index(next(line for line in spec.read_text().splitlines() if "file(" in line))
        + 1
    )


def test_a_header_claiming_a_huge_array_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)}
    with (tmp_path / "w.npy").open("wb") as file:
        np.lib.format.write_array_header_1_0(file, header)
    spec = with_file(tmp_path, "w.npy")

    (diagnostic,) = build(spec, tmp_path / "out").diagnostics

    assert "have shape (1000000000, 1000000000)" in diagnostic.message


# -- Where a build writes -------------------------------------------------------


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write(tmp_path / "spec" / "net.mcdl", small())


def test_a_build_writes_only_inside_its_output_folder(tmp_path: Path, spec) -> None:
    before = snapshot(tmp_path)

    assert build(spec, tmp_path / "out").ok

    after = snapshot(tmp_path)
    new = {name for name in after if name not in before}
    assert all(name.startswith("out") for name in new)
    assert {name: after[name] for name in before} == before


def test_a_folder_the_build_did_not_create_is_left_alone(tmp_path: Path, spec) -> None:
    out = tmp_path / "out"
    write(out / "notes.txt", "mine")

    with pytest.raises(BuildError, match="not created by mcdlc build"):
        build(spec, out)

    assert snapshot(out) == {"notes.txt": b"mine"}


def test_a_marker_that_links_elsewhere_is_not_written_through(
    tmp_path: Path, spec
) -> None:
    victim = write(tmp_path / "victim.txt", "precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / building.MARKER).symlink_to(victim)

    with pytest.raises(BuildError, match="not a plain file"):
        build(spec, out)

    assert victim.read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == [building.MARKER]


def test_a_package_folder_that_links_elsewhere_is_not_replaced(
    tmp_path: Path, spec
) -> None:
    out = tmp_path / "out"
    assert build(spec, out).ok
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "keep.txt", "keep")
    os.replace(out / "n", tmp_path / "old-package")
    (out / "n").symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(BuildError, match="not a package written by mcdlc build"):
        build(spec, out)

    assert snapshot(elsewhere) == {"keep.txt": b"keep"}
    assert (out / "n").is_symlink()


def test_a_folder_of_the_network_name_that_is_no_package_is_not_replaced(
    tmp_path: Path, spec
) -> None:
    out = tmp_path / "out"
    assert build(spec, out).ok
    os.replace(out / "n", tmp_path / "old-package")
    write(out / "n" / "thesis.tex", "years of work")

    with pytest.raises(BuildError, match="not a package written by mcdlc build"):
        build(spec, out)

    assert snapshot(out / "n") == {"thesis.tex": b"years of work"}


def test_an_output_folder_that_is_a_file_or_a_dangling_link_is_refused(
    tmp_path: Path, spec
) -> None:
    write(tmp_path / "file", "a file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")

    with pytest.raises(BuildError, match="not a folder"):
        build(spec, tmp_path / "file")
    with pytest.raises(BuildError):
        build(spec, tmp_path / "dangling")

    assert not (tmp_path / "nowhere").exists()


def test_a_rebuild_swaps_the_package_and_leaves_nothing_behind(
    tmp_path: Path, spec
) -> None:
    out = tmp_path / "out"
    first = build(spec, out).package
    inode = first.stat().st_ino
    write(spec, small(DT="0.2 ms"))

    second = build(spec, out).package

    assert second == first
    assert second.stat().st_ino != inode
    assert "DT = 0.2" in (second / "process.py").read_text()
    assert sorted(p.name for p in out.iterdir()) == [building.MARKER, "n"]


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (OSError(28, "No space left"), BuildError),
        (KeyboardInterrupt, KeyboardInterrupt),
    ],
)
def test_a_build_that_fails_midway_leaves_the_earlier_package(
    tmp_path: Path, spec, monkeypatch, failure, raised
) -> None:
    out = tmp_path / "out"
    assert build(spec, out).ok
    before = snapshot(out)
    written = []

    def fail_on_the_third(path: Path, data: bytes) -> None:
        written.append(path)
        if len(written) == 3:
            raise failure
        path.write_bytes(data)

    monkeypatch.setattr(building, "_write_synced", fail_on_the_third)
    write(spec, small(DT="0.2 ms"))

    with pytest.raises(raised):
        build(spec, out)

    assert snapshot(out) == before


def test_write_package_refuses_paths_that_leave_the_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="outside the package"):
        write_package({"../escape.py": b"x = 1\n"}, tmp_path / "out", "n")

    assert not (tmp_path / "out" / "escape.py").exists()
    assert not (tmp_path / "escape.py").exists()


# -- Durable renames ------------------------------------------------------------


class Renames:
    """The renames and the folder syncs of this process, in order.

    A rename is only an entry of its folder; it survives a power loss once
    the folder is synced. ``unsynced()`` lists the folders with a rename
    that no sync of the folder followed.
    """

    def __init__(self, monkeypatch) -> None:
        self.events: list[tuple[str, Path]] = []
        replace, fsync, swap = os.replace, os.fsync, building._swap

        def replaced(source, target, **options) -> None:
            replace(source, target, **options)
            self.events.append(("rename", Path(target).resolve().parent))

        def swapped(new: Path, old: Path) -> None:
            swap(new, old)
            self.events.append(("rename", Path(old).resolve().parent))

        def synced(handle: int) -> None:
            fsync(handle)
            path = Path(os.readlink(f"/proc/self/fd/{handle}"))
            if path.is_dir():
                self.events.append(("sync", path.resolve()))

        monkeypatch.setattr(os, "replace", replaced)
        monkeypatch.setattr(os, "fsync", synced)
        monkeypatch.setattr(building, "_swap", swapped)

    def renamed(self) -> set[Path]:
        return {folder for kind, folder in self.events if kind == "rename"}

    def unsynced(self) -> set[Path]:
        pending: set[Path] = set()
        for kind, folder in self.events:
            if kind == "rename":
                pending.add(folder)
            else:
                pending.discard(folder)
        return pending


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_build_and_a_rebuild_sync_the_folder_of_the_package(
    tmp_path: Path, spec, monkeypatch
) -> None:
    renames = Renames(monkeypatch)
    out = (tmp_path / "out").resolve()

    assert build(spec, out).ok
    write(spec, small(DT="0.2 ms"))
    assert build(spec, out).ok

    assert renames.renamed() == {out.resolve()}
    assert renames.unsynced() == set()
    synced = {folder for kind, folder in renames.events if kind == "sync"}
    staged = [f for f in synced if f.name == "weights" and f.parent.parent == out]
    assert len(staged) == 2, "the weights/ folder of each build must be synced"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_every_checkpoint_survives_a_power_loss(tmp_path: Path, monkeypatch) -> None:
    """The checkpoint, weights, history and curves: each rename is synced."""
    spec = quick_bars(tmp_path, pattern_ms=10, epochs=2)
    dataset = small_dataset(tmp_path / "small.npz", train=6, test=3)
    run_dir = tmp_path / "run"
    renames = Renames(monkeypatch)

    status = main(
        ["train", str(spec), "--dataset", str(dataset), "--run-dir", str(run_dir)]
        + ["--engine", "sim"]
    )

    assert status == 0
    assert run_dir.resolve() in renames.renamed()
    assert renames.unsynced() == set()
