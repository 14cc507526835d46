"""The compiled payload decoder is the twin of `payload.decode`, and `payload_get` of a filter.

Every payload type and marker the encoders write is decoded by both decoders and by the
reader module of each core; the expected values are the Python objects that were encoded
(or the markers the format specifies for them), never a decoder's own output.
"""
from __future__ import annotations

import collections
import math
import struct

import pytest

from n3core.tracing import core
from n3core.tracing.errors import TraceFormatError
from n3core.tracing.payload import PLAIN_DEPTH, Cut, NotPlain, Opaque, decode, special
from n3core.tracing.pyencode import encode as py_encode

from support.tracing_cores import AVAILABLE, tracing_core  # noqa: F401
from support.payload_values import BadRepr, cycle_dict, cycle_list, deep

needs_c = pytest.mark.skipif("c" not in AVAILABLE, reason="compiled core not built")


def encoders():
    found = [py_encode]
    if "c" in AVAILABLE:
        found.append(core.ring_module("c").encode)
    return found


def reader(name):
    return core.reader_module(name)


class HashableList(list):
    def __hash__(self):
        return 7


# (value, what the decoders must give back) for values that round-trip unchanged.
ROUND_TRIP = [
    None, True, False, 0, 1, -1, 63, 64, -64, -65, 127, 128, -129, 300, 2**31, -2**31,
    2**62, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64, 2**300, -(2**300) + 7,
    0.0, -0.0, 1.5, -1e308, 5e-324, math.inf, -math.inf, "", "plain", "héllo ✓", "😀 emoji",
    "\ud800lone surrogate", "x" * 1000, b"", b"\x00\xffbytes", b"z" * 300, [], (), {},
    [1, "a", None], (1, (2, (3,))), [[[]]], {"a": {"b": [1, 2.5, b"x"]}, "n": None},
    {1: "int key", (1, 2): "tuple", None: 0, 2.5: "f", b"k": "bytes", True: "bool"},
    {"usage": {"prompt_tokens": 12, "completion_tokens": 30}, "model": "gpt-4o-mini"},
    list(range(200)), {str(i): i for i in range(150)},
]


def _both(data: bytes, name: str):
    """Decode `data` with payload.decode and the reader module's decoder (at an offset)."""
    body = b"\xee" * 5 + data + b"\xdd" * 3
    return decode(data), reader(name).decode_payload(body, 5, len(data))


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_every_type_round_trips_through_both_decoders(tracing_core, value):
    for enc in encoders():
        data = enc(value)
        via_python, via_reader = _both(data, tracing_core)
        assert via_python == value and via_reader == value
        assert type(via_python) is type(value) and type(via_reader) is type(value)


def test_float_bits_survive(tracing_core):
    for enc in encoders():
        _, nan = _both(enc(float("nan")), tracing_core)
        assert math.isnan(nan)
        _, neg_zero = _both(enc(-0.0), tracing_core)
        assert math.copysign(1.0, neg_zero) == -1.0


def test_markers_and_opaque_values(tracing_core):
    cases = [
        (cycle_list(), {}, [1, Cut("cycle", "list")]),
        (cycle_dict(), {}, {"k": 1, "self": Cut("cycle", "dict")}),
        ("x" * 5000, {"max_bytes": 100}, Cut("size", "str")),
        ({"a": [b"y" * 60] * 3}, {"max_bytes": 100}, Cut("size", "dict")),
        (range(3), {}, Opaque("range", "range(0, 3)", False)),
        ({"r": range(3)}, {}, {"r": Opaque("range", "range(0, 3)", False)}),
        (collections.OrderedDict(a=1), {}, {"a": 1}),
        (HashableList([1, 2]), {}, [1, 2]),
        ({HashableList([1, 2]): "v"}, {}, {(1, 2): "v"}),
    ]
    for enc in encoders():
        for value, limits, expected in cases:
            via_python, via_reader = _both(enc(value, **limits), tracing_core)
            assert via_python == expected and via_reader == expected
            assert type(via_reader) is type(expected)


def test_depth_marker(tracing_core):
    for enc in encoders():
        for value in _both(enc(deep(100), max_depth=5), tracing_core):
            for _ in range(5):
                value = value[0]
            assert value == Cut("depth", "list")


def test_truncated_repr_and_failing_repr(tracing_core):
    for enc in encoders():
        for long in _both(enc(set(range(500)), max_repr=20), tracing_core):
            assert type(long) is Opaque and long.type_name == "set" and long.truncated
            assert long.repr == repr(set(range(500)))[:20]
        for broken in _both(enc(BadRepr()), tracing_core):
            assert broken.type_name.endswith("BadRepr") and not broken.truncated
            assert broken.repr == "<repr failed: RuntimeError>"


def test_nesting_deeper_than_the_compiled_limit(tracing_core):
    # max_depth 400 is allowed by the encoder; both decoders must agree on the result.
    data = py_encode(deep(300), max_depth=400)
    via_python, via_reader = _both(data, tracing_core)
    for value in (via_python, via_reader):
        for _ in range(300):
            assert isinstance(value, list) and len(value) == 1
            value = value[0]
        assert value == []


def test_hand_made_payloads():
    tag_cut_unknown = bytes((0x0C, 9, 1)) + b"x"
    bigint = bytes((0x04, 2)) + (-300).to_bytes(2, "little", signed=True)
    float_ = b"\x05" + struct.pack("<d", 2.25)
    for name in AVAILABLE:
        assert reader(name).decode_payload(tag_cut_unknown, 0, 4) == Cut("unknown(9)", "x")
        assert reader(name).decode_payload(bigint, 0, 4) == -300
        assert reader(name).decode_payload(float_, 0, 9) == 2.25
        # a zigzag varint of the full 10 bytes: the largest and smallest int64
        assert reader(name).decode_payload(b"\x03" + b"\xfe" + b"\xff" * 8 + b"\x01", 0, 11) \
            == 2**63 - 1
        assert reader(name).decode_payload(b"\x03" + b"\xff" * 9 + b"\x01", 0, 11) == -2**63


GARBAGE = [
    b"\x7f", b"\x06\x05ab", b"\x06", b"\x08\x05\x00", b"\x0a\x01\x06\x01a", b"\x05\x00\x00",
    b"\x00\x00", b"\x07\x09abc", b"\x03\x80", b"\x06\x02\xff\xfe", b"\x0b\x00\x01a",
    b"\x0c", b"\x04\x05\x01", b"\x03" + b"\xff" * 12 + b"\x01", b"\x08" + b"\xff" * 11,
]


@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: d.hex())
def test_garbage_raises_the_same_error(tracing_core, data):
    with pytest.raises(TraceFormatError) as expected:
        decode(data)
    with pytest.raises(TraceFormatError) as got:
        reader(tracing_core).decode_payload(data, 0, len(data))
    assert str(got.value) == str(expected.value)


def test_varint_past_64_bits_decodes_like_the_python_decoder(tracing_core):
    # 11 bytes are more than the encoder writes, but the Python decoder reads them.
    data = b"\x03" + b"\xff" * 10 + b"\x01"
    assert reader(tracing_core).decode_payload(data, 0, len(data)) == decode(data)


def test_out_of_range_slice_is_refused(tracing_core):
    with pytest.raises(ValueError):
        reader(tracing_core).decode_payload(b"\x00", 0, 2)
    with pytest.raises(ValueError):
        reader(tracing_core).decode_payload(b"\x00", -1, 1)


# -- payload_get ------------------------------------------------------------------------

GET_CASES = [
    ({"model": "gpt-4o", "provider": "openai"}, ("model",), {"model": "gpt-4o"}),
    ({"model": "gpt-4o", "x": 1, "provider": "openai"}, ("provider", "model"),
     {"model": "gpt-4o", "provider": "openai"}),
    ({"model": "a", "rss": 5}, frozenset(("rss", "model")), {"model": "a", "rss": 5}),
    ({"usage": {"prompt_tokens": 9, "total_tokens": 10}, "big": ["x" * 50] * 20,
      "output": (1, b"q", 2.5, None, {"n": [True]})},
     ("usage", "output", "absent"),
     {"usage": {"prompt_tokens": 9, "total_tokens": 10},
      "output": (1, b"q", 2.5, None, {"n": [True]})}),
    ({"skip": [range(2), cycle_list(), -2**70, 1.0], "rss": 123456789}, ("rss",),
     {"rss": 123456789}),
    ({1: "one", "1": "str one"}, (1,), {1: "one"}),
    ({"a": 1}, ("b",), {}),
    ({}, ("a",), {}),
    ([("model", 1)], ("model",), {}),
    ("model", ("model",), {}),
    ("x" * 5000, ("x",), {}),  # with max_bytes 100 below this is a size marker
    ({HashableList([1, 2]): "v", "k": 0}, ((1, 2), "k"), {(1, 2): "v", "k": 0}),
]


def test_payload_get_equals_filtering_the_decoded_payload(tracing_core):
    for enc in encoders():
        for value, keys, expected in GET_CASES:
            data = enc(value, max_bytes=100) if value == "x" * 5000 else enc(value)
            body = b"\x01\x02" + data + b"\x03"
            got = reader(tracing_core).payload_get(body, 2, len(data), keys)
            assert got == expected
            assert list(got) == [k for k in expected]  # payload order, not keys order
            full = decode(data)
            filtered = {k: full[k] for k in keys if k in full} if isinstance(full, dict) else {}
            assert filtered == expected


def test_payload_get_on_garbage_raises(tracing_core):
    for data in (b"\x0a\x02\x06\x01a\x00", b"\x0a\x01\x06\x01a\x7f", b"\x7f"):
        with pytest.raises(TraceFormatError):
            reader(tracing_core).payload_get(data, 0, len(data), ("a",))


@needs_c
def test_compiled_reader_batches_use_the_compiled_decoder(tmp_path):
    from n3core.tracing import hooks, session
    from n3core.tracing.reader import open_trace

    from support.tracing_cores import SITES

    path = str(tmp_path / "t.n3t")
    session.start(path, SITES, {"install_hooks": False}, core="python")
    try:
        span = hooks.enter(2, {"model": "m", "skip": [1, 2, 3]})
        hooks.exit(span, {"usage": {"total_tokens": 5}})
    finally:
        session.stop()
    for name in AVAILABLE:
        with open_trace(path, core=name) as trace:
            batches = list(trace.batches())
        batch = batches[0]
        assert batch._decode is reader(name).decode_payload
        payloads = [batch.payload(i) for i in range(len(batch))]
        assert {"model": "m", "skip": [1, 2, 3]} in payloads
        assert {"usage": {"total_tokens": 5}} in payloads
        gets = [batch.payload_get(i, ("model", "usage")) for i in range(len(batch))]
        assert {"model": "m"} in gets and {"usage": {"total_tokens": 5}} in gets


# -- payloads nested past any recursion limit ---------------------------------------------------

def _nested(depth: int, leaf: bytes = b"\x00") -> bytes:
    """`depth` lists each holding the next, by hand: the encoders stop at max_depth."""
    return b"\x08\x01" * depth + leaf


def _depth_of(value) -> int:
    n = 0
    while isinstance(value, list) and value:
        value, n = value[0], n + 1
    return n


@pytest.mark.parametrize("depth", [199, 200, 201, 5_000, 100_000])
def test_deep_payloads_decode_without_recursion(tracing_core, depth):
    data = _nested(depth, b"\x06\x01z")
    for value in _both(data, tracing_core):
        assert _depth_of(value) == depth
        inner = value
        for _ in range(depth):
            inner = inner[0]
        assert inner == "z"


def test_deep_dict_payloads_and_list_keys_decode_alike(tracing_core):
    # list keys freeze into nested tuples; past 64 levels a key becomes a depth marker
    for depth, key in [(3, (((None,),),)), (64, None), (50_000, Cut("depth", "list"))]:
        data = b"\x0a\x01" + _nested(depth) + b"\x06\x01v"
        for got in _both(data, tracing_core):
            (k, value), = got.items()
            if key is None:
                for _ in range(depth - 1):
                    k = k[0]
                assert k == (None,)
            else:
                assert k == key
            assert value == "v"
    deep_dicts = b"\x0a\x01\x06\x01k" * 20_000 + b"\x02"
    for got in _both(deep_dicts, tracing_core):
        for _ in range(20_000):
            got = got["k"]
        assert got is True


def test_payload_get_on_a_deep_payload(tracing_core):
    data = b"\x0a\x02" + b"\x06\x01a" + _nested(10_000) + b"\x06\x01b" + b"\x03\x04"
    body = b"\xee" + data
    got = reader(tracing_core).payload_get(body, 1, len(data), {"a", "b"})
    assert got["b"] == 2 and _depth_of(got["a"]) == 10_000
    assert reader(tracing_core).payload_get(body, 1, len(data), {"b"}) == {"b": 2}


def _plain(data: bytes, name: str):
    body = b"\xee" * 5 + data + b"\xdd" * 3
    return reader(name).decode_plain(body, 5, len(data))


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_decode_plain_gives_what_decode_gives(tracing_core, value):
    for enc in encoders():
        data = enc(value)
        assert repr(_plain(data, tracing_core)) == repr(decode(data))


def test_decode_plain_refuses_cut_opaque_and_deep_values(tracing_core):
    refused = [py_encode({"a": [1, set()]}), py_encode(["x" * 50], max_bytes=20),
               py_encode(deep(100), max_depth=5), py_encode(deep(PLAIN_DEPTH + 1), max_depth=400),
               py_encode({"k": (1, {"x": object()})})]
    for data in refused:
        assert special(decode(data)) is not None
        with pytest.raises(NotPlain):
            _plain(data, tracing_core)
    at_limit = py_encode(deep(PLAIN_DEPTH), max_depth=400)
    assert _plain(at_limit, tracing_core) == decode(at_limit)


@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: d.hex())
def test_decode_plain_raises_on_garbage_like_decode(tracing_core, data):
    with pytest.raises(TraceFormatError) as expected:
        decode(data)
    with pytest.raises(TraceFormatError) as got:
        _plain(data, tracing_core)
    assert str(got.value) == str(expected.value)


def test_dict_keys_and_values_decode_right_whatever_else_was_decoded_before(tracing_core):
    """Short ASCII keys and values come from tables in the compiled decoder: thousands of
    strings that share their slots, strings at each table's length limit and past it,
    non-ASCII and empty ones, read in turn, each decode to the string that was encoded."""
    keys = [f"k{n}" for n in range(3000)] + ["", "x" * 16, "x" * 17, "x" * 32, "y" * 33,
                                             "clé", "ключ", "a\x7f"]
    payloads = [{key: n, "type": key, "message": [key], "value": key[::-1]}
                for n, key in enumerate(keys)]
    decoders = (reader(tracing_core).decode_payload, reader(tracing_core).decode_plain)
    for rounds in range(2):
        for value in payloads[::-1] if rounds else payloads:
            data = py_encode(value)
            for decoder in decoders:
                assert decoder(data, 0, len(data)) == value
            got = reader(tracing_core).payload_get(data, 0, len(data), ("type",))
            assert got == {"type": value["type"]}
