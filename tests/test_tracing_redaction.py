"""Dataclasses and secret removal inside the encoders: same bytes from both cores.

The encoders record a dataclass as the dict of its fields and apply a payload.Redaction
while they encode (probes hands them payloads untouched), so the checks here are on the
encoded bytes of both cores, compared with each other and with what plain dicts give.
"""
from __future__ import annotations

import dataclasses
import re

import pytest

from n3core.tracing import core, hooks, probes, session
from n3core.tracing.payload import REDACTED, Cut, Opaque, Redaction, decode
from n3core.tracing.pyencode import encode as py_encode
from n3core.tracing.reader import open_trace

from support.tracing_cores import AVAILABLE, SITES, fake_clock, tracing_core  # noqa: F401

KEY = "sk-live-0123456789abcdef"
SHORT = "hunter22"  # a secret that is also part of a longer one below
LONGER = "xx-hunter22-yy"
_RULE = re.compile(
    r"(?i)^(.*[_-])?(api[_-]?key|authorization|password|passwd|secret|token|cookie|credentials?)$")


def rules(secrets=(KEY, LONGER, SHORT), calls=None):
    def rule(key):
        if calls is not None:
            calls.append(key)
        return _RULE.search(key) is not None
    return Redaction({}, rule, tuple(sorted(secrets, key=len, reverse=True)))


def encoder(name):
    return core.ring_module(name).encode if name == "c" else py_encode


@dataclasses.dataclass
class Usage:
    prompt_tokens: int
    total_tokens: int


@dataclasses.dataclass
class Call:
    id: str
    name: str
    arguments: dict


@dataclasses.dataclass
class Response:
    text: str = ""
    tool_calls: list = dataclasses.field(default_factory=list)
    usage: Usage | None = None
    raw: object = None
    api_key: str = ""


@dataclasses.dataclass
class Node:
    value: int
    child: object = None


@dataclasses.dataclass
class Unset:
    a: int
    b: int = dataclasses.field(init=False)


class Custom:
    def __repr__(self):
        return f"Custom(token={KEY})"


def as_dict(value):
    """What the old probes.plain made of a dataclass: a dict of its fields, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if type(value) is dict:
        return {k: as_dict(v) for k, v in value.items()}
    if type(value) is list:
        return [as_dict(v) for v in value]
    if type(value) is tuple:
        return tuple(as_dict(v) for v in value)
    return value


def response():
    return Response("done", [Call("c1", "lookup", {"key": "k", "password": "pw"})],
                    Usage(3, 5), {"headers": {"Authorization": f"Bearer {KEY}"}}, KEY)


SAMPLES = [
    Usage(1, 2),
    response(),
    [response(), (Usage(0, 0), {"nested": Node(1, Node(2, Node(3)))})],
    {"messages": [{"role": "user", "content": f"echo {KEY} and {LONGER} and {SHORT}"}],
     "params": {"api_key": KEY, "access_token": "t", "temperature": 0.2},
     "deep": [[[{"client_secret": {"even": "a dict"}}]]]},
    {KEY: "a secret used as a key", "cookie": None, 7: "int key", ("t",): "tuple key"},
    f"{SHORT}{LONGER}{KEY}",
]


@pytest.mark.parametrize("value", [Usage(1, 2), response(), Node(1, Node(2, Node(3))),
                                   [Call("a", "b", {}), (Usage(1, 1),)]],
                         ids=lambda v: type(v).__name__)
def test_a_dataclass_encodes_as_the_dict_of_its_fields(tracing_core, value):
    enc = encoder(tracing_core)
    assert enc(value) == enc(as_dict(value)) == py_encode(as_dict(value))
    red = rules()
    assert enc(value, redaction=red) == py_encode(as_dict(value), redaction=red)


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_both_cores_redact_to_identical_bytes(value):
    if "c" not in AVAILABLE:
        pytest.skip("the compiled core is not built")
    c_encode = core.ring_module("c").encode
    for red in (None, rules(), rules(secrets=())):
        for limits in ({}, {"max_depth": 3}, {"max_bytes": 60}, {"max_repr": 10}):
            assert c_encode(value, redaction=red, **limits) == py_encode(value, redaction=red, **limits)


def test_secret_named_keys_are_redacted_at_any_depth(tracing_core):
    data = decode(encoder(tracing_core)(SAMPLES[3], redaction=rules()))
    assert data["params"] == {"api_key": REDACTED, "access_token": REDACTED, "temperature": 0.2}
    assert data["deep"] == [[[{"client_secret": REDACTED}]]]
    got = decode(encoder(tracing_core)(response(), redaction=rules()))
    assert got["api_key"] == REDACTED
    assert got["tool_calls"][0]["arguments"] == {"key": "k", "password": REDACTED}
    assert got["raw"] == {"headers": {"Authorization": REDACTED}}
    assert got["usage"] == {"prompt_tokens": 3, "total_tokens": 5}


def test_secret_values_are_scrubbed_from_every_string(tracing_core):
    enc = encoder(tracing_core)
    red = rules()
    for value in SAMPLES + [Custom(), [Custom()], {"x": Custom()}]:
        data = enc(value, redaction=red)
        for secret in (KEY, SHORT, LONGER):
            assert secret.encode() not in data, (value, secret)
    content = decode(enc(SAMPLES[3], redaction=red))["messages"][0]["content"]
    assert content == f"echo {REDACTED} and {REDACTED} and {REDACTED}"  # longest first
    assert decode(enc(SAMPLES[4], redaction=red))[REDACTED] == "a secret used as a key"
    other = decode(enc(Custom(), redaction=red))
    assert other == Opaque("test_tracing_redaction.Custom", f"Custom(token={REDACTED})", False)
    cut = decode(enc(Custom(), max_repr=20, redaction=red))  # scrubbed before it is cut
    assert cut.truncated and KEY[:10] not in cut.repr


def test_without_rules_nothing_is_redacted(tracing_core):
    data = decode(encoder(tracing_core)(SAMPLES[3]))
    assert data["params"]["api_key"] == KEY and KEY in data["messages"][0]["content"]


def test_the_rule_runs_once_per_key(tracing_core):
    calls = []
    red = rules(calls=calls)
    for _ in range(3):
        encoder(tracing_core)(SAMPLES[3], redaction=red)
    assert sorted(calls) == sorted(set(calls)) and "api_key" in calls
    assert red.verdicts["api_key"] is True and red.verdicts["temperature"] is False


def test_dataclass_markers_and_failures(tracing_core):
    enc = encoder(tracing_core)
    loop = Node(1)
    loop.child = Node(2, loop)
    assert decode(enc(loop)) == {"value": 1, "child": {"value": 2, "child": Cut(
        "cycle", "test_tracing_redaction.Node")}}
    deep = decode(enc(Node(1, Node(2, Node(3))), max_depth=2))
    assert deep == {"value": 1, "child": {"value": 2, "child": Cut("depth", "test_tracing_redaction.Node")}}
    broken = decode(enc(Unset(1)))  # a field that was never set: recorded as an other type
    assert isinstance(broken, Opaque) and broken.type_name == "test_tracing_redaction.Unset"
    assert isinstance(decode(enc(Usage)), Opaque), "a dataclass class is not an instance"
    assert enc([Usage(1, 2)] * 3) == enc([{"prompt_tokens": 1, "total_tokens": 2}] * 3)


def test_a_tracer_applies_its_rules_and_both_cores_write_the_same_file(tmp_path):
    if "c" not in AVAILABLE:
        pytest.skip("the compiled core is not built")
    files = {}
    for name in ("c", "python"):
        path = tmp_path / f"{name}.n3t"
        session.start(str(path), SITES, {"install_hooks": False}, core=name, clock=fake_clock(),
                      wall_clock=lambda: 10**18, run_id="r", metadata={"pid": 1, "argv": [], "python": "3"},
                      redaction=rules())
        for value in SAMPLES:
            token = hooks.enter(1, value)
            hooks.instant(2, {"value": value})
            hooks.exit(token, value)
        session.stop()
        files[name] = path.read_bytes()
        assert KEY.encode() not in files[name] and SHORT.encode() not in files[name]
    assert files["c"] == files["python"]
    with open_trace(str(tmp_path / "c.n3t")) as trace:
        first = next(iter(trace.events()))
        assert first.payload == {"prompt_tokens": 1, "total_tokens": 2}


def test_probes_record_dataclass_returns_as_fields_and_follow_configure_redaction(tmp_path, tracing_core):
    path = tmp_path / "p.n3t"
    rules = probes.configure_redaction(environ={"MY_API_TOKEN": KEY})
    session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core, redaction=rules)
    try:
        token = probes.enter(1, {"messages": [f"use {KEY}"], "api_key": KEY})
        probes.exit_value(token, response())
        token = probes.enter(1, None)
        probes.exit_value(token, f"answer {KEY}")
        probes.configure_redaction(patterns=(r"^note$",), environ={})  # the running tracer follows
        probes.instant(2, {"note": "hidden", "other": KEY})
    finally:
        session.stop()
    assert KEY.encode() not in path.read_bytes().split(b"other")[0]
    with open_trace(str(path)) as trace:
        payloads = [ev.payload for ev in trace.events()]
    assert payloads[0] == {"messages": [f"use {REDACTED}"], "api_key": REDACTED}
    assert payloads[1]["text"] == "done" and payloads[1]["api_key"] == REDACTED
    assert payloads[1]["usage"] == {"prompt_tokens": 3, "total_tokens": 5}
    assert payloads[3] == {"output": f"answer {REDACTED}"}
    assert payloads[4] == {"note": REDACTED, "other": KEY}  # no secret values configured any more
