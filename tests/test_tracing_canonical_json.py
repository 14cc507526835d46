"""The request hash's text written from a payload's bytes: both reader cores give the
canonical JSON of the decoded value (`reqhash.canonical`), or both give None.

The compiled reader writes the text without decoding; the Python twin decodes and calls
json. Random values (any text, surrogates included, floats with NaN and infinities, big
ints, keys that sort by code point, values JSON does not hold), crafted bytes (a key twice,
nesting at the bound) and corrupted bytes must give one answer from both.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from n3core.tracing import core
from n3core.tracing.payload import JSON_NEST, T_BYTES, T_DICT, T_LIST, T_STR, decode
from n3core.tracing.pyencode import encode
from n3core.tracing.reqhash import MADE_UP, canonical, canonical_bytes

from support.tracing_cores import AVAILABLE

FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
READERS = [core.reader_module(name) for name in AVAILABLE]
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
KEYS = st.one_of(TEXT, st.sampled_from(["a", "B", "ab", "é", "\ud800", "😀", *MADE_UP]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**80, max_value=2**80),
                    st.floats(allow_nan=True, allow_infinity=True), TEXT,
                    st.binary(max_size=4) | st.just(1j))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(KEYS, inner, max_size=6),
    st.dictionaries(st.integers(0, 3), inner, max_size=2)), max_leaves=30)


def _answers(raw: bytes, omit=None) -> list:
    return [reader.canonical_json(raw, 0, len(raw), omit) for reader in READERS]


def _expected(raw: bytes, omit=None):
    value = decode(raw)
    if omit and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in omit}
    return canonical(value).encode("utf-8", "surrogatepass")


def _str(text: str) -> bytes:
    data = text.encode()
    return bytes((T_STR, len(data))) + data


@FUZZ
@given(VALUES, st.booleans())
def test_both_readers_give_the_canonical_json_or_both_none(value, omitting):
    raw = encode(value, max_depth=64, max_bytes=1 << 20)
    omit = MADE_UP if omitting else None
    answers = _answers(raw, omit)
    assert all(answer == answers[0] for answer in answers)
    if answers[0] is not None:
        assert answers[0] == _expected(raw, omit)
    assert canonical_bytes(raw, omit) == _expected(raw, omit)


def test_text_is_escaped_as_json_escapes_it():
    text = "".join(map(chr, range(0x20))) + '"\\/\x7f é \ud800 😀 \u2028'
    raw = encode({"k": text, "z": [1.5, float("nan"), -float("inf"), 2**70, -0.0]})
    assert _answers(raw) == [_expected(raw)] * len(READERS)
    assert b"\\u001f" in _answers(raw)[0] and b"\\n" in _answers(raw)[0]


def test_a_key_twice_keeps_its_last_value_as_decoding_does():
    def dict_of(*pairs):
        return bytes((T_DICT, len(pairs))) + b"".join(k + v for k, v in pairs)

    raw_bytes = bytes((T_BYTES, 1)) + b"x"
    json_last = dict_of((_str("a"), raw_bytes), (_str("b"), _str("1")), (_str("a"), _str("2")))
    assert _answers(json_last) == [b'{"a":"2","b":"1"}'] * len(READERS)
    bytes_last = dict_of((_str("a"), _str("2")), (_str("a"), raw_bytes))
    assert _answers(bytes_last) == [None] * len(READERS)


@pytest.mark.parametrize("depth, has_json", [(JSON_NEST, True), (JSON_NEST + 1, False)])
def test_nesting_past_the_bound_has_no_json(depth, has_json):
    raw = bytes((T_LIST, 1)) * (depth - 1) + bytes((T_LIST, 0))
    answers = _answers(raw)
    assert all(answer == answers[0] for answer in answers)
    assert (answers[0] == _expected(raw)) if has_json else answers[0] is None
    assert canonical_bytes(raw) == _expected(raw)


def test_corrupted_bytes_give_one_answer_from_both():
    rng = random.Random(7)
    seen = set()
    for _ in range(3000):
        raw = bytearray(encode({"m": [{"role": "user", "content": "é" * rng.randrange(4)}],
                                "n": rng.random(), "k": [2**65, None]}))
        raw[rng.randrange(len(raw))] = rng.randrange(256)
        raw = bytes(raw[:rng.randrange(1, len(raw) + 1)])
        answers = _answers(raw)
        assert all(answer == answers[0] for answer in answers), raw
        seen.add(answers[0] is None)
    assert seen == {True, False}, "the corruptions never (or always) left a JSON text"
