"""Diagnostics: what the compiler says about a spec, as data.

Passes return lists of ``Diagnostic``; only the CLI renders them. Codes are
stable and grouped by the stage that emits them:

=======  ======================================  ==========================
codes    stage                                   module
=======  ======================================  ==========================
E01xx    syntax and input limits                 ``mcdl.frontend.parser``
E02xx    names                                   ``mcdl.passes.resolve``
E03xx    couplings and compartments              ``mcdl.passes.couplings``
E04xx    units and values                        ``mcdl.passes.values``
E05xx    locality of plasticity rules            ``mcdl.passes.locality``
E06xx    functions and calls                     ``mcdl.passes.functions``
E07xx    imports                                 ``mcdl.frontend.imports``
E08xx    populations, projections and nudgings   ``mcdl.passes.shapes``
E09xx    derived quantities and the protocol     ``mcdl.passes.derive``
E10xx    lowering onto Loihi 2                   ``mcdl.passes.lower_loihi``
E11xx    the spec's ``loihi`` block              ``mcdl.passes.loihi_settings``
=======  ======================================  ==========================

``docs/diagnostics.md`` explains every code with an example.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from enum import Enum

from pydantic import BaseModel, ConfigDict

from mcdl.source import SourceFile, Span


class Severity(str, Enum):
    """How bad a diagnostic is: errors stop the build, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


class Diagnostic(BaseModel):
    """One finding about a spec, located by its span."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity = Severity.ERROR
    span: Span
    message: str
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.path, self.span.line, self.span.column, self.code)


#: Every diagnostic code with its one-line title.
CODES: dict[str, str] = {
    "E0101": "syntax error: unexpected input",
    "E0102": "syntax error: unexpected end of file",
    "E0103": "spec file too large",
    "E0104": "blocks or expressions nested too deeply",
    "E0105": "name that cannot be used in generated code",
    "E0106": "spec file is not valid UTF-8 text",
    "E0107": "expression too large once functions are expanded",
    "E0201": "undefined name",
    "E0202": "duplicate name",
    "E0203": "unknown compartment",
    "E0204": "unknown population",
    "E0205": "unknown setting",
    "E0206": "no network in the spec",
    "E0301": "compartment coupled to itself",
    "E0302": "coupling into a dendrite",
    "E0303": "neuron type without a rate",
    "E0304": "rate that reads a dendrite",
    "E0401": "time without a unit",
    "E0402": "unit where none is allowed",
    "E0403": "value must be positive",
    "E0404": "value is not a constant number",
    "E0405": "value must be a whole number",
    "E0406": "invalid switch value",
    "E0501": "non-local term in a plasticity rule",
    "E0502": "rule reads an unknown variable",
    "E0601": "recursive function",
    "E0602": "wrong arguments in a call",
    "E0603": "unknown function",
    "E0701": "imported file not found",
    "E0702": "circular import",
    "E0703": "file outside the spec's folder",
    "E0801": "one-to-one sizes differ",
    "E0802": "projection onto an input",
    "E0803": "invalid projection source",
    "E0804": "network too large",
    "E0805": "invalid initialiser",
    "E0901": "self-predicting initialisation cannot be derived",
    "E0902": "prediction of a dendrite that is not coupled",
    "E0903": "invalid protocol",
    "E0904": "no output population",
    "E1001": "rule cannot be lowered to the learning engine",
    "E1002": "too many post-synaptic factors",
    "E1003": "learning rate outside the engine's literals",
    "E1004": "network does not fit one Loihi 2 chip",
    "E1005": "not supported by the loihi target",
    "E1006": "constant rounds to zero in 12 bits",
    "E1007": "phase cannot be mapped onto the chip",
    "E1008": "pin of a variable the loihi target does not quantise",
    "E1101": "pinned range not positive",
    "E1102": "pinned exponent out of range",
    "E1103": "invalid learning epoch",
    "E1104": "pin with both a range and an exponent",
    "E1105": "duplicate pin",
}


def error(code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
    """Return an error diagnostic; ``code`` must be in ``CODES``."""
    if code not in CODES:
        raise KeyError(f"unregistered diagnostic code {code}")
    return Diagnostic(code=code, span=span, message=message, hint=hint)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a 'did you mean' hint for a misspelt ``name``, or None."""
    by_folded = {c.lower(): c for c in sorted(set(candidates), reverse=True)}
    matches = difflib.get_close_matches(name.lower(), sorted(by_folded), n=1)
    if matches:
        return f"did you mean '{by_folded[matches[0]]}'?"
    return None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """Whether any of ``diagnostics`` is an error."""
    return any(d.severity is Severity.ERROR for d in diagnostics)


def render_text(diagnostic: Diagnostic, source: SourceFile | None) -> str:
    """Render ``path:line:col: error[CODE]: message``, the line, a caret, a hint."""
    span = diagnostic.span
    head = (
        f"{span.path}:{span.line}:{span.column}: "
        f"{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    )
    lines = [head]
    text = source.line(span.line) if source is not None else ""
    if text:
        # One character per column: tabs and other control characters are
        # shown as spaces so the caret stays under the span.
        shown = "".join(c if c.isprintable() else " " for c in text)
        width = span.end_column - span.column if span.end_line == span.line else 1
        width = max(1, min(width, len(shown) - span.column + 1))
        gutter = f"{span.line:>4} | "
        lines.append(gutter + shown)
        lines.append(" " * (len(gutter) + span.column - 1) + "^" * width)
    if diagnostic.hint:
        lines.append(f"  = hint: {diagnostic.hint}")
    return "\n".join(lines)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """Render diagnostics as a JSON array, for editors."""
    return json.dumps([d.model_dump(mode="json") for d in diagnostics], indent=2)
