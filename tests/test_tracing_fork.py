"""fork() in a traced program: the child runs on untraced and never writes the parent's trace."""
from __future__ import annotations

import textwrap

import pytest

from n3core.tracing.reader import open_trace

from support.fault_runs import cli, write_program
from support.tracing_cores import AVAILABLE, run_python

CORES = [c for c in ("c", "python") if c in AVAILABLE]

CHILD_EXITS = {
    "normally": "sys.exit(0)",  # atexit handlers run in the child
    "raising": "raise RuntimeError('child failed')",  # and sys.excepthook
    "flushing": "session.flush(); session.dump(); session.stop(); os._exit(0)",
    "signalled": "os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)",
}


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("policy", ["block", "drop", "flight-recorder"])
@pytest.mark.parametrize("how", list(CHILD_EXITS))
def test_a_forked_child_leaves_the_parents_trace_alone(tmp_path, core, policy, how):
    path = tmp_path / "fork.n3t"
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        from n3core.tracing import hooks, session
        session.start({str(path)!r}, [{{"id": 1, "event_type": "tool_call"}}],
                      {{"policy": {policy!r}, "chunk_events": 8, "buffer_size": 64}},
                      core={core!r})
        for i in range(20):
            hooks.instant(1, {{"who": "parent", "i": i}})
        pid = os.fork()
        if pid == 0:
            print("child traced:", session.tracing(), hooks.enter(1) is None, flush=True)
            for i in range(50):
                hooks.instant(1, {{"who": "child", "i": i}})
            {CHILD_EXITS[how]}
        _, status = os.waitpid(pid, 0)
        for i in range(20, 40):
            hooks.instant(1, {{"who": "parent", "i": i}})
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    expected = {"normally": 0, "raising": 1, "flushing": 0, "signalled": -15}[how]
    assert done.stdout.splitlines() == ["child traced: False True", f"child status {expected}"]
    assert "n3trace" not in done.stderr
    with open_trace(str(path)) as trace:
        events = [e.payload for e in trace.events()]
    report = trace.report
    assert report.complete and not report.damaged, report.damage
    assert all(e["who"] == "parent" for e in events)
    if policy == "flight-recorder":
        assert [e["i"] for e in events] == list(range(40 - len(events), 40))
        assert report.discarded == 40 - len(events)
    else:
        assert [e["i"] for e in events] == list(range(40)) and report.dropped == 0


FORKING_TOOLS = """\
import atexit
import os


def fetch(mode="ok"):
    pid = os.fork()
    if pid == 0:
        atexit._run_exitfuncs()  # what the interpreter's exit runs, the tracer's included
        os._exit(0)
    os.waitpid(pid, 0)
    return {"value": "forked"}
"""


def test_a_python_tool_that_forks_keeps_the_trace_whole(tmp_path):
    source = write_program(tmp_path / "app")
    (tmp_path / "app" / "faulttools.py").write_text(FORKING_TOOLS)
    untraced = cli(tmp_path, "run", source, "--chain", "main", "--input", '{"mode": "x"}',
                   traced=False)
    traced = cli(tmp_path, "run", source, "--chain", "main", "--input", '{"mode": "x"}',
                 traced=True)
    assert untraced.returncode == traced.returncode == 0, traced.stderr
    assert untraced.stdout == traced.stdout == "result: forked\n"
    with open_trace(str(tmp_path / "traces" / "trace_latest")) as trace:
        events = list(trace.events())
    assert trace.report.complete and not trace.report.damaged, trace.report.damage
    starts = [e for e in events if e.kind.name == "start"]
    ends = [e for e in events if e.kind.name in ("end", "error_end")]
    assert len(starts) == len(ends) and len({e.span for e in starts}) == len(starts)
