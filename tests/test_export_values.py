"""Payload values that break naive JSON writers (NaN, Infinity, 10**5000, tuple keys, deep
nesting) leave every JSON export valid for a strict parser, and the OTLP protobuf intact."""
import io
import json
import math

import pytest
from rich.console import Console

from analyzer import cli
from analyzer.export_json import dumps, loads_strict
from n3core.tracing.otlp_spans import KIND_CLIENT
from analyzer.values import _plain, _rebuilt, jsonable as plain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.otlp import attrs, read_delimited, read_json_lines, spans_of
from support.payload_values import deep
from support.trace_factory import US, Script

NASTY = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "huge": 10 ** 5000,
         (1, "two"): "tuple key", 3.5: "float key", None: "none key",
         "nested": [math.nan, {"x": (math.inf,)}], "deep": deep(300), "bytes": b"\x00\xff"}


@pytest.fixture
def nasty_trace(tmp_path):
    s = Script()
    chain = s.enter(1, NASTY)
    s.wait(10 * US)
    s.span(4, 20 * US, {"provider": "openai", "model": math.nan,
                        "params": {"temperature": math.nan, "max_tokens": math.inf, "top_p": 10 ** 5000}},
           {"usage": {"prompt_tokens": math.nan, "completion_tokens": 10 ** 5000}, "x": NASTY})
    s.instant(7, {"type": "ValueError", "message": math.nan, "stack": NASTY})
    s.instant(9, NASTY)
    s.wait(5 * US)
    s.exit(chain, NASTY)
    return s, s.to_n3t(tmp_path / "nasty.n3t")


def export(trace, to, out, *extra):
    code = cli.main(["export", str(trace), "--to", to, "-o", str(out), *extra],
                    console=Console(file=io.StringIO()))
    assert code == 0
    return out


@pytest.mark.parametrize("to", ["perfetto", "jsonl", "otlp"])
def test_every_json_export_parses_strictly(nasty_trace, tmp_path, to):
    _, trace = nasty_trace
    text = open(export(trace, to, tmp_path / f"out.{to}"), encoding="utf-8").read()
    if to == "perfetto":
        doc = loads_strict(text)
        chain = next(e for e in doc["traceEvents"] if e.get("name") == "chain_execution research")
        start = chain["args"]["start"]
        assert (start["nan"], start["inf"], start["-inf"]) == ("NaN", "Infinity", "-Infinity")
        assert start["huge"] == "<integer of about 5001 digits>"
        assert start['[1, "two"]'] == "tuple key"
    else:
        rows = [loads_strict(line) for line in text.splitlines()]
        assert rows
    for bad in ("NaN,", "Infinity,", ": NaN", ":NaN"):
        assert bad not in text


def test_otlp_drops_unusable_numbers_from_gen_ai_attributes(nasty_trace, tmp_path):
    _, trace = nasty_trace
    for spans in (spans_of(read_json_lines(export(trace, "otlp", tmp_path / "o.jsonl"))),
                  spans_of(read_delimited(export(trace, "otlp", tmp_path / "o.pb", "--protobuf")))):
        llm = next(s for s in spans if s.kind == KIND_CLIENT)
        a = attrs(llm)
        for key in ("gen_ai.request.temperature", "gen_ai.request.max_tokens",
                    "gen_ai.request.top_p", "gen_ai.usage.input_tokens",
                    "gen_ai.usage.output_tokens"):
            assert key not in a
        assert a["gen_ai.request.model"] == "NaN"


def test_plain_is_iterative_and_bounded():
    assert plain(deep(100_000), max_depth=10) == [[[[[[[[[["<list nested deeper than 10 levels>"]]]]]]]]]]
    assert json.loads(dumps(plain({(1, 2): {b"k": 1}}))) == {"[1, 2]": {"6b": 1}}
    with pytest.raises(ValueError):
        dumps(math.nan)


_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), _TEXT,
                     st.binary(max_size=3), st.sampled_from([2 ** 63, -2 ** 63, 2 ** 63 - 1]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.one_of(_TEXT, st.sampled_from(["a", "\ud800", "é"])), inner, max_size=5),
    st.dictionaries(st.integers(0, 3) | st.none(), inner, max_size=2)), max_leaves=25)


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_VALUES, st.integers(0, 4))
def test_a_value_returned_as_it_is_is_what_rebuilding_it_gives(value, max_depth):
    """The shortcut for values that are plain JSON already gives what the rebuild gives."""
    got, rebuilt = plain(value, max_depth), _rebuilt(value, max_depth)
    assert dumps(got) == dumps(rebuilt)
    if _plain(value, max_depth):
        assert got is value


def test_plain_json_is_returned_as_it_is_and_anything_else_rebuilt():
    clean = {"model": "gpt-4o", "messages": [{"role": "user", "content": "é"}], "n": 2 ** 62,
             "t": 0.5, "ok": True, "none": None}
    assert plain(clean) is clean
    for odd in ({"a": (1,)}, {"a": math.nan}, {1: "x"}, {"a": "\ud800"}, {"a": 2 ** 64},
                {"a": b"x"}, [[1]] * 1 + [[[[]]]]):
        assert plain(odd, 3) is not odd
