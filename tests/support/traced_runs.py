"""Run a `.ai` program traced, in a real subprocess, and read back what it recorded."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from n3core.tracing.reader import open_trace


def traced_run(tmp_path: Path, source, *args, env=None, cwd=None):
    """Run `namel3ss run SOURCE ARGS` with tracing on; return (completed process, trace path)."""
    traces = tmp_path / "traces"
    full_env = {
        **os.environ,
        "NAMEL3SS_DEBUG_ENABLED": "true",
        "NAMEL3SS_DEBUG_OUTPUT_DIR": str(traces),
        "NAMEL3SS_CACHE_DIR": str(tmp_path / "cache"),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "n3instrument.cli", "run", str(source), *map(str, args)],
        capture_output=True, text=True, timeout=120, env=full_env, cwd=cwd or tmp_path,
    )
    return done, traces / "trace_latest"


def read_events(path):
    """(sites by id, events as (kind name, site, span, parent, payload)) of a trace."""
    with open_trace(str(path)) as trace:
        sites = {site.id: site for site in trace.header.sites}
        events = [(ev.kind.name if hasattr(ev.kind, "name") else str(ev.kind), sites[ev.site],
                   ev.span, ev.parent, ev.payload) for ev in trace.events()]
    return sites, events
