"""The tracepoint rewrite on real-world Python: results unchanged, spans right.

A zoo of constructs is loaded twice, plain and instrumented, and called the same way;
the instrumented copy must return the same values and raise the same errors, and the
trace must hold one well-nested span per call, failed where the call failed.
"""
import ast
import asyncio
import types

import pytest

from n3core.tracing import session
from n3core.tracing.reader import open_trace
from n3instrument.instrument.transform import Point, instrument_source

ZOO = '''
"""A zoo of function shapes."""
from __future__ import annotations

import asyncio
import functools


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) + 1
    return wrapper


def early(x):
    if x < 0:
        return "negative"
    for i in range(10):
        if i == x:
            return i
    return None


def finally_return(log):
    try:
        return "body"
    finally:
        log.append("finally ran")


def raises(message):
    raise ValueError(message)


def tricky_returns(x):
    if x == 0:
        return "zero" if x == 0 else "other"
    if x == 1:
        return x, x + 1
    if x == 2:
        return lambda: "called"
    return not x


def no_return(log):
    log.append("ran")


@deco
def decorated(x):
    return x * 10


def gen(n):
    for i in range(n):
        yield i
    return "done"


def delegating(n):
    result = yield from gen(n)
    yield result


async def coro(x):
    return x + 1


async def coro_calls_method(thing, x):
    await asyncio.sleep(0)
    return thing.method(x)


async def agen(n):
    for i in range(n):
        yield i
        if i == 100:
            return


class Base:
    def hello(self):
        return "base"


class Thing(Base):
    factor = 3

    def method(self, x):
        return x * self.factor

    def hello(self):
        return "thing+" + super().hello()

    @classmethod
    def build(cls, x):
        return cls().method(x)

    @staticmethod
    def static(x):
        return -x

    def __private(self):
        return "private"

    def call_private(self):
        return self.__private()


def outer(x):
    def inner(y):
        return x + y
    return inner(1)


class Outer:
    class Inner:
        def deep(self):
            return "deep"


def factory():
    class Local:
        def value(self):
            return 7
    return Local().value()
'''

TARGETS = [
    "tricky_returns", "early", "finally_return", "raises", "no_return", "decorated", "gen", "delegating",
    "coro", "coro_calls_method", "agen", "Base.hello", "Thing.method", "Thing.hello", "Thing.build",
    "Thing.static", "Thing.__private", "Thing.call_private", "outer", "outer.<locals>.inner",
    "Outer.Inner.deep", "factory", "factory.<locals>.Local.value",
]
SITES = {name: index + 1 for index, name in enumerate(TARGETS)}


def load(source, name):
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


def exercise(m):
    """Call everything; return what each call gave (values or exception text)."""
    out = {}

    def record(key, fn):
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001
            out[key] = f"{type(exc).__name__}: {exc}"

    log = []
    record("tricky", lambda: [m.tricky_returns(0), m.tricky_returns(1), m.tricky_returns(2)(), m.tricky_returns(3)])
    record("early-neg", lambda: m.early(-1))
    record("early-3", lambda: m.early(3))
    record("early-none", lambda: m.early(50))
    record("finally", lambda: (m.finally_return(log), list(log)))
    record("raises", lambda: m.raises("boom"))
    record("no_return", lambda: (m.no_return(log), list(log)))
    record("decorated", lambda: m.decorated(4))
    record("gen", lambda: list(m.gen(3)))
    record("gen-early-close", lambda: next(iter(m.gen(5))))
    record("delegating", lambda: list(m.delegating(2)))
    record("coro", lambda: asyncio.run(m.coro(1)))
    record("coro calls method", lambda: asyncio.run(m.coro_calls_method(m.Thing(), 4)))

    async def consume():
        return [i async for i in m.agen(3)]

    record("agen", lambda: asyncio.run(consume()))
    thing = m.Thing()
    record("method", lambda: thing.method(2))
    record("super", lambda: thing.hello())
    record("classmethod", lambda: m.Thing.build(5))
    record("staticmethod", lambda: m.Thing.static(7))
    record("private", lambda: thing.call_private())
    record("nested", lambda: m.outer(41))
    record("nested class", lambda: m.Outer.Inner().deep())
    record("local class", lambda: m.factory())
    return out


@pytest.fixture
def traced(tmp_path):
    path = tmp_path / "zoo.n3t"
    sites = [{"id": 0, "event_type": "error_occurred", "component": "runtime", "name": "*"}]
    sites += [{"id": site, "event_type": "call", "component": "python", "name": name}
              for name, site in SITES.items()]
    session.start(str(path), sites, {"install_hooks": False})
    try:
        yield path
    finally:
        session.stop()


def instrumented_zoo():
    points = [Point(name, str(site), capture_return=True) for name, site in SITES.items()]
    result = instrument_source(ZOO, points, "n3core.tracing.hooks")
    assert result.missing == []
    assert sorted(result.applied) == sorted(TARGETS)
    return result.code


def test_instrumented_code_behaves_exactly_like_the_plain_code(traced):
    plain = exercise(load(ZOO, "zoo_plain"))
    instrumented = exercise(load(instrumented_zoo(), "zoo_traced"))
    assert instrumented == plain
    assert plain["finally"] == ("body", ["finally ran"])
    assert plain["raises"] == "ValueError: boom"


def test_every_call_is_one_closed_well_nested_span(traced):
    exercise(load(instrumented_zoo(), "zoo_traced"))
    session.stop()
    with open_trace(str(traced)) as trace:
        names = {site.id: site.name for site in trace.header.sites}
        events = list(trace.events())
    opened, closed, failed, errors = {}, {}, [], []
    for ev in events:
        kind = ev.kind.name if hasattr(ev.kind, "name") else str(ev.kind)
        if kind == "start":
            assert ev.span not in opened
            opened[ev.span] = ev
        elif kind in ("end", "error_end"):
            assert ev.span in opened and ev.span not in closed, "a span closed twice or never opened"
            closed[ev.span] = ev
            if kind == "error_end":
                failed.append(names[opened[ev.span].site])
        elif names.get(ev.site) == "*":
            errors.append(ev.payload)
    assert set(opened) == set(closed), "every span that opened was closed"
    assert failed == ["raises"]
    assert len(errors) == 1 and errors[0]["type"].endswith("ValueError") and errors[0]["message"] == "boom"
    calls = [names[ev.site] for ev in opened.values()]
    # gen is entered by gen, gen-early-close and delegating (through yield from).
    assert calls.count("gen") == 3
    # directly, through Thing.build and from the coroutine coro_calls_method
    assert calls.count("Thing.method") == 3
    by_span = opened
    inner = next(ev for ev in opened.values() if names[ev.site] == "outer.<locals>.inner")
    assert names[by_span[inner.parent].site] == "outer"
    local = next(ev for ev in opened.values() if names[ev.site] == "factory.<locals>.Local.value")
    assert names[by_span[local.parent].site] == "factory"
    via_build = [ev for ev in opened.values() if names[ev.site] == "Thing.method" and ev.parent]
    assert sorted(names[by_span[ev.parent].site] for ev in via_build) == [
        "Thing.build", "coro_calls_method"]
    # a sync method's span (enter_sync) nests under the async span that called it
    from_coro = next(ev for ev in via_build if names[by_span[ev.parent].site] == "coro_calls_method")
    assert from_coro.task == by_span[from_coro.parent].task


def test_plain_functions_open_their_span_without_the_context_variable():
    code = instrumented_zoo()
    module = ast.parse(code)
    openers = {}
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for call in ast.walk(node):
                if (isinstance(call, ast.Attribute) and call.attr.startswith("enter")
                        and getattr(call.value, "id", "") == "_n3__hooks"):
                    openers.setdefault(node.name, call.attr)
    assert openers["early"] == openers["method"] == openers["inner"] == "enter_sync"
    assert openers["value"] == openers["static"] == "enter_sync"
    assert openers["gen"] == openers["delegating"] == "enter"  # generators
    assert openers["coro"] == openers["coro_calls_method"] == openers["agen"] == "enter"


def test_return_values_are_captured(traced):
    m = load(instrumented_zoo(), "zoo_traced")
    assert m.early(3) == 3
    session.stop()
    with open_trace(str(traced)) as trace:
        ends = [ev.payload for ev in trace.events() if ev.payload and "output" in ev.payload]
    assert ends == [{"output": 3}]


def test_plain_zoo_is_untouched_when_no_point_matches():
    result = instrument_source(ZOO, [Point("not_there", "1")], "n3core.tracing.hooks")
    assert result.code == ZOO and result.applied == [] and result.missing == ["not_there"]


def test_a_boundary_call_can_be_answered_by_a_replayer(traced):
    from n3core.tracing import probes

    source = "calls = []\n\ndef ask(question):\n    calls.append(question)\n    return 'live answer'\n"
    code = instrument_source(source, [Point("ask", "1", args=("question",), capture_return=True, boundary=True)],
                             "n3core.tracing.hooks").code
    m = load(code, "boundary")
    assert m.ask("q1") == "live answer" and m.calls == ["q1"]

    class Replayer:
        def __init__(self):
            self.seen = []

        def answer(self, token, payload):
            self.seen.append(payload)
            return "recorded answer"

    replayer = Replayer()
    probes.install_replayer(replayer)
    try:
        assert m.ask("q2") == "recorded answer"
    finally:
        probes.install_replayer(None)
    assert m.calls == ["q1"], "the live body did not run"
    assert [{k: v for k, v in p.items() if k != "request_hash"} for p in replayer.seen] == [{"question": "q2"}]


RAISING = '''
"""Every shape the rewrite knows, each raising from its own line."""
import asyncio


def plain(x):
    """A docstring
    on two lines."""
    y = x + 1
    raise ValueError(f"plain {y}")


def early(x):
    if x:
        return "early"
    values = [
        1,
        2,
    ]
    return values[x + 10]


def in_finally(log):
    try:
        return {"key": 1}["missing"]
    finally:
        log.append("finally")


def gen(n):
    yield n
    raise KeyError("gen")


async def coro(x):
    await asyncio.sleep(0)
    raise RuntimeError("coro")


async def agen(n):
    yield n
    raise LookupError("agen")


def lambda_return(x):
    return lambda: 1 / x


class Thing:
    def method(self, x):
        return self.helper(x)

    def helper(self, x):
        raise TypeError(
            "helper"
        )


def outer(x):
    def inner(y):
        return y["no such key"]
    return inner(x)
'''

RAISING_TARGETS = ["plain", "early", "in_finally", "gen", "coro", "agen", "lambda_return",
                   "Thing.method", "Thing.helper", "outer", "outer.<locals>.inner"]


def raising_calls(m):
    async def consume():
        return [i async for i in m.agen(1)]

    return {
        "plain": lambda: m.plain(1),
        "early": lambda: m.early(0),
        "in_finally": lambda: m.in_finally([]),
        "gen": lambda: list(m.gen(1)),
        "coro": lambda: asyncio.run(m.coro(1)),
        "agen": lambda: asyncio.run(consume()),
        "lambda_return": lambda: m.lambda_return(0)(),
        "method": lambda: m.Thing().method(1),
        "nested": lambda: m.outer({}),
    }


def raise_sites(module, filename):
    """For each call: the (function, line) of every frame in `filename`."""
    import traceback

    sites = {}
    for key, call in raising_calls(module).items():
        with pytest.raises(Exception) as info:
            call()
        frames = traceback.extract_tb(info.value.__traceback__)
        sites[key] = [(f.name, f.lineno) for f in frames if f.filename == filename]
    return sites


def test_tracebacks_name_the_same_lines_plain_and_instrumented(traced):
    from n3instrument.instrument.mapped_import import compile_mapped
    from n3instrument.instrument.positions import line_runs

    points = [Point(name, str(index + 1), capture_return=True) for index, name in enumerate(RAISING_TARGETS)]
    rewritten = instrument_source(RAISING, points, "n3core.tracing.hooks").code
    assert rewritten.count("\n") > RAISING.count("\n") + 5  # the text did move
    plain = types.ModuleType("raising_plain")
    exec(compile(RAISING, "raising.py", "exec"), plain.__dict__)
    traced_module = types.ModuleType("raising_traced")
    exec(compile_mapped(rewritten, line_runs(RAISING, rewritten), "raising.py"), traced_module.__dict__)
    expected = raise_sites(plain, "raising.py")
    assert expected["plain"][-1] == ("plain", 10)
    assert expected["method"] == [("method", 51), ("helper", 54)]
    assert raise_sites(traced_module, "raising.py") == expected
    unmapped = types.ModuleType("raising_unmapped")
    exec(compile(rewritten, "raising.py", "exec"), unmapped.__dict__)
    assert raise_sites(unmapped, "raising.py") != expected
