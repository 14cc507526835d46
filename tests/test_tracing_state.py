"""The tracing state is explicit: `hooks` is its one slot, redaction rules are objects a
tracer holds, and `namel3ss debug trace`'s overrides last only while it runs."""
import ast

import pytest

from n3core.tracing import bootstrap, hooks, probes, session
from n3core.tracing.format import KIND_INSTANT
from n3core.tracing.payload import REDACTED
from n3core.tracing.reader import open_trace
from n3core.tracing.redaction import environment_rules, key_rules
from n3instrument.instrument.transform import Point, instrument_source

from support.tracing_cores import SITES, tracing_core  # noqa: F401

SPANS = ("enter", "enter_sync", "exit", "exit_value", "exit_returning", "instant", "fail_end")


def test_start_binds_the_hooks_to_the_tracers_core_and_stop_unbinds(tmp_path, tracing_core):
    tracer = session.start(str(tmp_path / "t.n3t"), SITES, {"install_hooks": False},
                           core=tracing_core)
    assert hooks.tracer is tracer and session.active() is tracer
    assert all(getattr(hooks, name) is getattr(tracer.ring, name) for name in SPANS)
    session.stop()
    assert hooks.tracer is None and session.active() is None


def test_reset_drops_an_observer_and_the_tracer(tmp_path, tracing_core):
    seen = []
    session.start(str(tmp_path / "t.n3t"), SITES, {"install_hooks": False}, core=tracing_core)
    hooks.observe(lambda kind, token, site, payload: seen.append((kind, site)))
    hooks.instant(3, {"n": 1})
    assert seen == [("instant", 3)] and hooks.instant is not session.active().ring.instant
    tracer = hooks.tracer
    hooks.reset()
    assert hooks.tracer is None and hooks.instant is not None
    hooks.instant(3, {"n": 2})
    assert seen == [("instant", 3)]
    tracer.stop()


def test_generated_code_uses_only_the_public_hooks():
    source = "def f(x):\n    return x\n\nasync def g():\n    yield 1\n\ndef h(q):\n    return q\n"
    points = [Point("f", "3", capture_return=True), Point("g", "4"), Point("h", "5", boundary=True)]
    code = instrument_source(source, points, "n3core.tracing.hooks").code
    tree = ast.parse(code)
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "_n3__hooks"}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert used and used <= set(hooks.__all__) and not any(n.startswith("_") for n in used)
    assert {"hooks", "fail", "answer", "MISS", "request"} <= imported <= set(hooks.__all__) | {"hooks"}
    assert all(getattr(hooks, name) is not None for name in imported - {"hooks"})


def test_a_tracer_without_rules_still_redacts_secret_keys(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core)
    hooks.instant(3, {"api_key": "sk-live-123456", "note": "sk-live-123456 again"})
    session.stop()
    with open_trace(str(path)) as trace:
        (event,) = list(trace.events())
    assert event.kind == KIND_INSTANT
    assert event.payload == {"api_key": REDACTED, "note": f"{REDACTED} again"}


def test_rules_are_fresh_objects_so_one_tracer_learns_nothing_for_the_next():
    first, second = key_rules(), key_rules()
    first.secrets.append("learned-value")
    assert second.secrets == [] and first.verdicts is not second.verdicts
    env = environment_rules({"MY_TOKEN": "abcdefgh", "HOME": "/home/someone", "PW_KEY": "short"})
    assert env.secrets == ["abcdefgh"] and env.rule("refresh_token") and not env.rule("tokens")


def test_configure_redaction_returns_rules_and_a_running_tracer_follows(tmp_path, tracing_core):
    tracer = session.start(str(tmp_path / "t.n3t"), SITES, {"install_hooks": False},
                           core=tracing_core)
    rules = probes.configure_redaction(patterns=(r"^note$",), environ={"X_SECRET": "hush-hush"})
    assert tracer.redaction is rules and rules.secrets == ["hush-hush"] and rules.rule("note")
    session.stop()


def test_debug_trace_overrides_last_only_while_it_runs():
    with bootstrap.overriding({"enabled": True, "policy": None, "buffer_size": 64}):
        assert bootstrap._overrides == {"enabled": True, "buffer_size": 64}
        with pytest.raises(RuntimeError):
            with bootstrap.overriding({"policy": "drop"}):
                assert bootstrap._overrides == {"policy": "drop"}
                raise RuntimeError("the run failed")
        assert bootstrap._overrides == {"enabled": True, "buffer_size": 64}
    assert bootstrap._overrides == {}
