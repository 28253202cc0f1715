"""The parse tree becomes the spec-level IR, with spans and units kept."""

from __future__ import annotations

from pathlib import Path

from mcdl import ir
from mcdl.frontend import imports

ROOT = Path(__file__).resolve().parents[2]


def module(text: str) -> ir.Module:
    loaded = imports.load_text(text, "test.mcdl")
    assert loaded.diagnostics == []
    return loaded.main


def test_a_number_keeps_the_unit_it_was_written_with() -> None:
    (fast, slow) = module("const a = 0.1 ms\nconst b = 0.1 s\n").consts

    assert (fast.value.value, fast.value.unit) == (0.1, "ms")
    assert (slow.value.value, slow.value.unit) == (0.1, "s")


def test_a_name_has_the_span_it_was_written_at() -> None:
    (const,) = module("\n  const gain = 2\n").consts

    span = const.name.span
    assert (span.line, span.column, span.end_line, span.end_column) == (2, 9, 2, 13)


def test_operators_bind_as_usual() -> None:
    (const,) = module("const a = 1 + 2 * -3 ** 2\n").consts

    total = const.value
    assert total.op == "+"
    assert total.right.op == "*"
    assert isinstance(total.right.right, ir.Unary)
    assert total.right.right.operand.op == "**"


def test_a_nudging_from_the_target_has_no_source() -> None:
    text = "network n { nudge out.pyr.soma from target g = 0.8 }\n"

    (nudge,) = module(text).networks[0].nudges

    assert nudge.source is None
    assert nudge.target.dotted == "out.pyr.soma"
    assert nudge.form == "current"


def test_projection_body_items_are_sorted_into_fields() -> None:
    text = (
        "network n { project a -> b.c.d as W {\n"
        '    one_to_one  init file("w.npy")  learn r(eta = 1)\n'
        "} }\n"
    )

    (projection,) = module(text).networks[0].projections

    assert projection.one_to_one
    assert projection.inits[0].strings == ("w.npy",)
    assert projection.learns[0].rule.text == "r"
    assert projection.learns[0].args[0].name == "eta"


def test_a_loihi_block_holds_its_pins_and_settings() -> None:
    text = (
        "network n { loihi {\n"
        "    pin W_up1 range = 2.0\n"
        "    pin hidden.pyr.rate exponent = 5\n"
        "    epoch = 10\n"
        "} }\n"
    )

    (block,) = module(text).networks[0].loihi

    first, second = block.pins
    assert (first.variable.dotted, first.setting.name.text) == ("W_up1", "range")
    assert second.variable.dotted == "hidden.pyr.rate"
    assert (second.setting.name.text, second.setting.value.value) == ("exponent", 5)
    assert [s.name.text for s in block.settings] == ["epoch"]
    assert (second.span.line, second.span.column) == (3, 5)


def test_a_loihi_block_round_trips_through_json_exactly() -> None:
    text = "network n { loihi { pin W exponent = -3  epoch = 4 } }\n"
    parsed = module(text)

    again = ir.Module.model_validate_json(parsed.model_dump_json())

    assert again == parsed


def test_module_round_trips_through_json_exactly() -> None:
    bars = imports.load_file(ROOT / "specs" / "bars.mcdl").main
    dumped = bars.model_dump_json()

    again = ir.Module.model_validate_json(dumped)

    assert again == bars
    assert again.model_dump_json() == dumped


def test_the_standard_library_round_trips_through_json_exactly() -> None:
    loaded = imports.load_file(ROOT / "specs" / "bars.mcdl")

    for each in loaded.modules:
        assert ir.Module.model_validate_json(each.model_dump_json()) == each
