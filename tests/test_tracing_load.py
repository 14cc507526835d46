"""64 threads and 1,000 asyncio tasks tracing at once, in every policy, on both cores.

Every event is accounted for (the events in the file plus those the trailer says were
dropped or discarded are exactly the events the workload emitted) and every span's
parent is the span that enclosed it. Payloads name where each event came from, so the
expected parent is known without trusting the recorder.
"""
from __future__ import annotations

import asyncio
import threading

import pytest

from n3core.tracing import hooks, session
from n3core.tracing.format import Kind
from n3core.tracing.reader import open_trace

from support.tracing_cores import SITES, tracing_core  # noqa: F401

THREADS, ROUNDS, TASKS = 64, 40, 1000
OUTER, INNER, POINT = 1, 2, 3
PER_ROUND = 5  # outer and inner spans (two events each) and one instant
PER_TASK = 5  # the task's span, a sync span inside it, an instant inside that
EMITTED = THREADS * ROUNDS * PER_ROUND + TASKS * PER_TASK + 2  # and the tasks' root span

POLICIES = {
    "block": {"policy": "block", "buffer_size": 256, "chunk_events": 64},
    "drop": {"policy": "drop", "buffer_size": 64, "chunk_events": 16},
    "flight-recorder": {"policy": "flight-recorder", "buffer_size": 512, "chunk_events": 64},
}


def threads_work(start: threading.Barrier, t: int) -> None:
    start.wait()
    for r in range(ROUNDS):
        outer = hooks.enter_sync(OUTER, {"t": t, "r": r, "at": "outer"})
        inner = hooks.enter(INNER, {"t": t, "r": r, "at": "inner"})
        hooks.instant(POINT, {"t": t, "r": r, "at": "point"})
        hooks.exit(inner)
        hooks.exit(outer)


async def one_task(i: int) -> None:
    token = hooks.enter(INNER, {"task": i, "at": "task"})
    await asyncio.sleep(0)
    sync = hooks.enter_sync(OUTER, {"task": i, "at": "sync"})
    hooks.instant(POINT, {"task": i, "at": "point"})
    hooks.exit(sync)
    await asyncio.sleep(0)
    hooks.exit(token)


async def tasks_work() -> None:
    root = hooks.enter(OUTER, {"at": "root"})
    await asyncio.gather(*(asyncio.create_task(one_task(i)) for i in range(TASKS)))
    hooks.exit(root)


def run_load(path, core, config) -> None:
    session.start(str(path), SITES, {**config, "install_hooks": False}, core=core)
    start = threading.Barrier(THREADS + 1)
    workers = [threading.Thread(target=threads_work, args=(start, t)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    start.wait()
    asyncio.run(tasks_work())
    for worker in workers:
        worker.join(60)
    assert not any(w.is_alive() for w in workers)
    session.stop()


def key(payload) -> tuple:
    return tuple(sorted(payload.items()))


def check_nesting(events) -> int:
    """Assert each present span's parent; return how many parent links were checked."""
    starts = {}
    for ev in events:
        if ev.kind == Kind.start:
            starts[key(ev.payload)] = ev
    checked = 0

    def parent_of(ev, want, same_task=True):
        nonlocal checked
        enclosing = starts.get(key(want))
        if enclosing is not None:
            assert ev.parent == enclosing.span, (ev.payload, want)
            assert (ev.task == enclosing.task) == same_task, "a task is its own task"
            checked += 1

    by_span = {}
    for ev in events:
        p = ev.payload
        if ev.kind == Kind.start:
            assert ev.span not in by_span, "span ids are unique"
            by_span[ev.span] = ev
        if ev.kind in (Kind.end, Kind.error_end):
            begun = by_span.get(ev.span)
            if begun is not None:
                assert (ev.parent, ev.task, ev.site) == (begun.parent, begun.task, begun.site)
            continue
        at = p["at"]
        if "t" in p:
            if at == "outer":
                assert ev.parent == 0, "a new thread starts at the root"
            elif at == "inner":
                parent_of(ev, {"t": p["t"], "r": p["r"], "at": "outer"})
            else:
                parent_of(ev, {"t": p["t"], "r": p["r"], "at": "inner"})
        elif at == "task":
            parent_of(ev, {"at": "root"}, same_task=False)
        elif at == "sync":
            parent_of(ev, {"task": p["task"], "at": "task"})
        elif at == "point":
            parent_of(ev, {"task": p["task"], "at": "sync"})
    return checked


@pytest.mark.parametrize("policy", list(POLICIES))
def test_threads_and_tasks_every_event_counted_and_nested(tmp_path, tracing_core, policy):
    path = tmp_path / f"{policy}.n3t"
    run_load(path, tracing_core, POLICIES[policy])
    with open_trace(str(path)) as trace:
        events = list(trace.events())
    report = trace.report
    assert report.complete and not report.damaged, report.damage
    assert len(events) + report.dropped + report.discarded == EMITTED
    if policy == "block":
        assert report.dropped == report.discarded == 0 and len(events) == EMITTED
    elif policy == "drop":
        assert report.discarded == 0 and report.dropped == report.dropped_seen
    else:
        assert report.dropped == 0 and report.discarded > 0 and len(events) <= 512 + 64
    checked = check_nesting(events)
    if policy == "block":
        assert checked >= len(events) // 3
