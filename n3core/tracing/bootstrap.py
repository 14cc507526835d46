"""Start tracing for an instrumented build, from its site table and the debug settings.

An instrumented `program.py` calls `start_from_build(__file__)` before it imports its
runtime copy, so `app_load` is the first span of the run. Tracing stays off unless the
settings enable it; then the trace goes to `<output_dir>/trace-<utc>-<run>.n3t`,
`trace_latest` points at it, and traces older than the retention period are removed.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from . import hooks, probes, session
from .errors import TraceError
from .format import PERFORMANCE_SITE
from .payload import MIN_LEARNED
from .redaction import too_short_to_scrub
from .settings import load_settings
from .sink import describe, make_private_dirs, warn

# The one slot here: settings `namel3ss debug trace` imposes on the build it loads in its
# own process, set only inside `overriding`.
_overrides: dict = {}
LATEST = "trace_latest"


@contextlib.contextmanager
def overriding(settings: dict):
    """Builds started inside the block take `settings` over every other source (None
    values are left out); the previous overrides are back when it ends."""
    global _overrides
    previous, _overrides = _overrides, {k: v for k, v in settings.items() if v is not None}
    try:
        yield
    finally:
        _overrides = previous


def start_from_build(program_file: str):
    """Start the session if tracing is enabled; return the Tracer or None."""
    try:
        settings = load_settings(overrides=_overrides)
    except TraceError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    build = Path(program_file).resolve().parent
    manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    load_user_modules(build, manifest.get("user_modules") or {})
    if not settings.enabled or session.active() is not None:
        return session.active()
    sites = json.loads((build / "sites.json").read_text("utf-8"))["sites"]
    out_dir = Path(settings.output_dir)
    path = Path(settings.output) if settings.output else None
    rules = probes.configure_redaction()
    short = too_short_to_scrub(os.environ)
    if short:
        values = "the value of " if len(short) == 1 else "the values of "
        warn(f"{values}{', '.join(short)} (named like a secret) "
             f"{'is' if len(short) == 1 else 'are'} shorter than {MIN_LEARNED} characters, "
             "too short to scrub from recorded text without garbling it: the trace keeps "
             "such a value out only where a secret-named key (api_key, token, ...) holds "
             "it. Use a longer secret, or keep it out of prompts, tool arguments and results.")
    metadata = {
        "program": manifest.get("source"), "source_path": manifest.get("source_path"),
        "source_sha256": manifest.get("source_sha256"),
        "compiler": manifest.get("compiler"), "sites_sha256": manifest.get("sites_sha256"),
        "argv": list(sys.argv), "pid": os.getpid(),  # the tracer scrubs argv of secrets
        "capture_performance": settings.capture_performance,
    }
    try:
        if path is None:
            make_private_dirs(str(out_dir))
            cleanup(out_dir, settings.retention_days)
        tracer = session.start(str(path) if path else None, sites, settings.trace_config(), metadata=metadata,
                               redaction=rules)
    except TraceError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    except OSError as exc:  # tracing never stops a run: it goes on untraced
        where = path if path is not None else out_dir
        warn(f"cannot write a trace to {where}: {describe(exc)}. This run goes on "
             "untraced. Point NAMEL3SS_DEBUG_OUTPUT_DIR (or -o) at a folder you can write.")
        return None
    if path is None:
        try:
            point_latest(out_dir, Path(tracer.path))
        except OSError as exc:
            warn(f"could not point {out_dir / LATEST} at the new trace: {describe(exc)}.")
    if settings.capture_performance:
        global _started
        _started = time.monotonic()
        atexit.register(finish)  # registered after the tracer's, so it runs before the flush
    return tracer


_started: float | None = None


def finish() -> None:
    """Record what the process cost, once, as a `performance_marker` at the end of the run."""
    global _started
    if _started is None or session.active() is None:
        return
    started, _started = _started, None
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    hooks.instant(PERFORMANCE_SITE, {
        "name": "process", "cpu_user_s": usage.ru_utime, "cpu_system_s": usage.ru_stime,
        "max_rss_bytes": rss, "wall_s": time.monotonic() - started,
    })


def load_user_modules(build: Path, modules: dict) -> None:
    """Put the build's traced copies of user modules where the program's imports find them."""
    import importlib.util

    for name, relpath in modules.items():
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, build / relpath)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def point_latest(out_dir: Path, trace: Path) -> None:
    """Make `trace_latest` name the newest trace: a symlink, or a one-line file without them."""
    link = out_dir / LATEST
    tmp = out_dir / f".{LATEST}.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(trace.name, tmp)
    except OSError:
        tmp.write_text(trace.name + "\n")
    os.replace(tmp, link)


def cleanup(out_dir: Path, retention_days: int) -> int:
    """Remove traces older than `retention_days` (0 keeps everything); return how many."""
    if retention_days <= 0:
        return 0
    horizon = time.time() - retention_days * 86400
    removed = 0
    for trace in out_dir.glob("*.n3t"):
        try:
            if trace.stat().st_mtime < horizon:
                trace.unlink()
                removed += 1
        except OSError:
            pass
    return removed
