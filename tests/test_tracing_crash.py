"""Real processes, real signals: what a killed, crashing or terminated program leaves behind."""
from __future__ import annotations

import signal
import textwrap
import time

import pytest

from n3core.tracing.format import Kind
from n3core.tracing.reader import open_trace

from support.tracing_cores import AVAILABLE, reap, run_python, spawn_python

CORES = [c for c in ("c", "python") if c in AVAILABLE]


def prelude(path, policy, core, **config):
    settings = {"policy": policy, "chunk_events": 64, "buffer_size": 256, **config}
    return textwrap.dedent(f"""
        import os, signal, sys, time
        from n3core.tracing import hooks, session
        tracer = session.start({str(path)!r}, [{{"id": 1, "event_type": "tool_call"}}],
                               {settings!r}, core={core!r})
    """)


def wait_ready(proc):
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()


@pytest.mark.parametrize("core", CORES)
def test_sigkill_leaves_every_complete_chunk_readable(tmp_path, core):
    path = tmp_path / "killed.n3t"
    proc = spawn_python(prelude(path, "block", core) + textwrap.dedent("""
        for i in range(50_000_000):
            hooks.instant(1, {"i": i, "pad": "x" * (i % 50)})
            if i == 5000:
                print("ready", flush=True)
    """))
    wait_ready(proc)
    time.sleep(0.5)  # the durability bound: what is 2 x flush_interval old is on disk
    reap(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    with open_trace(path) as trace:
        values = [e.payload["i"] for e in trace.events()]
    report = trace.report
    assert not report.complete and report.dropped is None
    assert report.chunks_read >= 5000 // 64 and report.events == len(values)
    assert values == list(range(len(values))) and len(values) % 64 == 0
    assert report.bytes_read == report.file_size or report.damaged
    assert "offset" in report.damage


@pytest.mark.parametrize("core", CORES)
def test_flight_recorder_written_on_unhandled_exception(tmp_path, core):
    path = tmp_path / "crash.n3t"
    result = run_python(prelude(path, "flight-recorder", core) + textwrap.dedent("""
        for i in range(10_000):
            t = hooks.enter(1, {"i": i})
            hooks.exit(t)
        raise RuntimeError("the agent gave up")
    """))
    assert result.returncode == 1 and "the agent gave up" in result.stderr
    with open_trace(path) as trace:
        events = list(trace.events())
    assert trace.report.complete and not trace.report.damaged
    assert len(events) >= 256 and trace.report.discarded == 20_000 - len(events)
    assert events[-1].kind == Kind.end and events[-2].payload == {"i": 9999}


@pytest.mark.parametrize("core", CORES)
def test_flight_recorder_written_on_sigterm(tmp_path, core):
    path = tmp_path / "term.n3t"
    proc = spawn_python(prelude(path, "flight-recorder", core) + textwrap.dedent("""
        for i in range(50_000_000):
            hooks.instant(1, {"i": i})
            if i == 3000:
                print("ready", flush=True)
    """))
    wait_ready(proc)
    reap(proc, signal.SIGTERM)
    assert proc.returncode == -signal.SIGTERM
    with open_trace(path) as trace:
        values = [e.payload["i"] for e in trace.events()]
    assert trace.report.complete and len(values) >= 256
    assert values == list(range(values[0], values[0] + len(values)))


@pytest.mark.parametrize("core", CORES)
def test_sigterm_chains_the_programs_own_handler(tmp_path, core):
    path = tmp_path / "chained.n3t"
    code = textwrap.dedent("""
        import signal, sys
        def handler(signum, frame):
            print("program handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, handler)
    """) + prelude(path, "block", core) + textwrap.dedent("""
        for i in range(50_000_000):
            hooks.instant(1, {"i": i})
            if i == 1000:
                print("ready", flush=True)
    """)
    proc = spawn_python(code)
    wait_ready(proc)
    reap(proc, signal.SIGTERM)
    assert proc.returncode == 3
    with open_trace(path) as trace:
        count = sum(len(b) for b in trace.batches())
    assert trace.report.complete and not trace.report.damaged and count > 1000


@pytest.mark.parametrize("core", CORES)
def test_normal_exit_flushes_and_writes_the_trailer(tmp_path, core):
    path = tmp_path / "exit.n3t"
    result = run_python(prelude(path, "block", core, capture_memory=True,
                                memory_interval=0.01) + textwrap.dedent("""
        for i in range(1000):
            hooks.instant(1, {"i": i})
        time.sleep(0.1)
    """))
    assert result.returncode == 0, result.stderr
    with open_trace(path) as trace:
        events = list(trace.events())
    assert trace.report.complete and trace.report.dropped == 0
    assert [e.payload["i"] for e in events if e.site == 1] == list(range(1000))
    rss = [e.payload["rss"] for e in events if e.site == 0xFFFFFD]
    assert len(rss) >= 2 and all(v > 1_000_000 for v in rss)


BLOCK_C = "import sys; sys.modules['n3core.tracing._ring'] = None\n"


def test_fallback_announces_itself_once(tmp_path):
    result = run_python(BLOCK_C + textwrap.dedent(f"""
        from n3core.tracing import core, hooks, session
        for n in range(3):
            session.start({str(tmp_path / 'f.n3t')!r}, [])
            session.stop()
        import n3core.tracing.core as again
        print(core.CORE_NAME, again.ring_module().IS_COMPILED)
    """), env={"N3TRACE_CORE": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["python", "False"]
    assert result.stderr.count("compiled tracing core is unavailable") == 1


def test_forced_core_missing_is_a_loud_error():
    result = run_python(BLOCK_C + "import n3core.tracing.session\n", env={"N3TRACE_CORE": "c"})
    assert result.returncode == 1 and "CoreUnavailableError" in result.stderr
    assert "N3TRACE_CORE=c" in result.stderr


def test_forced_python_core_is_silent():
    result = run_python("from n3core.tracing import core; print(core.CORE_NAME)",
                        env={"N3TRACE_CORE": "python"})
    assert result.stdout.strip() == "python" and "unavailable" not in result.stderr


def test_sigterm_in_the_middle_of_a_chunk_write_waits_for_it(tmp_path, monkeypatch):
    """A handler that runs between two bytecodes of a write must not interleave chunks.

    Only a flight recorder's dump writes chunks on the main thread (block and drop hand
    them to the writer thread), so that is where the handler can land."""
    from n3core.tracing import hooks
    from n3core.tracing import session as sess

    path = tmp_path / "mid-write.n3t"
    tracer = sess.start(str(path), [{"id": 1, "event_type": "x"}],
                        {"install_hooks": False, "chunk_events": 64, "buffer_size": 4096,
                         "policy": "flight-recorder"})
    handled = []
    tracer._hooks["sigterm"] = lambda signum, frame: handled.append(signum)
    from n3core.tracing import sink
    real_write = sink._write_all
    state = {"armed": True}

    def write_in_two_halves(fd, data):
        if state["armed"] and bytes(data[:4]) == b"N3CK":
            state["armed"] = False
            half = len(data) // 2
            real_write(fd, bytes(data)[:half])
            tracer._on_sigterm(15, None)      # what the interpreter would do here
            assert handled == [], "the handler waits for the write under way"
            real_write(fd, bytes(data)[half:])
        else:
            real_write(fd, data)

    monkeypatch.setattr(sink, "_write_all", write_in_two_halves)
    try:
        for i in range(1000):
            hooks.instant(1, {"i": i})
        tracer.flush()
    finally:
        sess.stop()
    assert handled == [15] and not state["armed"]
    with open_trace(path) as trace:
        values = [e.payload["i"] for e in trace.events()]
    assert trace.report.complete and not trace.report.damaged
    assert values == list(range(1000))
