"""The Jinja environment that renders generated code from ``templates/``.

Templates render from IR values only: undefined variables are errors
(``StrictUndefined``), block tags leave no blank lines behind, and strings
reach the code through the ``pystr`` filter, which writes a Python literal.
"""

from __future__ import annotations

import json
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mcdl import resources


def pystr(value: str) -> str:
    """Return ``value`` as a double-quoted Python string literal."""
    return json.dumps(str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Return the environment of mcdl's templates (built once)."""
    env = Environment(
        loader=FileSystemLoader(str(resources.templates_dir())),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pystr"] = pystr
    return env
