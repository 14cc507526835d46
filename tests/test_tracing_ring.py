"""The ring: exact drop and discard counts, and spans that nest across threads and tasks."""
from __future__ import annotations

import asyncio
import collections
import threading

import pytest

from n3core.tracing import core, marker, session, span
from n3core.tracing.format import CHUNK, Kind
from n3core.tracing.reader import open_trace

from support.tracing_cores import SITES, fake_clock, tracing_core  # noqa: F401


def ring_of_ten(name, policy):
    ring = core.ring_module(name)
    return ring.Recorder(5, 4096, 2, policy, max_bytes=1024, clock=fake_clock())


def chunk_counts(data):
    _, _, n, pay, base, seq, dropped = CHUNK.unpack_from(data)
    return n, seq, dropped


def test_drop_policy_counts_every_dropped_event(tracing_core):
    rec = ring_of_ten(tracing_core, 1)
    kept = [rec.emit(1, 3, 0, 0, 1, None if i % 2 else {"i": i}) for i in range(25)]
    assert kept == [True] * 10 + [False] * 15
    assert (rec.events, rec.dropped, rec.discarded) == (10, 15, 0)
    assert chunk_counts(rec.take()) == (5, 0, 0)
    assert rec.emit(1, 3, 0, 0, 1) is True
    assert chunk_counts(rec.take()) == (5, 1, 0)
    assert rec.pending_drops() == 15
    assert rec.take() is None and rec.seal() is True
    assert chunk_counts(rec.take()) == (1, 2, 15) and rec.pending_drops() == 0


def test_flight_recorder_overwrites_oldest_chunks(tracing_core):
    rec = ring_of_ten(tracing_core, 2)
    for i in range(23):
        assert rec.emit(1, 3, i, 0, 1) is True
    rec.seal()
    chunks = rec.peek()
    assert [chunk_counts(c)[:2] for c in chunks] == [(5, 3), (3, 4)]
    assert rec.discarded == 15 and rec.dropped == 0
    assert rec.peek() == chunks


def test_block_policy_loses_nothing(tracing_core):
    taken = []
    ring = core.ring_module(tracing_core)
    rec = ring.Recorder(5, 4096, 2, 0, max_bytes=1024,
                        on_full=lambda: taken.append(rec.take()))
    for i in range(100):
        assert rec.emit(1, 3, i, 0, 1, {"i": i})
    rec.seal()
    taken.extend(iter(rec.take, None))
    assert sum(chunk_counts(c)[0] for c in taken) == 100 and rec.dropped == 0


def test_drop_counts_reach_the_trailer_exactly(tmp_path, tracing_core):
    path = tmp_path / "d.n3t"
    tracer = session.start(path, SITES, {"policy": "drop", "buffer_size": 10,
                                         "chunk_events": 5}, core=tracing_core)
    with tracer._wlock:  # hold the writer off so the ring must overflow
        for i in range(40):
            session.instant(1, {"i": i})
    session.stop()
    with open_trace(path) as trace:
        events = list(trace.events())
    assert trace.report.dropped == 25 and len(events) == 15 and trace.report.lossy
    assert [e.payload["i"] for e in events] == list(range(15))


def _check_nesting(events, tasks_expected):
    starts = {e.span: e for e in events if e.kind == Kind.start}
    ends = {e.span for e in events if e.kind == Kind.end}
    assert set(starts) == ends
    by_task = collections.defaultdict(list)
    for e in starts.values():
        by_task[e.task].append(e)
        if e.site == 2:
            parent = starts[e.parent]
            assert parent.site == 1 and parent.task == e.task
    assert len(by_task) == tasks_expected
    return starts


def test_spans_nest_per_thread(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    session.start(path, SITES, {"chunk_events": 64}, core=tracing_core)
    barrier = threading.Barrier(8)

    def work():
        barrier.wait(10)
        for i in range(200):
            outer = session.enter(1, {"i": i})
            inner = session.enter(2)
            session.instant(3)
            session.exit(inner)
            session.exit(outer)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    session.stop()
    with open_trace(path) as trace:
        events = list(trace.events())
    starts = _check_nesting(events, 8)
    assert len(starts) == 8 * 400
    assert all(e.parent == 0 for e in starts.values() if e.site == 1)


def test_spans_nest_across_asyncio_tasks(tmp_path, tracing_core):
    path = tmp_path / "a.n3t"
    session.start(path, SITES, {}, core=tracing_core)

    async def child(i):
        token = session.enter(1, {"i": i})
        await asyncio.sleep(0)
        inner = session.enter(2)
        await asyncio.sleep(0.001 * (i % 3))
        session.exit(inner)
        session.exit(token)

    async def main():
        root = session.enter(3)
        await asyncio.gather(*(child(i) for i in range(100)))
        session.exit(root)
        return root.span

    root_span = asyncio.run(main())
    session.stop()
    with open_trace(path) as trace:
        events = list(trace.events())
    starts = _check_nesting(events, 101)
    assert all(e.parent == root_span for e in starts.values() if e.site == 1)


def test_user_span_and_marker(tmp_path, tracing_core):
    marker("ignored without a tracer")
    with span("ignored"):
        pass

    @span
    def plain(x):
        marker("inside", x=x)
        return x * 2

    @span("coro", kind="async")
    async def coro():
        await asyncio.sleep(0)
        return 7

    path = tmp_path / "u.n3t"
    session.start(path, SITES, {}, core=tracing_core)
    with span("block", n=1):
        assert plain(3) == 6
    assert asyncio.run(coro()) == 7
    with pytest.raises(KeyError):
        with span("failing"):
            raise KeyError("k")
    session.stop()
    with open_trace(path) as trace:
        events = list(trace.events())
    names = [(e.kind.name, (e.payload or {}).get("name")) for e in events]
    assert names == [("start", "block"), ("start", "test_user_span_and_marker.<locals>.plain"), ("instant", "inside"),
                     ("end", None), ("end", None), ("start", "coro"), ("end", None),
                     ("start", "failing"), ("error_end", None)]
    assert events[1].parent == events[0].span and events[2].parent == events[1].span
    assert events[2].payload == {"name": "inside", "x": 3}
    assert events[5].payload == {"name": "coro", "kind": "async"}
    assert events[-1].payload["type"] == "KeyError"


def test_compiled_clock_tracks_monotonic_and_never_goes_back():
    """With no injected clock the compiled core may read the TSC between CLOCK_MONOTONIC
    anchors; its timestamps must still sit on CLOCK_MONOTONIC and never decrease."""
    import time

    from n3core.tracing.format import RECORD

    if "c" not in core.available():
        pytest.skip("the compiled tracing core is not built on this machine")
    ring = core.ring_module("c")
    rec = ring.Recorder(100_000, 1 << 20, 4, 0, max_bytes=1024)
    assert rec.clock_source in ("tsc", "monotonic")
    bounds = []
    deadline = time.monotonic_ns() + 60_000_000  # long enough to calibrate the TSC rate
    while time.monotonic_ns() < deadline and len(bounds) < 50_000:
        before = time.monotonic_ns()
        rec.emit(1, 3, 0, 0, 1)
        bounds.append((before, time.monotonic_ns()))
        if len(bounds) % 1000 == 0:
            time.sleep(0.002)  # gaps longer than the re-anchoring window
    rec.seal()
    stamps = []
    for data in iter(rec.take, None):
        _, _, n, _, base, _, _ = CHUNK.unpack_from(data)
        stamps += [base + RECORD.unpack_from(data, CHUNK.size + i * RECORD.size)[0]
                   for i in range(n)]
    assert len(stamps) == len(bounds)
    assert all(a <= b for a, b in zip(stamps, stamps[1:]))
    slack = 20_000  # ns: the anchors' bracketing and clamping are far tighter than this
    late = [(ts, lo, hi) for ts, (lo, hi) in zip(stamps, bounds)
            if not lo - slack <= ts <= hi + slack]
    assert not late, late[:5]
