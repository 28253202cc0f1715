"""Fixtures of the code generator's tests: networks, and packages built from them."""

from __future__ import annotations

import copy
import importlib
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mcdl import ir
from mcdl.codegen.cpu import render_package, write_package
from mcdl.init import initial_weights

DATA = Path(__file__).resolve().parent.parent / "data"
BARS = DATA / "bars_network.json"

_packages = itertools.count()


def bars_dict() -> dict[str, Any]:
    """The hand-built bars network, as the JSON of its IR."""
    return json.loads(BARS.read_text())


def bars_network() -> ir.Network:
    """The hand-built bars network of ``tests/data``."""
    return ir.Network.model_validate_json(BARS.read_text())


def variant(change: Callable[[dict[str, Any]], None]) -> ir.Network:
    """The bars network with ``change`` applied to its JSON."""
    data = copy.deepcopy(bars_dict())
    change(data)
    return ir.Network.model_validate(data)


def span(data: dict[str, Any]) -> dict[str, Any]:
    return data["span"]


def num(data: dict[str, Any], value: float) -> dict[str, Any]:
    return {"kind": "num", "span": span(data), "value": value, "unit": None}


def ref(data: dict[str, Any], *parts: str) -> dict[str, Any]:
    return {"kind": "ref", "span": span(data), "parts": list(parts)}


def binary(data: dict[str, Any], op: str, left: Any, right: Any) -> dict[str, Any]:
    return {
        "kind": "binary",
        "span": span(data),
        "op": op,
        "left": left,
        "right": right,
    }


def call(data: dict[str, Any], func: str, *args: Any) -> dict[str, Any]:
    return {"kind": "call", "span": span(data), "func": func, "args": list(args)}


@pytest.fixture
def bars() -> ir.Network:
    return bars_network()


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., ModuleType]:
    """Build a network's package in a temporary folder and import it.

    Every package gets a name of its own, so that builds of different
    networks or layouts do not shadow each other in ``sys.modules``.
    """
    root = tmp_path_factory.mktemp("packages")
    sys.path.insert(0, str(root))

    def build_package(network: ir.Network, layout: str = "fused") -> ModuleType:
        name = f"{network.name}_{layout}_{next(_packages)}"
        files = render_package(network, initial_weights(network), layout)
        write_package(files, root / name)
        importlib.invalidate_caches()
        package = importlib.import_module(name)
        importlib.import_module(f"{name}.models")
        return package

    yield build_package
    sys.path.remove(str(root))
