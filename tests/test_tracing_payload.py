"""The payload encoding: round trips, markers instead of crashes, identical bytes per core."""
from __future__ import annotations

import math

import pytest

from n3core.tracing import core
from n3core.tracing.errors import TraceFormatError
from n3core.tracing.payload import Cut, Opaque, decode
from n3core.tracing.pyencode import encode as py_encode

from support.tracing_cores import AVAILABLE, tracing_core  # noqa: F401
from support.payload_values import BadRepr, cycle_dict, cycle_list, deep


def encoder(name):
    return core.ring_module(name).encode if name == "c" else py_encode


ROUND_TRIP = [
    None, True, False, 0, 1, -1, 127, 128, -129, 2**63 - 1, -2**63, 2**63, -2**63 - 1,
    2**300, -(2**300) + 7, 0.0, -0.0, 1.5, -1e308, math.inf, "", "plain", "héllo ✓",
    "\ud800lone surrogate", b"", b"\x00\xffbytes", [], (), {}, [1, "a", None],
    (1, (2, (3,))), {"a": {"b": [1, 2.5, b"x"]}, "n": None}, {1: "int key", (1, 2): "tuple"},
    {"usage": {"prompt_tokens": 12, "completion_tokens": 30}, "model": "gpt-4o-mini"},
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_round_trip_every_type(tracing_core, value):
    assert decode(encoder(tracing_core)(value)) == value
    decoded = decode(encoder(tracing_core)(value))
    assert type(decoded) is type(value)


def test_nan_round_trips(tracing_core):
    assert math.isnan(decode(encoder(tracing_core)(float("nan"))))


def test_cycles_become_markers(tracing_core):
    enc = encoder(tracing_core)
    assert decode(enc(cycle_list())) == [1, Cut("cycle", "list")]
    assert decode(enc(cycle_dict())) == {"k": 1, "self": Cut("cycle", "dict")}


def test_shared_but_acyclic_values_are_encoded_twice(tracing_core):
    shared = [1, 2]
    assert decode(encoder(tracing_core)([shared, shared])) == [[1, 2], [1, 2]]


def test_depth_is_cut(tracing_core):
    value = decode(encoder(tracing_core)(deep(100), max_depth=5))
    for _ in range(5):
        value = value[0]
    assert value == Cut("depth", "list")


def test_oversized_payload_is_replaced_by_size_marker(tracing_core):
    enc = encoder(tracing_core)
    assert decode(enc("x" * 5000, max_bytes=100)) == Cut("size", "str")
    assert decode(enc({"a": [b"y" * 60] * 3}, max_bytes=100)) == Cut("size", "dict")
    assert decode(enc("x" * 97, max_bytes=100)) == "x" * 97


def test_other_types_are_type_name_and_bounded_repr(tracing_core):
    enc = encoder(tracing_core)
    value = decode(enc(range(3)))
    assert value == Opaque("range", "range(0, 3)", False)
    long = decode(enc(set(range(500)), max_repr=20))
    assert long.type_name == "set" and long.truncated and len(long.repr) == 20
    broken = decode(enc(BadRepr()))
    assert broken.type_name.endswith("BadRepr") and "repr failed: RuntimeError" in broken.repr


def test_subclasses_encode_as_their_base(tracing_core):
    import collections
    import enum

    class Color(enum.IntEnum):
        red = 3

    enc = encoder(tracing_core)
    assert decode(enc(Color.red)) == 3
    assert decode(enc(collections.OrderedDict(a=1))) == {"a": 1}


@pytest.mark.skipif("c" not in AVAILABLE, reason="compiled core not built")
def test_both_encoders_write_identical_bytes():
    c_encode = core.ring_module("c").encode
    values = ROUND_TRIP + [cycle_list(), cycle_dict(), deep(60), range(4), BadRepr(),
                           "z" * 300_000, [b"q" * 100] * 5000, float("nan")]
    for value in values:
        assert c_encode(value) == py_encode(value), repr(value)[:60]
        assert c_encode(value, 4, 1000, 10) == py_encode(value, 4, 1000, 10), repr(value)[:60]


def test_garbage_payload_is_a_trace_error():
    with pytest.raises(TraceFormatError):
        decode(b"\x06\x05ab")
    with pytest.raises(TraceFormatError):
        decode(b"\x7f")
