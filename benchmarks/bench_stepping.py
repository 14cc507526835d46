"""Stepping through a 1M-event record without pauses, side by side with reading it.

The trace (agent turns: llm call with usage, two tool calls) is generated once through
the real writer and cached under /tmp. One run measures, in alternating rounds:
reading the batches alone, stepping with no breakpoint, with a breakpoint whose sites
are an eighth of the events (built and tested, never hit), and with a ReplayEvent built
for every event (what the prefilter avoids). Target: >= 500k events/s through stepping
without pauses. Figures are printed, never asserted.
"""
import io
import os
import sys
import time

EVENTS = int(os.environ.get("N3_BENCH_STEP_EVENTS", 1_000_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
CACHE = f"/tmp/n3-bench-stepping-{EVENTS}.n3t"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SITES = [
    dict(id=2, event_type="agent_turn", component="agent", name="Researcher", file="app.ai",
         line=20, column=1, captures=["turn=number", "return"]),
    dict(id=3, event_type="llm_call", component="llm", name="gpt", file="app.ai", line=3,
         column=1, captures=["model", "return"]),
    dict(id=4, event_type="tool_call", component="tool", name="search", file="app.ai", line=12,
         column=1, captures=["arguments", "return"]),
    dict(id=5, event_type="tool_call", component="tool", name="fetch", file="app.ai", line=13,
         column=1, captures=["arguments", "return"]),
]


def generate(path, events):
    import n3core.tracing.session as s
    from n3core.tracing import hooks

    s.start(path + ".part", SITES, {"install_hooks": False})
    llm_in = {"model": "gpt-4o"}
    llm_out = {"text": "ok", "usage": {"prompt_tokens": 900, "completion_tokens": 120,
                                        "total_tokens": 1020}}
    args = {"arguments": {"q": "tides"}}
    enter, exit_ = hooks.enter, hooks.exit
    n = 0
    while n < events:
        t = enter(2, {"turn": n})
        c = enter(3, llm_in)
        exit_(c, llm_out)
        c = enter(4, args)
        exit_(c, {"output": "hits"})
        c = enter(5, args)
        exit_(c, {"output": "page"})
        exit_(t, None)
        n += 8
    s.stop()
    os.replace(path + ".part", path)


def read_only(path):
    from analyzer.sources import open_source

    n = 0
    with open_source(path) as source:
        for batch in source.batches():
            sites = batch.site
            for i in range(len(batch)):
                sites[i]
            n += len(batch)
    return n


def stepping(path, specs=(), every=False):
    from analyzer.replay import stepping as st
    from analyzer.replay.breakpoints import parse_breakpoints
    from analyzer.replay.debugger import Debugger, DebugIO
    from analyzer.sources import open_source

    with open_source(path) as source:
        catalog = st.catalog_for(source)
        dbg = Debugger(parse_breakpoints(specs, catalog), False,
                       DebugIO.scripted("", io.StringIO()), catalog=catalog)
        if every:
            dbg.watched_sites = lambda: None
        n = st.walk(source, dbg)
    assert dbg.pauses == 0
    return n


def collect(quick: bool) -> list:
    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row

    if not os.path.exists(CACHE):
        generate(CACHE, EVENTS)
    count = read_only(CACHE)
    cases = {"read batches only": lambda: read_only(CACHE),
             "stepping, no breakpoint": lambda: stepping(CACHE),
             "stepping, llm_call_end:tokens>99999 (1/8 built)":
                 lambda: stepping(CACHE, ["llm_call_end:tokens>99999"]),
             "stepping, every event built": lambda: stepping(CACHE, every=True)}
    samples = interleaved(cases, 2 if quick else ROUNDS, clock=time.process_time_ns, warmup=0)
    rate = {k: Stat.of(count * 1e9 / ns for ns in v) for k, v in samples.items()}
    reading = {"reading the trace alone": rate.pop("read batches only")}
    free = "stepping, no breakpoint"  # the target is for stepping without pauses
    return [Row("Replay", f"fallback {name}, {count:,} events", "events/s", stat, reading,
                better="higher", target="≥ 500k/s" if name == free else "",
                met=stat.median >= 500_000 if name == free else None)
            for name, stat in rate.items()]
