"""Measure the tracing core against its targets and its peers, side by side in one run.

Run: python benchmarks/bench_tracing.py [--quick]. Prints figures and ratios; asserts
nothing (timings belong here, never in the test suite). VizTracer and the OpenTelemetry
SDK come from the `bench` extra and are skipped with a note when missing. Every peer gets
the same interleaved rounds as we do, timed in CPU time of the calling thread; VizTracer's
buffer is filled once before the rounds so page faults do not count against it, and
OpenTelemetry uses the BatchSpanProcessor a user would.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from n3core.tracing import core, hooks, session  # noqa: E402
from n3core.tracing.reader import open_trace  # noqa: E402

QUICK = "--quick" in sys.argv
N = 100_000 if QUICK else 400_000
ROUNDS = 3 if QUICK else 7  # every contestant gets the same interleaved rounds
SITES = [{"id": 1, "event_type": "tool_call", "component": "tool", "name": "t"}]
SMALL = {"model": "gpt-4o-mini", "tokens": 42, "temperature": 0.2}


def cpu_ns(fn, n=N) -> float:
    """CPU nanoseconds of this thread per iteration of fn(n) (a writer thread's work is
    not the caller's; `process CPU` figures below add it back)."""
    t0 = time.thread_time_ns()
    fn(n)
    return (time.thread_time_ns() - t0) / n


def best_ns(fn, n=N) -> float:
    return min(cpu_ns(fn, n) for _ in range(ROUNDS))


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


def _nothing():
    return None


def _untraced(fn, n=N):
    return (_nothing, fn, lambda state: None, n)


def _traced(tmp, name, fn, policy="block"):
    def setup():
        path = os.path.join(tmp, f"pairs-{name}-{policy}.n3t")
        return session.start(path, SITES, {"install_hooks": False, "policy": policy}, core=name)

    def teardown(tracer):
        session.stop()
        os.unlink(tracer.path)
    return (setup, fn, teardown, N)


def _profiled():
    def callback(frame, event, arg):
        return None

    def setup():
        sys.setprofile(callback)

    def teardown(state):
        sys.setprofile(None)
    return (setup, plain_loop, teardown, N)


def _viztracer():
    try:
        from viztracer import VizTracer
    except ImportError:
        return None
    tracer = VizTracer(tracer_entries=N * 2 + 10, verbose=0)
    tracer.start()  # one pass before the rounds touches every page of its buffer
    plain_loop(N)
    tracer.stop()
    tracer.clear()

    def setup():
        tracer.start()

    def teardown(state):
        tracer.stop()
        tracer.clear()
    return (setup, plain_loop, teardown, N)


def _otel():
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    except ImportError:
        return None

    class NoOp(SpanExporter):
        def export(self, spans):
            return None

        def shutdown(self):
            return None

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoOp()))
    tracer = provider.get_tracer("bench")

    def loop(n):
        for _ in range(n):
            with tracer.start_as_current_span("work"):
                work()
    return (_nothing, loop, lambda state: provider.force_flush(), N // 20)


def measure_pairs(tmp: str, name: str) -> dict:
    """Added ns per traced call, against the plain loop of the same round: min, median."""
    contestants = {
        "plain": _untraced(plain_loop),
        "instrumented, tracing off": _untraced(traced_loop),
        "enter_sync/exit pair (block, real file)": _traced(tmp, name, sync_loop),
        "enter/exit pair (block, real file)": _traced(tmp, name, traced_loop),
        "no-op sys.setprofile callback": _profiled(),
    }
    peers = {"viztracer (warm buffer)": _viztracer(),
             "opentelemetry-sdk span (Batch, no-op exporter)": _otel()}
    contestants.update({k: v for k, v in peers.items() if v is not None})
    rounds = {k: [] for k in contestants}
    for _ in range(ROUNDS):
        for key, (setup, fn, teardown, n) in contestants.items():
            state = setup()
            rounds[key].append(cpu_ns(fn, n))
            teardown(state)
    plain = rounds.pop("plain")
    added = {k: sorted(v - p for v, p in zip(vals, plain)) for k, vals in rounds.items()}
    out = {"plain call ns (median)": (min(plain), statistics.median(plain))}
    out.update({k: (v[0], statistics.median(v)) for k, v in added.items()})
    for missing in (k for k, v in peers.items() if v is None):
        out[missing] = None
    return out


def process_cpu_pair(tmp: str, name: str) -> float:
    """The enter_sync/exit pair's added CPU counting every thread (the writer's too)."""
    def run(fn):
        t0 = time.process_time_ns()
        fn(N)
        return (time.process_time_ns() - t0) / N
    tracer = session.start(os.path.join(tmp, f"proc-{name}.n3t"), SITES,
                           {"install_hooks": False}, core=name)
    traced = min(run(sync_loop) for _ in range(ROUNDS))
    session.stop()
    os.unlink(tracer.path)
    return traced - min(run(plain_loop) for _ in range(ROUNDS))


def drop_share(tmp: str, name: str, events=2_000_000) -> tuple:
    """(dropped, emitted) for a hot loop of instants under `drop` on this machine's disk."""
    tracer = session.start(os.path.join(tmp, f"drop-{name}.n3t"), SITES,
                           {"install_hooks": False, "policy": "drop"}, core=name)
    instant = hooks.instant
    for _ in range(events):
        instant(1)
    session.stop()
    os.unlink(tracer.path)
    return tracer.recorder.dropped, events


def measure_core(name: str, tmp: str) -> dict:
    out = {}
    path = os.path.join(tmp, f"bytes-{name}.n3t")
    session.start(path, SITES, {"install_hooks": False}, core=name)
    sync_loop(N)
    events = session.active().recorder.events
    session.stop()
    out["bytes per payload-less event"] = os.path.getsize(path) / events

    path = os.path.join(tmp, f"payload-{name}.n3t")
    session.start(path, SITES, {"install_hooks": False}, core=name)
    instant = hooks.instant

    def payload_loop(n):
        for _ in range(n):
            instant(1, SMALL)

    out["small-dict payload events/s (caller CPU)"] = 1e9 / best_ns(payload_loop)
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


def main() -> None:
    print(f"n3trace tracing benchmarks: {N:,} iterations, {ROUNDS} interleaved rounds, "
          f"thread CPU time, Python {sys.version.split()[0]}, cores: {core.available()}")
    main_core = "c" if "c" in core.available() else "python"
    with tempfile.TemporaryDirectory() as tmp:
        pairs = measure_pairs(tmp, main_core)
        print(f"\nadded ns per call against the plain loop of the same round ({main_core} "
              "core), min / median:")
        for key, value in pairs.items():
            print(f"  {key:52} " + ("not installed" if value is None
                                    else f"{value[0]:8.1f} / {value[1]:8.1f}"))
        proc = process_cpu_pair(tmp, main_core)
        print(f"  {'enter_sync/exit pair, process CPU (writer included)':52} {proc:8.1f}")
        dropped, emitted = drop_share(tmp, main_core)
        results = {name: measure_core(name, tmp) for name in core.available()}
    keys = list(next(iter(results.values())))
    print(f"\n{'figure':44}" + "".join(f"{name:>16}" for name in results))
    for key in keys:
        print(f"{key:44}" + "".join(f"{results[n][key]:16,.1f}" for n in results))
    ours = pairs["enter_sync/exit pair (block, real file)"]
    ours_async = pairs["enter/exit pair (block, real file)"]
    prof = pairs["no-op sys.setprofile callback"]
    viz = pairs["viztracer (warm buffer)"]
    mine = results[main_core]
    print(f"\ntargets ({main_core} core; medians; the pass generates enter_sync for a plain "
          "function, enter for coroutines and generators):")
    rows = [
        ("enter_sync/exit pair added ns <= 100", ours[1], ours[1] <= 100),
        ("pair below a no-op setprofile callback", prof[1] - ours[1], ours[1] < prof[1]),
        ("enter/exit pair (async) added ns <= 180", ours_async[1], ours_async[1] <= 180),
        ("viztracer (warm) / ours", viz[1] / ours[1] if viz else float("nan"), True),
        ("drop policy, hot loop: % dropped < 1", 100 * dropped / emitted,
         dropped < emitted / 100),
        ("bytes/event on disk <= 24.1", mine["bytes per payload-less event"],
         mine["bytes per payload-less event"] <= 24.1),
        ("small-dict payload events/s >= 2M", mine["small-dict payload events/s (caller CPU)"],
         mine["small-dict payload events/s (caller CPU)"] >= 2e6),
        ("reader events/s >= 5M", mine["reader events/s (batches)"],
         mine["reader events/s (batches)"] >= 5e6),
    ]
    for label, value, ok in rows:
        verdict = "(no target)" if label.startswith("viztracer") else (
            "met" if ok else "NOT met")
        print(f"  {label:44} {value:16,.2f}  {verdict}")


if __name__ == "__main__":
    main()
