"""A program's exception leaves a traced span as it came in, whatever its methods do.

The function is a user module instrumented by the pass (`--instrument-module`), so the
`except` block under test is the generated one, calling `probes.fail`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from n3core.tracing import hooks, probes, session
from n3core.tracing.reader import open_trace

from support.tracing_cores import SITES, tracing_core  # noqa: F401

HOSTILE = textwrap.dedent('''
    class Hostile(Exception):
        def __str__(self):
            raise RuntimeError("__str__ broke")

        def __repr__(self):
            raise RuntimeError("__repr__ broke")

        @property
        def args(self):
            raise RuntimeError("args broke")

        @property
        def code(self):
            raise RuntimeError("code broke")

        def __setattr__(self, name, value):
            raise RuntimeError("__setattr__ broke")
''')

TOOL = HOSTILE + textwrap.dedent('''
    RAISED = []


    def search(q):
        exc = Hostile()
        RAISED.append(exc)
        raise exc
''')

APP = textwrap.dedent('''
    tool search {
      type: "python"
      function: "tools.search:search"
    }
    chain c { steps: [ { name: "s", kind: "tool", target: search, input: { q: "{{input.q}}" } } ] }
''')

CALLER = textwrap.dedent('''
    import importlib.util, json, sys
    from n3core.tracing import hooks, session
    sites = json.load(open("b/sites.json"))["sites"]
    session.start("t.n3t", sites, {"install_hooks": False})
    spec = importlib.util.spec_from_file_location("tools.search", "b/_n3_user/tools.search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.search("q")
    except BaseException as caught:
        print(type(caught).__name__, caught is module.RAISED[0], caught.__context__ is None)
    session.stop()
''')


def test_a_hostile_exception_propagates_unchanged_through_an_instrumented_build(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "search.py").write_text(TOOL)
    (tmp_path / "app.ai").write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    built = subprocess.run([sys.executable, "-m", "n3instrument.cli", "build", "--instrument",
                            "--instrument-module", "tools/search.py", "app.ai", "-o", "b"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert built.returncode == 0, built.stderr
    copy = (tmp_path / "b" / "_n3_user" / "tools.search.py").read_text()
    assert "fail(" in copy, "the copy has the generated except block"
    done = subprocess.run([sys.executable, "-c", CALLER], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Hostile", "True", "True"]
    with open_trace(str(tmp_path / "t.n3t")) as trace:
        sites = {s.id: s for s in trace.header.sites}
        errors = [e.payload for e in trace.events() if sites[e.site].event_type == "error_occurred"]
    hostile = [e for e in errors if e["type"].endswith("Hostile")]
    assert len(hostile) == 1 and hostile[0]["message"] == "<str() failed>"
    assert "code" not in hostile[0]
    # the traced __str__, code and __setattr__ raised inside their own spans: recorded by
    # type, without formatting them again (which would recurse)
    others = {e["type"] for e in errors if e not in hostile}
    assert others == {"RuntimeError"} and len(errors) <= 8


def test_session_and_probes_fail_record_a_hostile_exception(tmp_path, tracing_core):
    namespace: dict = {}
    exec(HOSTILE, namespace)  # noqa: S102 - the class under test, defined once above
    path = tmp_path / "h.n3t"
    session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core)
    for fail in (session.fail, probes.fail):
        token = hooks.enter(1)
        try:
            raise namespace["Hostile"]()
        except Exception as exc:  # noqa: BLE001
            fail(token, exc)
    session.stop()
    payload = session.error_payload(namespace["Hostile"]())
    assert payload["message"] == "<str() failed>" and payload["type"].endswith("Hostile")
    with open_trace(str(path)) as trace:
        ends = [e.payload for e in trace.events() if e.kind.name == "error_end"]
    assert [e["message"] for e in ends] == ["<str() failed>"] * 2
    assert all("Hostile" in e["stack"] for e in ends)


def test_an_ordinary_exception_is_recorded_in_full():
    try:
        raise ValueError("plain words")
    except ValueError as exc:
        payload = session.error_payload(exc)
    assert payload == {"type": "ValueError", "message": "plain words", "stack": payload["stack"]}
    assert payload["stack"].endswith("ValueError: plain words\n") and "Traceback" in payload["stack"]
