"""Source files and the spans that locate IR nodes and diagnostics in them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of a source file: 1-based lines and columns, end exclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    @classmethod
    def point(cls, path: str, line: int, column: int) -> Span:
        """Return a one-character span at ``line``, ``column``."""
        return cls(
            path=path, line=line, column=column, end_line=line, end_column=column + 1
        )


@dataclass(frozen=True)
class SourceFile:
    """The text of one spec file, with the name it is reported under."""

    name: str
    text: str
    path: Path | None = None
    lines: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Only "\n" ends a line, as for the parser; other breaks stay in it.
        lines = [line.removesuffix("\r") for line in self.text.split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        object.__setattr__(self, "lines", tuple(lines))

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the text, as UTF-8."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line(self, number: int) -> str:
        """Return line ``number`` (1-based), or '' past the end."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""

    def end_span(self) -> Span:
        """Return a span just past the last character of the file."""
        if not self.lines:
            return Span.point(self.name, 1, 1)
        last = len(self.lines)
        return Span.point(self.name, last, len(self.lines[-1]) + 1)
