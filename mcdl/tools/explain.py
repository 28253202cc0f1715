"""The documentation of a diagnostic code, for ``mcdlc explain CODE``.

Where the text comes from, in order:

1. ``docs/diagnostics.md``, the section ``## CODE: title`` with its example:
   looked for inside the installed package as ``mcdl/docs/diagnostics.md``
   and then in the source checkout as ``docs/diagnostics.md`` (an editable
   install or a run from the checkout finds the latter);
2. otherwise (a wheel that does not ship the page) the title from
   ``mcdl.diagnostics.CODES`` and the stage and module that report the code,
   from the table in ``mcdl.diagnostics``'s docstring.

So ``explain`` always names the code, its title and where it comes from, and
shows the full explanation wherever the page can be found.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from mcdl import diagnostics
from mcdl.diagnostics import CODES

_PACKAGE_DIR = Path(diagnostics.__file__).resolve().parent
_CANDIDATES = (
    _PACKAGE_DIR / "docs" / "diagnostics.md",
    _PACKAGE_DIR.parent / "docs" / "diagnostics.md",
)
_TABLE_ROW = re.compile(r"^(E\d\dxx)\s{2,}(.+?)\s{2,}``([\w.]+)``\s*$", re.M)


class UnknownCode(LookupError):
    """A code that ``CODES`` does not have; ``suggestion`` is a close one."""

    def __init__(self, code: str, suggestion: str | None) -> None:
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"unknown diagnostic code '{code}'{hint}")
        self.code = code
        self.suggestion = suggestion


@dataclass(frozen=True)
class Explanation:
    """What ``explain`` says about one code."""

    code: str
    title: str
    stage: str | None
    module: str | None
    section: str | None

    def text(self) -> str:
        """The explanation as printed: heading, origin, then the docs section."""
        lines = [f"{self.code}: {self.title}"]
        if self.stage:
            lines.append(f"Reported by {self.module} ({self.stage}).")
        if self.section:
            lines += ["", self.section]
        else:
            lines += [
                "",
                "The full explanation, with an example, is in docs/diagnostics.md",
                "of mcdl's source; this installation does not include that page.",
            ]
        return "\n".join(lines)


def normalise(code: str) -> str:
    """``e201``, ``201`` and ``E0201`` all name ``E0201``."""
    text = code.strip().upper()
    digits = text[1:] if text.startswith("E") else text
    if digits.isdigit() and len(digits) <= 4:
        return "E" + digits.zfill(4)
    return text


def explain(code: str, docs: Path | None = None) -> Explanation:
    """The explanation of ``code``; raises ``UnknownCode`` if there is none.

    ``docs`` is the diagnostics page to read (default: found as the module
    docstring says).
    """
    wanted = normalise(code)
    if wanted not in CODES:
        raise UnknownCode(code, suggest(wanted))
    stage, module = stages().get(wanted[:3] + "xx", (None, None))
    page = docs if docs is not None else find_page()
    section = sections(page.read_text(encoding="utf-8")).get(wanted) if page else None
    return Explanation(wanted, CODES[wanted], stage, module, section)


def suggest(code: str) -> str | None:
    """The known code closest to ``code``: the nearest number in its group."""
    group = [c for c in CODES if c[:3] == code[:3]]
    if group and code[3:].isdigit():
        return min(group, key=lambda c: (abs(int(c[3:]) - int(code[3:])), c))
    close = difflib.get_close_matches(code, sorted(CODES), n=1, cutoff=0.6)
    return close[0] if close else None


def find_page() -> Path | None:
    """The ``diagnostics.md`` to read, or None if neither place has it."""
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def sections(markdown: str) -> dict[str, str]:
    """Each ``## CODE: title`` section's body (heading left out), by code."""
    found: dict[str, str] = {}
    parts = re.split(r"^## ", markdown, flags=re.M)
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        match = re.match(r"(E\d{4}):", heading)
        if match:
            found[match.group(1)] = body.strip("\n")
    return found


def stages() -> dict[str, tuple[str, str]]:
    """``E02xx`` to (stage, module), from the table in ``mcdl.diagnostics``."""
    table = diagnostics.__doc__ or ""
    return {m[0]: (m[1].strip(), m[2]) for m in _TABLE_ROW.findall(table)}
