"""The ring: exact drop and discard counts, and spans that nest across threads and tasks."""
from __future__ import annotations

import asyncio
import collections
import os
import threading

import pytest

from n3core.tracing import core, hooks, marker, session, span
from n3core.tracing.format import (CHUNK, KIND_INSTANT, POLICY_BLOCK, POLICY_DROP, POLICY_FLIGHT,
                                   Kind)
from n3core.tracing.reader import open_trace

from support.tracing_cores import SITES, fake_clock, tracing_core  # noqa: F401


def ring_of_ten(name, policy):
    ring = core.ring_module(name)
    return ring.Recorder(5, 4096, 2, policy, max_bytes=1024, clock=fake_clock())


def chunk_counts(data):
    _, _, n, pay, base, seq, dropped = CHUNK.unpack_from(data)
    return n, seq, dropped


def test_drop_policy_counts_every_dropped_event(tracing_core):
    rec = ring_of_ten(tracing_core, POLICY_DROP)
    kept = [rec.emit(1, KIND_INSTANT, 0, 0, 1, None if i % 2 else {"i": i}) for i in range(25)]
    assert kept == [True] * 10 + [False] * 15
    assert (rec.events, rec.dropped, rec.discarded) == (10, 15, 0)
    assert chunk_counts(rec.take()) == (5, 0, 0)
    assert rec.emit(1, KIND_INSTANT, 0, 0, 1) is True
    assert chunk_counts(rec.take()) == (5, 1, 0)
    assert rec.pending_drops() == 15
    assert rec.take() is None and rec.seal() is True
    assert chunk_counts(rec.take()) == (1, 2, 15) and rec.pending_drops() == 0


def test_flight_recorder_overwrites_oldest_chunks(tracing_core):
    rec = ring_of_ten(tracing_core, POLICY_FLIGHT)
    for i in range(23):
        assert rec.emit(1, KIND_INSTANT, i, 0, 1) is True
    rec.seal()
    chunks = rec.peek()
    assert [chunk_counts(c)[:2] for c in chunks] == [(5, 3), (3, 4)]
    assert rec.discarded == 15 and rec.dropped == 0
    assert rec.peek() == chunks


def test_block_policy_loses_nothing(tracing_core):
    taken = []
    ring = core.ring_module(tracing_core)
    rec = ring.Recorder(5, 4096, 2, POLICY_BLOCK, max_bytes=1024,
                        on_full=lambda: taken.append(rec.take()))
    for i in range(100):
        assert rec.emit(1, KIND_INSTANT, i, 0, 1, {"i": i})
    rec.seal()
    taken.extend(iter(rec.take, None))
    assert sum(chunk_counts(c)[0] for c in taken) == 100 and rec.dropped == 0


class StuckDisk:
    """A trace written into a FIFO that is full and not read until `release()`: the
    writer thread is stuck on its first chunk, as on a disk that cannot keep up."""

    def __init__(self, tmp_path, tracing_core, policy):
        fifo = tmp_path / f"{policy}.fifo"
        os.mkfifo(fifo)
        self.reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.tracer = session.start(str(fifo), SITES, {"policy": policy, "buffer_size": 10,
                                                       "chunk_events": 5}, core=tracing_core)
        self.header = os.read(self.reader, 1 << 20)
        assert self.header.startswith(b"N3TRACE")
        stuffer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        self.junk = 0
        try:
            for _ in range(1 << 20):
                self.junk += os.write(stuffer, b"\0" * 4096)
        except BlockingIOError:
            pass
        os.close(stuffer)
        self.received = []
        self.drain = threading.Thread(target=self._read)

    def _read(self):
        os.set_blocking(self.reader, True)
        self.received.extend(iter(lambda: os.read(self.reader, 1 << 16), b""))

    def release(self, after=0.0):
        self.drain = threading.Timer(after, self._read)
        self.drain.start()

    def trace(self, tmp_path):
        """Stop the tracer and read back what reached the FIFO, less the stuffing."""
        session.stop()
        self.drain.join(30)
        os.close(self.reader)
        body = b"".join(self.received)
        assert body[:self.junk] == b"\0" * self.junk
        path = tmp_path / "read.n3t"
        path.write_bytes(self.header + body[self.junk:])
        with open_trace(path) as trace:
            events = list(trace.events())
        assert trace.report.complete and not trace.report.damaged, trace.report.damage
        return trace.report, events


def test_drop_counts_reach_the_trailer_exactly(tmp_path, tracing_core):
    disk = StuckDisk(tmp_path, tracing_core, "drop")
    for i in range(40):
        hooks.instant(1, {"i": i})
    disk.release()
    report, events = disk.trace(tmp_path)
    assert report.dropped == report.dropped_seen == 25 and len(events) == 15 and report.lossy
    assert [e.payload["i"] for e in events] == list(range(15))
    assert disk.tracer.stats["dropped"] == 25


def test_block_waits_for_the_disk_and_the_trailer_counts_it(tmp_path, tracing_core):
    disk = StuckDisk(tmp_path, tracing_core, "block")
    disk.release(after=0.3)  # three slots hold 15 events: the 16th waits for this
    for i in range(40):
        hooks.instant(1, {"i": i})
    report, events = disk.trace(tmp_path)
    assert [e.payload["i"] for e in events] == list(range(40)) and report.dropped == 0
    assert report.block_waits >= 1 and report.block_wait_ns > 0
    assert disk.tracer.stats["block_waits"] == report.block_waits


def _on_eight_threads(work, seconds: float) -> None:
    """Run `work` on eight threads at once; each join waits at most `seconds`."""
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds)


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
            outer = hooks.enter(1, {"i": i})
            inner = hooks.enter(2)
            hooks.instant(3)
            hooks.exit(inner)
            hooks.exit(outer)

    _on_eight_threads(work, 30)
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
        token = hooks.enter(1, {"i": i})
        await asyncio.sleep(0)
        inner = hooks.enter(2)
        await asyncio.sleep(0.001 * (i % 3))
        hooks.exit(inner)
        hooks.exit(token)

    async def main():
        root = hooks.enter(3)
        await asyncio.gather(*(child(i) for i in range(100)))
        hooks.exit(root)
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
    rec = ring.Recorder(100_000, 1 << 20, 4, POLICY_BLOCK, max_bytes=1024)
    assert rec.clock_source in ("tsc", "monotonic")
    bounds = []
    deadline = time.monotonic_ns() + 60_000_000  # long enough to calibrate the TSC rate
    while time.monotonic_ns() < deadline and len(bounds) < 50_000:
        before = time.monotonic_ns()
        rec.emit(1, KIND_INSTANT, 0, 0, 1)
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


# ---- sync spans (enter_sync): parents kept on the context's frame, not in the variable ----

def _read(path):
    with open_trace(path) as trace:
        return list(trace.events())


def _named(events):
    """Check every start has one end, and give each event's name and its parent's name
    (payload "n"; "ROOT" for a parent of 0) with the task check: a child runs in its
    parent's task unless it is the first span of a new task."""
    starts = {e.span: e for e in events if e.kind == Kind.start}
    ended = [e.span for e in events if e.kind in (Kind.end, Kind.error_end)]
    assert sorted(ended) == sorted(starts), "every span opened once and closed once"
    pairs = []
    for e in events:
        if e.kind in (Kind.start, Kind.instant):
            parent = starts[e.parent].payload["n"] if e.parent else "ROOT"
            pairs.append((e.payload["n"], parent))
    return starts, pairs


def test_sync_spans_nest_inside_async_spans_inside_tasks_on_threads(tmp_path, tracing_core):
    path = tmp_path / "sync-async.n3t"
    session.start(path, SITES, {"chunk_events": 64}, core=tracing_core)
    barrier = threading.Barrier(8)

    async def task(i):
        a = hooks.enter(1, {"n": "task"})
        await asyncio.sleep(0)
        s = hooks.enter_sync(2, {"n": "sync"})
        inner = hooks.enter_sync(2, {"n": "inner"})
        hooks.instant(3, {"n": "in-inner"})
        hooks.exit(inner)
        hooks.instant(3, {"n": "in-sync"})
        hooks.exit(s)
        await asyncio.sleep(0.001 * (i % 3))
        s = hooks.enter_sync(2, {"n": "sync"})
        hooks.exit(s)
        hooks.instant(3, {"n": "in-task"})
        hooks.exit(a)

    async def main():
        root = hooks.enter(1, {"n": "main"})
        s = hooks.enter_sync(2, {"n": "main-sync"})
        hooks.exit(s)
        await asyncio.gather(*(task(i) for i in range(6)))
        hooks.exit(root)

    def work():
        barrier.wait(10)
        for _ in range(3):
            asyncio.run(main())

    _on_eight_threads(work, 60)
    session.stop()
    events = _read(path)
    starts, pairs = _named(events)
    expected = {"main": "ROOT", "main-sync": "main", "task": "main", "sync": "task",
                "inner": "sync", "in-inner": "inner", "in-sync": "sync", "in-task": "task"}
    assert all(expected[name] == parent for name, parent in pairs), \
        collections.Counter(p for p in pairs if expected[p[0]] != p[1])
    counts = collections.Counter(name for name, _ in pairs)
    assert counts["task"] == 8 * 3 * 6 and counts["sync"] == 2 * counts["task"]
    assert counts["inner"] == counts["in-inner"] == counts["in-task"] == counts["task"]
    for e in starts.values():  # a sync span runs in its parent's task
        if e.payload["n"] in ("sync", "inner", "main-sync"):
            assert starts[e.parent].task == e.task
        if e.payload["n"] == "task":
            assert starts[e.parent].task != e.task
    assert len({e.task for e in starts.values()}) == 8 * 3 * 7


def test_spans_and_instants_inside_sync_spans(tmp_path, tracing_core):
    path = tmp_path / "sync-plain.n3t"
    session.start(path, SITES, {}, core=tracing_core)
    s = hooks.enter_sync(1, {"n": "sync"})
    hooks.instant(3, {"n": "i-sync"})
    a = hooks.enter(2, {"n": "async-in-sync"})
    hooks.instant(3, {"n": "i-async"})
    t = hooks.enter_sync(1, {"n": "sync-in-async"})
    hooks.instant(3, {"n": "i-sync-in-async"})
    hooks.exit(t)
    hooks.exit(a)
    hooks.instant(3, {"n": "i-sync-again"})
    hooks.exit(s)
    hooks.instant(3, {"n": "i-top"})
    session.stop()
    _, pairs = _named(_read(path))
    assert pairs == [("sync", "ROOT"), ("i-sync", "sync"), ("async-in-sync", "sync"),
                     ("i-async", "async-in-sync"), ("sync-in-async", "async-in-sync"),
                     ("i-sync-in-async", "sync-in-async"), ("i-sync-again", "sync"),
                     ("i-top", "ROOT")]


def test_a_task_created_inside_a_sync_span_is_a_child_of_the_enclosing_open_span(
        tmp_path, tracing_core):
    """Documented: the task first runs after the sync span closed, so its parent is the
    nearest enclosing span still open."""
    path = tmp_path / "sync-task.n3t"
    session.start(path, SITES, {}, core=tracing_core)

    async def child():
        hooks.instant(3, {"n": "child-first"})
        c = hooks.enter(2, {"n": "child"})
        s = hooks.enter_sync(1, {"n": "child-sync"})
        hooks.exit(s)
        hooks.exit(c)

    async def main():
        a = hooks.enter(1, {"n": "outer"})
        s = hooks.enter_sync(1, {"n": "sync"})
        task = asyncio.get_running_loop().create_task(child())
        hooks.exit(s)
        await task
        hooks.exit(a)

    asyncio.run(main())
    session.stop()
    starts, pairs = _named(_read(path))
    assert pairs == [("outer", "ROOT"), ("sync", "outer"), ("child-first", "outer"),
                     ("child", "outer"), ("child-sync", "child")]
    outer = next(e for e in starts.values() if e.payload["n"] == "outer")
    child_span = next(e for e in starts.values() if e.payload["n"] == "child")
    assert child_span.task != outer.task


def test_generators_consumed_across_sync_spans(tmp_path, tracing_core):
    path = tmp_path / "sync-gen.n3t"
    session.start(path, SITES, {}, core=tracing_core)

    def gen():
        g = hooks.enter(2, {"n": "gen"})
        try:
            for i in range(3):
                s = hooks.enter_sync(1, {"n": f"gen-sync-{i}"})
                hooks.exit(s)
                yield i
        finally:
            hooks.exit(g)

    c1 = hooks.enter_sync(1, {"n": "consumer-1"})
    it = gen()
    assert next(it) == 0
    hooks.instant(3, {"n": "i-c1"})
    hooks.exit(c1)
    hooks.instant(3, {"n": "i-between"})
    c2 = hooks.enter_sync(1, {"n": "consumer-2"})
    assert next(it) == 1
    hooks.exit(c2)
    assert list(it) == [2]
    hooks.instant(3, {"n": "i-after"})
    c3 = hooks.enter_sync(1, {"n": "consumer-3"})
    hooks.exit(c3)
    session.stop()
    _, pairs = _named(_read(path))
    # As when every span set the context variable: the generator's span encloses what
    # its consumer does until the span around the first next() closes.
    assert pairs == [("consumer-1", "ROOT"), ("gen", "consumer-1"), ("gen-sync-0", "gen"),
                     ("i-c1", "gen"), ("i-between", "ROOT"), ("consumer-2", "ROOT"),
                     ("gen-sync-1", "consumer-2"), ("gen-sync-2", "ROOT"),
                     ("i-after", "ROOT"), ("consumer-3", "ROOT")]


def test_exceptions_through_sync_spans(tmp_path, tracing_core):
    path = tmp_path / "sync-fail.n3t"
    session.start(path, SITES, {}, core=tracing_core)

    def traced(name, body):
        t = hooks.enter_sync(1, {"n": name})
        try:
            result = body()
        except BaseException as exc:
            session.fail(t, exc)
            raise
        hooks.exit(t)
        return result

    def boom():
        hooks.instant(3, {"n": "before-boom"})
        raise KeyError("k")

    with pytest.raises(KeyError):
        traced("outer", lambda: traced("middle", lambda: traced("inner", boom)))
    hooks.instant(3, {"n": "after"})
    assert traced("again", lambda: 5) == 5
    session.stop()
    events = _read(path)
    _, pairs = _named(events)
    assert pairs == [("outer", "ROOT"), ("middle", "outer"), ("inner", "middle"),
                     ("before-boom", "inner"), ("after", "ROOT"), ("again", "ROOT")]
    ends = [e for e in events if e.kind in (Kind.end, Kind.error_end)]
    assert [e.kind for e in ends] == [Kind.error_end] * 3 + [Kind.end]
    assert all(e.payload["type"] == "KeyError" for e in ends[:3])


def test_sync_spans_closed_out_of_order_or_after_their_holder(tmp_path, tracing_core):
    path = tmp_path / "sync-stale.n3t"
    session.start(path, SITES, {}, core=tracing_core)
    # an inner sync span left open: closing the outer one takes it off too
    outer = hooks.enter_sync(1, {"n": "outer"})
    leaked = hooks.enter_sync(1, {"n": "leaked"})
    hooks.exit(outer)
    hooks.instant(3, {"n": "i-1"})
    hooks.exit(leaked)  # still ends, changes nothing
    hooks.instant(3, {"n": "i-2"})
    # the async span holding a sync span closes first
    a = hooks.enter(2, {"n": "holder"})
    s = hooks.enter_sync(1, {"n": "held"})
    hooks.exit(a)
    hooks.instant(3, {"n": "i-3"})
    t = hooks.enter_sync(1, {"n": "next"})
    hooks.exit(t)
    hooks.exit(s)
    hooks.instant(3, {"n": "i-4"})
    hooks.exit(s)  # a second exit is ignored
    session.stop()
    _, pairs = _named(_read(path))
    assert pairs == [("outer", "ROOT"), ("leaked", "outer"), ("i-1", "ROOT"),
                     ("i-2", "ROOT"), ("holder", "ROOT"), ("held", "holder"),
                     ("i-3", "ROOT"), ("next", "ROOT"), ("i-4", "ROOT")]


def test_sync_span_from_a_previous_tracer_is_left_out(tmp_path, tracing_core):
    first, second = tmp_path / "first.n3t", tmp_path / "second.n3t"
    session.start(first, SITES, {}, core=tracing_core)
    old = hooks.enter_sync(1, {"n": "old"})
    session.stop()
    session.start(second, SITES, {}, core=tracing_core)
    hooks.instant(3, {"n": "i-new"})
    new = hooks.enter_sync(1, {"n": "new"})
    hooks.exit(old)  # from the previous tracer: not written, the new chain intact
    hooks.instant(3, {"n": "i-in-new"})
    hooks.exit(new)
    hooks.instant(3, {"n": "i-end"})
    session.stop()
    _, pairs = _named(_read(second))
    assert pairs == [("i-new", "ROOT"), ("new", "ROOT"), ("i-in-new", "new"), ("i-end", "ROOT")]
    assert [e.kind for e in _read(first)] == [Kind.start]


def test_sync_spans_write_the_same_bytes_in_both_cores(tmp_path):
    if "c" not in core.available():
        pytest.skip("the compiled tracing core is not built on this machine")
    outputs = []
    for name in ("c", "python"):
        path = tmp_path / f"same-{name}.n3t"
        session.start(path, SITES, {}, core=name, clock=fake_clock(), wall_clock=lambda: 0,
                      run_id="r", metadata={"argv": [], "pid": 0, "python": "x"})

        async def child(i):
            s = hooks.enter_sync(2, {"i": i})
            inner = hooks.enter_sync(2)
            hooks.instant(3)
            hooks.exit(inner)
            hooks.instant(3)
            hooks.exit(s)
            await asyncio.sleep(0)
            a = hooks.enter(1)
            hooks.exit(hooks.enter_sync(2))
            hooks.exit(a)

        async def main():
            a = hooks.enter(1)
            s = hooks.enter_sync(2)
            tasks = [asyncio.get_running_loop().create_task(child(i)) for i in range(3)]
            hooks.exit(s)
            await asyncio.gather(*tasks)
            hooks.exit(a)

        asyncio.run(main())
        session.stop()
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
