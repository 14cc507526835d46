"""The payload encoder on random nested values: both cores write the same bytes.

Bounded for the suite (a few hundred examples, no deadline); N3_FUZZ_LONG=1 runs each
property for minutes. Values mix every tagged type with dataclasses, objects whose repr
raises, cycles, secret-named keys and limits small enough to cut; redaction runs with a
fixed set of secrets and with a learning one, over sequences of payloads.
"""
from __future__ import annotations

import dataclasses
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from n3core.tracing import core
from n3core.tracing.payload import REDACTED, Cut, Opaque, Redaction, decode
from n3core.tracing.pyencode import encode as py_encode

from support.payload_values import BadRepr
from support.tracing_cores import AVAILABLE

LONG = os.environ.get("N3_FUZZ_LONG") == "1"
FUZZ = settings(max_examples=20_000 if LONG else 300, deadline=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
needs_c = pytest.mark.skipif("c" not in AVAILABLE, reason="the compiled core is not built")
KEYS = ["token", "api_key", "X-Api-Key", "password", "client_secret", "name", "content",
        "authorization", "usage", "id"]


@dataclasses.dataclass
class Record:
    name: object
    token: object = None


def _cyclic(items):
    items = list(items)
    items.append(items)
    return items


def scalars(text):
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**200, max_value=2**200),
        st.floats(allow_nan=True, allow_infinity=True), text, st.binary(max_size=40),
        st.builds(BadRepr), st.sampled_from([range(3), frozenset({1}), 1j]))


def values(text):
    keys = st.one_of(st.sampled_from(KEYS), text, st.integers(), st.tuples(st.integers()))
    return st.recursive(
        scalars(text),
        lambda inner: st.one_of(
            st.lists(inner, max_size=6), st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(keys, inner, max_size=6),
            st.builds(Record, inner, inner), st.lists(inner, max_size=3).map(_cyclic)),
        max_leaves=40)


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
LIMITS = st.fixed_dictionaries({
    "max_depth": st.integers(1, 40), "max_bytes": st.integers(64, 4096),
    "max_repr": st.integers(8, 300)})


def rule(key):
    return key.lower().replace("-", "_").endswith(("token", "api_key", "password", "secret",
                                                  "authorization"))


@needs_c
@FUZZ
@given(st.lists(values(ANY_TEXT), min_size=1, max_size=3), LIMITS,
       st.sampled_from(["none", "fixed", "learning"]), st.lists(ANY_TEXT, max_size=3))
def test_both_cores_encode_random_values_to_identical_bytes(payloads, limits, mode, secrets):
    secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    c_encode = core.ring_module("c").encode

    def make():
        if mode == "none":
            return None
        return Redaction({}, rule, tuple(secrets) if mode == "fixed" else list(secrets))

    c_red, py_red = make(), make()
    for value in payloads:
        expected = py_encode(value, redaction=py_red, **limits)
        assert c_encode(value, redaction=c_red, **limits) == expected
        decode(expected)  # never raises on what an encoder wrote
        assert len(expected) <= max(limits["max_bytes"], 300)
    if mode != "none":
        assert c_red.secrets == py_red.secrets


WORDS = st.text("abcdefghij0123456789 ", min_size=0, max_size=20)


def strings(value):
    """Every string a reader would show: values, keys and other types' reprs."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Opaque):
        yield value.repr
    elif isinstance(value, Cut):
        return
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


@FUZZ
@given(st.lists(values(WORDS), min_size=1, max_size=4), LIMITS,
       st.sampled_from(["c", "python"]))
def test_a_value_redacted_by_key_never_shows_again(payloads, limits, name):
    if name not in AVAILABLE:
        return
    encode = core.ring_module("c").encode if name == "c" else py_encode
    red = Redaction({}, rule, [])
    for value in payloads:
        decoded = decode(encode(value, redaction=red, **limits))
        for text in strings(decoded):
            for secret in red.secrets:
                assert secret not in text, (secret, text)
    assert all(len(s) >= 6 and REDACTED not in s for s in red.secrets)


@FUZZ
@given(values(ANY_TEXT))
def test_values_without_markers_round_trip(value):
    decoded = decode(py_encode(value, max_depth=64, max_bytes=1 << 20))
    assert _same(decoded, value)


def _same(decoded, value):
    if isinstance(decoded, (Cut, Opaque)):
        return True  # a marker stands for the value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return isinstance(decoded, dict) and list(decoded) == [f.name for f in
                                                               dataclasses.fields(value)]
    if isinstance(value, float) and math.isnan(value):
        return isinstance(decoded, float) and math.isnan(decoded)
    if isinstance(value, dict):
        return isinstance(decoded, dict) and len(decoded) == len(value)
    if isinstance(value, (list, tuple)):
        return type(decoded) is type(value) and len(decoded) == len(value) and all(
            _same(d, v) for d, v in zip(decoded, value))
    return decoded == value and type(decoded) is type(value)
