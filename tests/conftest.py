"""The suite runs once per core: `make test` sets N3_CORE=c, then N3_CORE=python.

N3_CORE forces the tracing core and the analysis core together (n3core/corechoice.py), so
every test, and every interpreter a test starts, runs on that core. Within such a pass a
test parametrized over cores runs for that core only, and the tests that do not depend on
the core, or that compare both cores themselves, run only in the compiled pass. Without
N3_CORE (a plain `pytest`) everything runs, once. Session-scoped fixtures shared across
modules live here too, so they are built once.
"""
from __future__ import annotations

import os

from n3core.corechoice import ALL_CORES_ENV, forced
from support.frozen import frozen  # noqa: F401

CORE_FIXTURES = ("tracing_core", "reader_core")
# Files whose tests give the same result on either core, or check both cores side by side.
ONCE = ("test_frontend_", "test_lowering", "test_runtime_", "test_analyzer_frozen",
        "test_wheel", "test_instrument_rewrites", "test_instrument_positions",
        "test_core_contracts", "test_tracing_constants", "test_analyzer_cores",
        "test_tracing_payload_fuzz", "test_report_html", "test_bench_results",
        "test_replay_scan")


def _runs_in(item, core: str) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for name in CORE_FIXTURES:
            if name in callspec.params:
                return callspec.params[name] == core
    if core == "c":
        return True
    return not os.path.basename(str(item.fspath)).startswith(ONCE)


def pytest_collection_modifyitems(config, items):
    core = forced(ALL_CORES_ENV)
    if not core:
        return
    kept = [item for item in items if _runs_in(item, core)]
    dropped = [item for item in items if not _runs_in(item, core)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_report_header(config):
    core = os.environ.get(ALL_CORES_ENV)
    return f"cores: {ALL_CORES_ENV}={core}" if core else f"cores: chosen per component ({ALL_CORES_ENV} unset)"
