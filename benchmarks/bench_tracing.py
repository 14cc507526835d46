"""Measure the tracing core against its targets and its peers, side by side in one run.

Run: python -m benchmarks [--quick] tracing. Asserts nothing (timings belong here, never
in the test suite). VizTracer and the OpenTelemetry
SDK come from the `bench` extra and are skipped with a note when missing. Every peer gets
the same interleaved rounds as we do, timed in CPU time of the calling thread; VizTracer's
buffer is filled once before the rounds so page faults do not count against it, and
OpenTelemetry uses the BatchSpanProcessor a user would.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

from n3core.tracing import core, hooks, session
from n3core.tracing.reader import open_trace

N = 400_000
ROUNDS = 7  # every contestant gets the same interleaved rounds
SITES = [{"id": 1, "event_type": "tool_call", "component": "tool", "name": "t"}]
SMALL = {"model": "gpt-4o-mini", "tokens": 42, "temperature": 0.2}
MONITORING = "no-op sys.monitoring callback (PY_START, PY_RETURN)"


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


def _monitored():
    """A no-op `sys.monitoring` callback on every function start and return (3.12+)."""
    mon = sys.monitoring
    tool, events = mon.PROFILER_ID, (mon.events.PY_START, mon.events.PY_RETURN)

    def callback(*args):
        return None

    def setup():
        mon.use_tool_id(tool, "n3trace-bench")
        for event in events:
            mon.register_callback(tool, event, callback)
        mon.set_events(tool, events[0] | events[1])

    def teardown(state):
        mon.set_events(tool, 0)
        for event in events:
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)
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
    """{contestant: [added ns per call in each round]}, against the plain loop of the same
    round; the Python twin's pair runs in the same rounds as the chosen core's."""
    contestants = {
        "plain": _untraced(plain_loop),
        "instrumented, tracing off": _untraced(traced_loop),
        "enter_sync/exit pair (block, real file)": _traced(tmp, name, sync_loop),
        "enter/exit pair (block, real file)": _traced(tmp, name, traced_loop),
        "no-op sys.setprofile callback": _profiled(),
    }
    if name != "python":
        contestants["python twin: enter_sync/exit pair"] = _traced(tmp, "python", sync_loop)
    if hasattr(sys, "monitoring"):
        contestants[MONITORING] = _monitored()
    peers = {"VizTracer (warm buffer)": _viztracer(),
             "OpenTelemetry SDK span (Batch, no-op exporter)": _otel()}
    contestants.update({k: v for k, v in peers.items() if v is not None})
    rounds = {k: [] for k in contestants}
    for _ in range(ROUNDS):
        for key, (setup, fn, teardown, n) in contestants.items():
            state = setup()
            rounds[key].append(cpu_ns(fn, n))
            teardown(state)
    plain = rounds.pop("plain")
    added = {k: [v - p for v, p in zip(vals, plain)] for k, vals in rounds.items()}
    added["plain call"] = plain
    return added


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


def collect(quick: bool) -> list:
    from benchmarks.measure import Stat
    from benchmarks.results import Row

    global N, ROUNDS
    N, ROUNDS = (100_000, 3) if quick else (400_000, 7)
    main_core = "c" if "c" in core.available() else "python"
    area = "Tracing per event"
    with tempfile.TemporaryDirectory() as tmp:
        pairs = {k: Stat.of(v) for k, v in measure_pairs(tmp, main_core).items()}
        proc = process_cpu_pair(tmp, main_core)
        dropped, emitted = drop_share(tmp, main_core)
        per_core = {name: measure_core(name, tmp) for name in core.available()}
    ours = pairs["enter_sync/exit pair (block, real file)"]
    peers = {k: pairs[k] for k in ("python twin: enter_sync/exit pair",
                                   "no-op sys.setprofile callback", MONITORING,
                                   "VizTracer (warm buffer)",
                                   "OpenTelemetry SDK span (Batch, no-op exporter)") if k in pairs}
    prof = pairs["no-op sys.setprofile callback"]
    rows = [
        Row(area, f"enter_sync/exit pair writing a real trace, {main_core} core", "ns added",
            ours, peers, target="≤ 100 ns and below a no-op setprofile callback",
            met=ours.median <= 100 and ours.median < prof.median),
        Row(area, "enter/exit pair (coroutines), real trace", "ns added",
            pairs["enter/exit pair (block, real file)"], target="≤ 180 ns",
            met=pairs["enter/exit pair (block, real file)"].median <= 180),
        Row(area, "instrumented call, tracing off", "ns added", pairs["instrumented, tracing off"]),
        Row(area, "enter_sync/exit pair, process CPU (writer thread included)", "ns added",
            Stat(proc, proc, proc, 1)),
    ]
    share = 100 * dropped / emitted
    rows.append(Row(area, f"drop policy, hot loop of {emitted:,} instants", "% dropped",
                    Stat(share, share, share, 1), target="< 1%", met=share < 1))
    mine = per_core[main_core]
    twin = per_core.get("python") if main_core != "python" else None

    def row(key, unit, better, target="", met=None):
        one = lambda v: Stat(v, v, v, 1)  # noqa: E731
        peer = {"python twin": one(twin[key])} if twin else {}
        rows.append(Row(area, key, unit, one(mine[key]), peer, better, target, met))

    b = mine["bytes per payload-less event"]
    row("bytes per payload-less event", "B", "lower", "≤ 24.1 B", b <= 24.1)
    e = mine["small-dict payload events/s (caller CPU)"]
    row("small-dict payload events/s (caller CPU)", "events/s", "higher", "≥ 2M/s", e >= 2e6)
    row("small-dict encodes/s (encoder alone)", "encodes/s", "higher")
    r = mine["reader events/s (batches)"]
    row("reader events/s (batches)", "events/s", "higher", "≥ 5M/s", r >= 5e6)
    return rows
