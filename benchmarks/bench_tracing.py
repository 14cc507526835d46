"""Measure the tracing core against its targets and its peers, side by side in one run.

Run: python benchmarks/bench_tracing.py [--quick]. Prints figures and ratios; asserts
nothing (timings belong here, never in the test suite). VizTracer and the OpenTelemetry
SDK come from the `bench` extra and are skipped with a note when missing.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from n3core.tracing import core, hooks, session  # noqa: E402
from n3core.tracing.reader import open_trace  # noqa: E402

QUICK = "--quick" in sys.argv
N = 200_000 if QUICK else 1_000_000
REPEAT = 3
SITES = [{"id": 1, "event_type": "tool_call", "component": "tool", "name": "t"}]
SMALL = {"model": "gpt-4o-mini", "tokens": 42, "temperature": 0.2}


def best_ns(fn, n=N) -> float:
    """Best-of-REPEAT nanoseconds per iteration of fn(n)."""
    runs = []
    for _ in range(REPEAT):
        t0 = time.perf_counter_ns()
        fn(n)
        runs.append((time.perf_counter_ns() - t0) / n)
    return min(runs)


def plain_loop(n):
    for _ in range(n):
        work()


def traced_loop(n):
    for _ in range(n):
        traced_work()


def work():
    return 1


def traced_work():
    t = hooks.enter(1)
    r = 1
    hooks.exit(t)
    return r


def sync_loop(n):
    for _ in range(n):
        sync_work()


def sync_work():
    t = hooks.enter_sync(1)
    r = 1
    hooks.exit(t)
    return r


def measure_core(name: str, tmp: str) -> dict:
    out = {}
    base = best_ns(plain_loop)
    out["untraced call ns"] = base
    out["instrumented, tracing off: added ns"] = best_ns(traced_loop) - base
    path = os.path.join(tmp, f"pairs-{name}.n3t")
    session.start(path, SITES, {"install_hooks": False}, core=name)
    out["enter/exit pair added ns"] = best_ns(traced_loop) - base
    out["enter_sync/exit pair added ns"] = best_ns(sync_loop) - base
    events = session.active().recorder.events
    session.stop()
    out["bytes per payload-less event"] = os.path.getsize(path) / events

    path = os.path.join(tmp, f"payload-{name}.n3t")
    session.start(path, SITES, {"install_hooks": False}, core=name)
    instant = hooks.instant

    def payload_loop(n):
        for _ in range(n):
            instant(1, SMALL)

    out["small-dict payload events/s (emit+write)"] = 1e9 / best_ns(payload_loop)
    session.stop()
    encode = core.ring_module(name).encode

    def encode_loop(n):
        for _ in range(n):
            encode(SMALL)

    out["small-dict encodes/s (encoder alone)"] = 1e9 / best_ns(encode_loop)

    path = os.path.join(tmp, f"read-{name}.n3t")
    session.start(path, SITES, {"install_hooks": False}, core="c" if "c" in
                  core.available() else name)
    for _ in range(N):
        hooks.exit(hooks.enter(1))
    session.stop()
    total = 0
    t0 = time.perf_counter_ns()
    with open_trace(path, core=name) as trace:
        for batch in trace.batches():
            total += len(batch)
    out["reader events/s (batches)"] = total * 1e9 / (time.perf_counter_ns() - t0)
    return out


def measure_viztracer(base: float):
    try:
        from viztracer import VizTracer
    except ImportError:
        return None
    tracer = VizTracer(tracer_entries=N * 2 + 10, verbose=0)
    tracer.start()
    t0 = time.perf_counter_ns()
    plain_loop(N)
    elapsed = (time.perf_counter_ns() - t0) / N
    tracer.stop()
    tracer.clear()
    # VizTracer also records the loop's own frame; the per-call cost is what we compare
    return elapsed - base


def measure_otel(base: float):
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
    except ImportError:
        return None

    class NoOp(SpanExporter):
        def export(self, spans):
            return None

        def shutdown(self):
            return None

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoOp()))
    tracer = provider.get_tracer("bench")
    n = N // 20

    def loop(n):
        for _ in range(n):
            with tracer.start_as_current_span("work"):
                work()

    return best_ns(loop, n) - base


def main() -> None:
    print(f"n3trace tracing benchmarks: {N:,} iterations, best of {REPEAT}, "
          f"Python {sys.version.split()[0]}, cores available: {core.available()}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in core.available():
            results[name] = measure_core(name, tmp)
    keys = list(next(iter(results.values())))
    print(f"\n{'figure':44}" + "".join(f"{name:>16}" for name in results))
    for key in keys:
        print(f"{key:44}" + "".join(f"{results[n][key]:16,.1f}" for n in results))
    main_core = "c" if "c" in results else "python"
    # The pass opens a plain function's span with enter_sync and a coroutine's, generator's
    # or async generator's with enter: the targets are judged on the plain-function path.
    ours = results[main_core]["enter_sync/exit pair added ns"]
    ours_async = results[main_core]["enter/exit pair added ns"]
    base = results[main_core]["untraced call ns"]
    viz = measure_viztracer(base)
    otel = measure_otel(base)
    print("\npeers (added ns per traced call):")
    print(f"  viztracer (function-entry tracing): {viz:,.1f}" if viz is not None
          else "  viztracer: not installed")
    print(f"  opentelemetry-sdk span, no-op exporter: {otel:,.1f}" if otel is not None
          else "  opentelemetry-sdk: not installed")
    print(f"\ntargets ({main_core} core; the pass generates enter_sync for a plain function, "
          f"enter for coroutines and generators):")
    rows = [
        ("enter_sync/exit pair added ns <= 120", ours, ours <= 120),
        ("viztracer / ours >= 3x", viz / ours if viz else float("nan"),
         bool(viz and viz / ours >= 3)),
        ("opentelemetry / ours >= 100x", otel / ours if otel else float("nan"),
         bool(otel and otel / ours >= 100)),
        ("enter/exit pair (async path) added ns", ours_async, True),
        ("bytes/event on disk: 24 B record + headers",
         results[main_core]["bytes per payload-less event"],
         results[main_core]["bytes per payload-less event"] <= 24.05),
        ("small-dict payload events/s >= 2M",
         results[main_core]["small-dict payload events/s (emit+write)"],
         results[main_core]["small-dict payload events/s (emit+write)"] >= 2e6),
        ("reader events/s >= 5M", results[main_core]["reader events/s (batches)"],
         results[main_core]["reader events/s (batches)"] >= 5e6),
    ]
    for label, value, ok in rows:
        verdict = "(no target)" if label.startswith("enter/exit pair (async") else (
            "met" if ok else "NOT met")
        print(f"  {label:40} {value:16,.2f}  {verdict}")


if __name__ == "__main__":
    main()
