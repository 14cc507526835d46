"""Run tracing tests once per core: the compiled one (when built) and the Python twin."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from n3core.tracing import core, session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AVAILABLE = core.available()


@pytest.fixture(params=["c", "python"])
def tracing_core(request):
    """The core name; tests using it start tracers with core=tracing_core."""
    if request.param not in AVAILABLE:
        pytest.skip(f"the {request.param} tracing core is not built on this machine")
    yield request.param
    session.stop()


def fake_clock(start=1_000, step=7):
    """A deterministic monotonic clock, so two cores can be compared byte for byte."""
    return itertools.count(start, step).__next__


SITES = [
    {"id": 1, "event_type": "agent_turn", "component": "agent", "name": "Researcher",
     "file": "app.ai", "line": 3, "column": 1, "captures": ["input", "output"]},
    {"id": 2, "event_type": "llm_call", "component": "llm", "name": "gpt", "file": "app.ai",
     "line": 9, "column": 1},
    {"id": 3, "event_type": "tool_call", "component": "tool", "name": "search"},
]


def run_python(code: str, *, env=None, timeout=60) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with the repo importable, and reap it."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def spawn_python(code: str, *, env=None) -> subprocess.Popen:
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT)


def reap(proc: subprocess.Popen, sig) -> None:
    """Send `sig` to a spawned interpreter and wait for it; kill it if it outlives that."""
    try:
        proc.send_signal(sig)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
