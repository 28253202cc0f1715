"""Small networks to run in Lava, and the accounting of what a run leaves.

``quick_bars`` is ``specs/bars.mcdl`` with shorter patterns (noise, traces
and all four plastic projections kept), so a Lava run of a few patterns takes
a fraction of a second. ``Leaks`` records the worker processes and the
shared-memory segments that exist when it starts and the segments Lava
creates, and says which of them outlive the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from mcdl import data

ROOT = Path(__file__).resolve().parents[2]
BARS = ROOT / "specs" / "bars.mcdl"


def quick_bars(folder: Path, pattern_ms: int = 20, epochs: int = 1) -> Path:
    """Write bars with ``pattern_ms`` patterns (a fifth settles, a fifth reads)."""
    part = pattern_ms // 5
    text = (
        BARS.read_text(encoding="utf-8")
        .replace("pattern = 100 ms", f"pattern = {pattern_ms} ms")
        .replace("settle = 20 ms", f"settle = {part} ms")
        .replace("readout = 20 ms", f"readout = {part} ms")
        .replace("epochs = 1", f"epochs = {epochs}")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quick.mcdl"
    path.write_text(text, encoding="utf-8")
    return path


def small_dataset(path: Path, train: int = 12, test: int = 3) -> Path:
    """A bars ``.npz`` dataset of ``train`` and ``test`` patterns."""
    patterns = data.bars(samples_per_class=max(1, -(-train // 3)), seed=0)
    validation = data.bars_validation()
    np.savez(
        path,
        x_train=patterns.inputs[:train],
        y_train=patterns.labels[:train],
        x_test=validation.inputs[:test],
        y_test=validation.labels[:test],
    )
    return path


def children(pid: int | None = None) -> set[int]:
    """The processes whose parent is ``pid`` (default: this one).

    multiprocessing's resource tracker, started once and kept for the life
    of the interpreter, is not counted.
    """
    pid = os.getpid() if pid is None else pid
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(
            (
                line.split()[1]
                for line in status.splitlines()
                if line.startswith("PPid:")
            ),
            None,
        )
        if parent == str(pid) and b"resource_tracker" not in command:
            if "State:\tZ" not in status:
                found.add(int(entry.name))
    return found


def marked_processes(marker: str) -> set[int]:
    """The processes whose environment holds ``MCDL_RUN_MARKER=marker``."""
    needle = f"MCDL_RUN_MARKER={marker}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if needle in environ.split(b"\0") and "State:\tZ" not in status:
            found.add(int(entry.name))
    return found


def shared_memory() -> set[str]:
    """The names in ``/dev/shm``."""
    folder = Path("/dev/shm")
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


class Leaks:
    """What a run leaves behind: worker processes and shared memory.

    Created before the run; ``segments`` collects the names of the segments
    Lava creates in this process (``watch`` patches its shared-memory
    manager); ``left()`` waits up to ``grace`` seconds for the workers to go
    and returns what is still there.
    """

    def __init__(self, monkeypatch=None) -> None:
        self.before = children()
        self.segments: list[str] = []
        if monkeypatch is not None:
            self.watch(monkeypatch)

    def watch(self, monkeypatch) -> None:
        from lava.magma.runtime.message_infrastructure import shared_memory_manager

        manager = shared_memory_manager.SharedMemoryManager
        create = manager.create_shared_memory
        segments = self.segments

        def recorded(self, size: int):
            handle = create(self, size)
            segments.append(handle.name.lstrip("/"))
            return handle

        monkeypatch.setattr(manager, "create_shared_memory", recorded)

    def left(self, grace: float = 5.0) -> tuple[set[int], set[str]]:
        deadline = time.monotonic() + grace
        while True:
            workers = children() - self.before
            segments = set(self.segments) & shared_memory()
            if not (workers or segments) or time.monotonic() > deadline:
                return workers, segments
            time.sleep(0.05)
