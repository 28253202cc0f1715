"""Every MCDL snippet of the docs is checked by the compiler.

A fenced block in ``docs/*.md`` is a snippet when its info string is

* ``mcdl``: it must compile without a diagnostic. A whole spec (it declares
  a network and elides nothing) is compiled as it is. Anything else is a
  *fragment*, compiled inside a context: ``specs/bars.mcdl`` with the standard
  library written out in front of it. A fragment's declarations replace the
  context's of the same kind and name (a neuron type, a rule, a function, a
  constant; in the network a setting, an input, a layer, a projection, the
  nudgings of the same compartment, the protocol, the loihi block) and are
  added otherwise; its neuron types and rules that the context does not use
  are then used, in a layer and a projection of their own, so that they are
  checked as fully as the compiler checks anything. Statements written
  straight into a network body (``input pixels[9]``) go into the context's
  network; a line ``...`` stands for the rest of the context and is dropped,
  so ``network bars { dt = 0.1 ms ... }`` is a fragment of the network body.
* ``mcdl-error``: it must make the compiler report a diagnostic, whose code is
  that of the section (``## E0201: ...``) the block stands in, if any. It
  may be a whole spec, or a fragment of the small context that
  ``docs/diagnostics.md`` assumes (an input ``x``, a population ``out.pyr`` of
  a type ``N`` with a soma, a projection ``W``); it passes if compiled as
  written, after the context's declarations, or merged into the context, it
  reports that code.

In ``docs/diagnostics.md`` every ``mcdl`` block under a code's heading is an
example of that code, so it is checked as ``mcdl-error``. In
``docs/tutorial.md`` the fragments build on each other, so each is merged into
the context after the tutorial's earlier fragments.

Snippets that are known not to pass are listed in ``KNOWN`` with the reason;
they are strict expected failures, so a fix shows up as a failing test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcdl import ir
from mcdl.compiler import Result, compile_text
from mcdl.frontend import parser
from mcdl.frontend.transform import to_module
from mcdl.resources import stdlib_dir
from mcdl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
BARS = ROOT / "specs" / "bars.mcdl"
STD_IMPORT = "std/microcircuit.mcdl"

#: The context that docs/diagnostics.md's examples assume.
SMALL = """\
neuron N {
    compartment soma { leak = 0.1 }
    rate = relu(soma)
}
network n {
    input x[1]
    layer out { pyr: N[1] }
    project x -> out.pyr.soma as W
    nudge out.pyr.soma from target g = 1
    protocol { pattern = 10 ms }
}
"""

#: Pages whose fragments build on each other: each is checked in the context
#: made of the page's earlier fragments.
CUMULATIVE = {"tutorial.md"}

#: Snippets known not to pass, by id, with the reason.
KNOWN: dict[str, str] = {}


@dataclass(frozen=True)
class Snippet:
    """One fenced MCDL block of a docs page."""

    path: Path
    line: int
    kind: str
    text: str
    section: str
    number: int

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.section}:{self.number}"

    @property
    def code(self) -> str | None:
        return self.section if re.fullmatch(r"E\d{4}", self.section) else None


_FENCE = re.compile(r"^```(mcdl(?:-error)?)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def snippets() -> Iterator[Snippet]:
    """Every ``mcdl`` and ``mcdl-error`` block of the docs, in order."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        headings = [(m.start(), _slug(m.group(1))) for m in _HEADING.finditer(text)]
        counts: dict[str, int] = {}
        for match in _FENCE.finditer(text):
            section = "top"
            for start, slug in headings:
                if start < match.start():
                    section = slug
            counts[section] = counts.get(section, 0) + 1
            kind = match.group(1)
            if path.name == "diagnostics.md" and re.fullmatch(r"E\d{4}", section):
                kind = "mcdl-error"
            line = text.count("\n", 0, match.start()) + 1
            yield Snippet(path, line, kind, match.group(2), section, counts[section])


def _slug(heading: str) -> str:
    code = re.match(r"(E\d{4}):", heading)
    if code:
        return code.group(1)
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


# -- Contexts ----------------------------------------------------------------


def _parse(text: str, name: str) -> ir.Module | None:
    tree, _ = parser.parse(SourceFile(name=name, text=text))
    return to_module(tree, name) if tree is not None else None


def _slice(text: str, node: ir.Node) -> str:
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[: node.span.line - 1]) + node.span.column - 1
    end = (
        sum(len(x) for x in lines[: node.span.end_line - 1]) + node.span.end_column - 1
    )
    return text[start:end]


def _library(module: ir.Module, text: str) -> list[tuple[tuple, str]]:
    items = []
    for kind, group in (
        ("const", module.consts),
        ("neuron", module.neurons),
        ("function", module.functions),
        ("rule", module.rules),
    ):
        items += [((kind, d.name.text), _slice(text, d)) for d in group]
    return items


def _body(network: ir.NetworkDecl, text: str) -> list[tuple[tuple, str]]:
    items: list[tuple[tuple, ir.Node]] = []
    items += [(("setting", s.name.text), s) for s in network.settings]
    items += [(("const", d.name.text), d) for d in network.consts]
    items += [(("neuron", d.name.text), d) for d in network.neurons]
    items += [(("function", d.name.text), d) for d in network.functions]
    items += [(("rule", d.name.text), d) for d in network.rules]
    items += [(("input", d.name.text), d) for d in network.inputs]
    items += [(("layer", d.name.text), d) for d in network.layers]
    items += [(("project", d.name.text), d) for d in network.projections]
    items += [(("nudge", d.target.dotted), d) for d in network.nudges]
    items += [(("protocol",), d) for d in network.protocols]
    items += [(("loihi",), d) for d in network.loihi]
    items.sort(key=lambda item: (item[1].span.line, item[1].span.column))
    return [(key, _slice(text, node)) for key, node in items]


@dataclass
class Context:
    """A spec cut into replaceable pieces: library declarations, network body."""

    library: list[tuple[tuple, str]]
    name: str
    body: list[tuple[tuple, str]]

    @classmethod
    def of(cls, text: str, with_std: bool = True) -> Context:
        library = []
        if with_std:
            std_text = (stdlib_dir() / "microcircuit.mcdl").read_text(encoding="utf-8")
            library = _library(_parse(std_text, STD_IMPORT), std_text)
        module = _parse(text, "context.mcdl")
        network = module.networks[0]
        return cls(
            library + _library(module, text), network.name.text, _body(network, text)
        )

    def merged(self, fragment: Fragment) -> str:
        # Constants, neuron types, functions and rules share one namespace,
        # whether declared at the top of the file or in the network.
        new = fragment.library + fragment.body
        library = _replace(self.library, new)[: -len(new) or None]
        library = [item for item in library if item not in new] + fragment.library
        body = _replace(self.body, new)
        body = [item for item in body if item not in fragment.library]
        body = _into_projection(body)
        name = fragment.network or self.name
        declared = {key for key, _ in library} | {key for key, _ in body}
        body += fragment.uses(declared, self)
        lines = fragment.imports + [text for _, text in library]
        lines.append(f"network {name} {{")
        lines += ["    " + text.replace("\n", "\n    ") for _, text in body]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def library_only(self, text: str) -> str:
        return "\n".join(t for _, t in self.library) + "\n" + text


def _into_projection(body: list) -> list:
    """Move a ``projection-body`` piece into the first projection's braces."""
    inner = [text for key, text in body if key == ("projection-body",)]
    body = [item for item in body if item[0] != ("projection-body",)]
    for number, (key, text) in enumerate(body):
        if inner and key[0] == "project":
            opened = text if text.rstrip().endswith("}") else text + " {}"
            text = opened.rstrip()[:-1] + "\n" + "\n".join(inner) + "\n}"
            body[number] = (key, text)
            break
    return body


def _replace(base: list, new: list) -> list:
    replaced = {key for key, _ in new}
    return [item for item in base if item[0] not in replaced] + new


@dataclass
class Fragment:
    """A snippet cut into pieces like a context."""

    imports: list[str]
    library: list[tuple[tuple, str]]
    network: str | None
    body: list[tuple[tuple, str]]
    module: ir.Module

    def uses(self, declared: set, context: Context) -> list[tuple[tuple, str]]:
        """A layer and projections that use this fragment's unused types and rules."""
        text = "\n".join(t for _, t in context.body)
        extra = []
        types = [n for n in self.module.neurons if n.name.text not in text]
        types = [n for n in types if all(p.default is not None for p in n.params)]
        if types:
            members = " ".join(f"n{i}: {n.name.text}[1]" for i, n in enumerate(types))
            extra.append(
                (("layer", "snippet_types"), f"layer snippet_types {{ {members} }}")
            )
        source = next(k[1] for k, _ in context.body if k[0] == "input")
        target = _basal_target(context)
        for rule in self.module.rules:
            if re.search(rf"\blearn {rule.name.text}\b", text) or target is None:
                continue
            required = [p.name.text for p in rule.params if p.default is None]
            args = ", ".join(f"{p} = 0.01" for p in required)
            name = f"W_snippet_{rule.name.text}"
            extra.append(
                (
                    ("project", name),
                    f"project {source} -> {target} as {name} {{ "
                    f"learn {rule.name.text}({args}) }}",
                )
            )
        return extra


def _basal_target(context: Context) -> str | None:
    """A dendrite the context projects onto (else any projection's target)."""
    targets = [
        re.search(r"-> (\S+) as", text).group(1)
        for key, text in context.body
        if key[0] == "project"
    ]
    basal = [t for t in targets if t.endswith(".basal")]
    return (basal or targets or [None])[0]


_PROJECTION_ITEM = re.compile(r"^\s*(init|learn|one_to_one)\b")


def fragment(text: str) -> Fragment | None:
    """``text`` as pieces, if it parses as a file or as a network body."""
    kept = "\n".join(line for line in text.splitlines() if line.strip() != "...")
    module = _parse(kept, "snippet.mcdl")
    if module is not None:
        imports = [f'import "{d.path}"' for d in module.imports if d.path != STD_IMPORT]
        network = module.networks[0] if module.networks else None
        body = _body(network, kept) if network else []
        name = network.name.text if network else None
        return Fragment(imports, _library(module, kept), name, body, module)
    body = _network_body(kept)
    if body is None:
        # Lines of a projection's body (`learn rule(...)`) left after an
        # elision go into the context's first projection.
        lines = kept.splitlines()
        inner = [line.strip() for line in lines if _PROJECTION_ITEM.match(line)]
        outer = [line for line in lines if not _PROJECTION_ITEM.match(line)]
        body = _network_body("\n".join(outer)) if inner else None
        if body is None:
            return None
        body[1].append((("projection-body",), "\n".join(inner)))
    module, items = body
    return Fragment([], [], None, items, module)


def _network_body(text: str) -> tuple[ir.Module, list] | None:
    wrapped = f"network snippet {{\n{text}\n}}\n"
    module = _parse(wrapped, "snippet.mcdl")
    if module is None:
        return None
    return module, _body(module.networks[0], wrapped)


def context_for(snippet: Snippet) -> Context:
    """The bars context, with a tutorial's earlier fragments merged in."""
    context = Context.of(BARS.read_text(encoding="utf-8"))
    if snippet.path.name not in CUMULATIVE:
        return context
    for earlier in SNIPPETS:
        if earlier == snippet:
            break
        if earlier.path == snippet.path and earlier.kind == "mcdl":
            pieces = None if _is_whole(earlier) else fragment(earlier.text)
            if pieces is not None:
                context = Context.of(context.merged(pieces), with_std=False)
    return context


def _is_whole(snippet: Snippet) -> bool:
    elided = any(line.strip() == "..." for line in snippet.text.splitlines())
    module = _parse(snippet.text, "snippet.mcdl")
    return module is not None and bool(module.networks) and not elided


def _compile(snippet: Snippet, text: str) -> Result:
    name = f"{snippet.path.name}:{snippet.line}"
    return compile_text(text, name=name, path=snippet.path)


def _shown(result: Result, text: str) -> str:
    found = "\n".join(
        f"  {d.span.line}:{d.span.column} {d.code} {d.message}"
        for d in result.diagnostics
    )
    return f"{found}\n--- compiled text ---\n{text}"


# -- The tests ---------------------------------------------------------------

SNIPPETS = list(snippets())


def _marks(snippet: Snippet):
    if snippet.id in KNOWN:
        return [pytest.mark.xfail(reason=KNOWN[snippet.id], strict=True)]
    return []


GOOD = [pytest.param(s, id=s.id, marks=_marks(s)) for s in SNIPPETS if s.kind == "mcdl"]
BAD = [
    pytest.param(s, id=s.id, marks=_marks(s))
    for s in SNIPPETS
    if s.kind == "mcdl-error"
]


def test_the_docs_have_snippets_of_both_kinds() -> None:
    assert GOOD and BAD


def test_known_problems_name_existing_snippets() -> None:
    assert set(KNOWN) <= {s.id for s in SNIPPETS}


@pytest.mark.parametrize("snippet", GOOD)
def test_snippet_compiles_without_diagnostics(snippet: Snippet) -> None:
    if _is_whole(snippet):
        text = snippet.text
    else:
        pieces = fragment(snippet.text)
        assert pieces is not None, f"{snippet.id} parses neither as a file nor a body"
        text = context_for(snippet).merged(pieces)

    result = _compile(snippet, text)

    assert result.diagnostics == [], _shown(result, text)
    assert result.ok


@pytest.mark.parametrize("snippet", BAD)
def test_error_snippet_reports_its_diagnostic(snippet: Snippet) -> None:
    context = Context.of(SMALL)
    attempts = [snippet.text, context.library_only(snippet.text)]
    pieces = fragment(snippet.text)
    if pieces is not None:
        attempts.append(context.merged(pieces))

    results = [(_compile(snippet, text), text) for text in attempts]

    for result, _ in results:
        codes = {d.code for d in result.diagnostics}
        if codes and (snippet.code is None or snippet.code in codes):
            return
    shown = "\n".join(_shown(r, t) for r, t in results)
    pytest.fail(f"{snippet.id}: expected {snippet.code or 'a diagnostic'}:\n{shown}")
