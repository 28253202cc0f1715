"""Locations of the data files mcdl needs at run time.

The grammar (``mcdl.lark``), the Jinja templates and the ``.mcdl`` standard
library ship inside the installed package as ``mcdl/grammar/``,
``mcdl/templates/`` and ``mcdl/stdlib/``. In a source checkout the grammar and
the templates live instead in the top-level ``grammar/`` and ``templates/``
folders next to the ``mcdl/`` package. Each function here looks inside the
package first and at the checkout root second.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE_DIR.parent


def _locate(*parts: str, is_file: bool = False) -> Path:
    """Return ``parts`` inside the package if it exists there, else in the checkout.

    ``parts`` is a path relative to the package folder (and to the checkout
    root). Raises ``RuntimeError`` naming both places looked at if neither holds
    an existing file (``is_file``) or folder.
    """
    candidates = [_PACKAGE_DIR.joinpath(*parts), _CHECKOUT_ROOT.joinpath(*parts)]
    for candidate in candidates:
        if candidate.is_file() if is_file else candidate.is_dir():
            return candidate
    kind = "file" if is_file else "folder"
    raise RuntimeError(
        f"mcdl cannot find its {kind} {'/'.join(parts)!r}: neither "
        f"{candidates[0]} (installed package) nor {candidates[1]} (source "
        "checkout) exists. The installation is incomplete: reinstall mcdl, or "
        "in a source checkout restore the missing file."
    )


def grammar_path() -> Path:
    """Return the path of the Lark grammar ``mcdl.lark``.

    Looked for as ``mcdl/grammar/mcdl.lark`` in the installed package, then as
    ``grammar/mcdl.lark`` at the root of a source checkout.
    """
    return _locate("grammar", "mcdl.lark", is_file=True)


def templates_dir() -> Path:
    """Return the folder of the Jinja templates of the generated Lava code.

    Looked for as ``mcdl/templates/`` in the installed package, then as
    ``templates/`` at the root of a source checkout.
    """
    return _locate("templates")


def stdlib_dir() -> Path:
    """Return the folder of the ``.mcdl`` standard library.

    Looked for as ``mcdl/stdlib/`` in the installed package (where it also lives
    in a source checkout), then as ``stdlib/`` at the checkout root.
    """
    return _locate("stdlib")
