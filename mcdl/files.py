"""Writing files so that a crash or a power loss leaves the old file or the new.

A file is replaced by writing a temporary file beside it, syncing it, and
renaming it over the old one. The rename is only an entry of the folder, and
the folder's entries reach the disk when the folder itself is synced, so
``replace_atomically`` syncs the folder after the rename: without that, a
power loss soon after could bring back the old file, or lose a new one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_CANNOT_SYNC_FOLDERS = (errno.EINVAL, errno.ENOTSUP)
"""What ``fsync`` of a folder gives on a file system that has nothing to sync."""


def sync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (new names, renames) durable.

    Nothing is done where folders cannot be opened, or on a file system that
    cannot sync them.

    Raises:
        OSError: the folder could not be synced (an I/O error).
    """
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_FOLDERS:
            raise
    finally:
        os.close(handle)


def replace_atomically(
    path: Path, write: Callable[[BinaryIO], object], mode: int | None = None
) -> None:
    """Replace ``path`` by what ``write`` writes to a file, durably and at once.

    Args:
        path: the file to replace or create.
        write: called with a binary file open for writing.
        mode: the permissions of the new file; default those of
            ``tempfile.mkstemp`` (read and write for the owner only).

    Raises:
        OSError: writing, syncing or renaming failed; ``path`` is then as it
            was, and no temporary file is left.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)
