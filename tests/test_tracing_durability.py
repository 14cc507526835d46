"""Time-bounded durability: what a SIGKILL leaves of a slow or hung run, on both cores.

A slow agent writes few events, far fewer than a chunk holds, so only the writer's
flush_interval puts them on disk before the kill. Its tool logs when each call ran (a side
channel the tracer does not touch); every call logged more than 2 x flush_interval before
the kill must be in the trace, because its `tool_call_start` was emitted before the log
line was written.
"""
from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from n3core.tracing.format import Kind
from n3core.tracing.reader import open_trace

from support.fault_runs import spawn
from support.tracing_cores import AVAILABLE

CORES = [c for c in ("c", "python") if c in AVAILABLE]
INTERVAL = 0.1  # the default flush_interval

SLOW_APP = """\
app "Slow"

llm slow_llm {
  provider: "mock"
  model: "mock-slow"
  latency_ms: 150
  responses: [
    { tool_call: { name: "tick", arguments: { note: "again" } } }
  ]
}

tool tick {
  type: "python"
  function: "ticktools:tick"
  description: "Log when it ran"
  parameters: { note: "string" }
}

agent Slow {
  llm: slow_llm
  system_prompt: "Keep ticking."
  tools: [tick]
  max_turns: 200
}
"""

TICK_TOOLS = """\
import os
import time


def tick(note=""):
    with open(os.environ["TICK_LOG"], "a") as log:
        log.write(f"{time.monotonic_ns()}\\n")
    return {"ok": True}
"""

HUNG_APP = """\
app "Hung"

llm remote {
  provider: "openai"
  model: "gpt-test"
  base_url: env("FAULT_BASE_URL")
  api_key: env("FAULT_API_KEY")
  timeout: 60
}

prompt ask {
  model: remote
  template: "Say something about {{topic}}"
  variables: ["topic"]
}
"""


def _kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _read(tmp_path):
    with open_trace(str(tmp_path / "traces" / "trace_latest")) as trace:
        events = list(trace.events())
        sites = {s.id: s for s in trace.header.sites}
    return trace.report, events, sites


@pytest.mark.parametrize("core", CORES)
def test_a_slow_agent_killed_mid_run_keeps_every_event_older_than_two_intervals(
        tmp_path, core):
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.ai").write_text(SLOW_APP)
    (app / "ticktools.py").write_text(TICK_TOOLS)
    log = tmp_path / "ticks.log"
    proc = spawn(tmp_path, "run", app / "app.ai", "--agent", "Slow", "--input", "go",
                 traced=True, env={"TICK_LOG": str(log), "N3TRACE_CORE": core})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_lines(log)) < 6:
            time.sleep(0.02)
        time.sleep(0.05)  # the kill lands between two ticks, at no special moment
    finally:
        killed_at = time.monotonic_ns()
        _kill(proc)
    ticks = [int(line) for line in _lines(log)]
    assert len(ticks) >= 6, proc.stderr
    report, events, sites = _read(tmp_path)
    assert not report.complete and not report.damaged, report.damage
    started = [e for e in events
               if e.kind == Kind.start and sites[e.site].event_type == "tool_call"]
    old = [t for t in ticks if t < killed_at - 2 * INTERVAL * 1e9]
    assert len(old) >= 5 and len(started) >= len(old), (len(started), len(ticks))
    assert report.events < 200, "a few events, so no chunk ever filled"


def _lines(path):
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


class SilentServer:
    """Accepts connections on loopback and never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        self.accepted.set()

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("core", CORES)
def test_a_run_hung_in_an_llm_call_keeps_the_open_call_and_its_request(tmp_path, core):
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.ai").write_text(HUNG_APP)
    server = SilentServer()
    url = f"http://127.0.0.1:{server.sock.getsockname()[1]}/v1"
    proc = spawn(tmp_path, "run", app / "app.ai", "--prompt", "ask", "--input",
                 '{"topic": "tides"}', traced=True,
                 env={"FAULT_BASE_URL": url, "N3TRACE_CORE": core})
    try:
        assert server.accepted.wait(60), "the program never called the llm"
        time.sleep(2)
    finally:
        _kill(proc)
        server.close()
    report, events, sites = _read(tmp_path)
    assert not report.complete and not report.damaged, report.damage
    calls = [e for e in events if sites[e.site].event_type == "llm_call"]
    assert [e.kind for e in calls] == [Kind.start], "the call is open: a start, no end"
    assert "Say something about tides" in repr(calls[0].payload)
