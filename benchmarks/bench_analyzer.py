"""Analyzer throughput and memory on a 10-million-event trace, and frozen start-up time.

The trace is generated once through the real writer (compiled core) and cached under
/tmp; generation is bounded by GEN_BUDGET_S. Analysis runs in a child process so its
peak RSS (ru_maxrss) is its own. Targets: 10M events in <= 10 s and <= 300 MB peak RSS;
`dist/n3analyze --help` in <= 1 s. Figures are printed, never asserted.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

EVENTS = int(os.environ.get("N3_BENCH_EVENTS", 10_000_000))
CACHE = f"/tmp/n3analyze-bench-{EVENTS}.n3t"
GEN_BUDGET_S = 600
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SITES = [
    dict(id=1, event_type="agent_execution", component="agent", name="Researcher", file="app.ai", line=20),
    dict(id=2, event_type="agent_turn", component="agent", name="Researcher", file="app.ai", line=20),
    dict(id=3, event_type="llm_call", component="llm", name="gpt", file="app.ai", line=3),
    dict(id=4, event_type="tool_call", component="tool", name="search", file="app.ai", line=12),
    dict(id=5, event_type="tool_call", component="tool", name="fetch", file="app.ai", line=13),
]


def generate(path, events):
    """agent executions of 100 turns; a turn = llm call (model in, usage out) + 2 tool calls."""
    sys.path.insert(0, ROOT)
    import n3core.tracing.session as s

    s.start(path + ".part", SITES, {"install_hooks": False, "chunk_events": 4096})
    start = time.perf_counter()
    n = 0
    llm_in = {"model": "gpt-4o", "provider": "openai"}
    llm_out = {"usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}}
    enter, exit_ = s.enter, s.exit
    while n < events and time.perf_counter() - start < GEN_BUDGET_S:
        agent = enter(1, None)
        for turn in range(100):
            t = enter(2, None)
            c = enter(3, llm_in)
            exit_(c, llm_out)
            c = enter(4, None)
            exit_(c, None)
            c = enter(5, None)
            exit_(c, None)
            exit_(t, None)
        exit_(agent, None)
        n += 802
    s.stop()
    os.replace(path + ".part", path)
    return n, time.perf_counter() - start


def child(path, core):
    sys.path.insert(0, ROOT)
    from analyzer.analysis import analyze
    from analyzer.sources import open_source

    if core:
        os.environ["N3TRACE_CORE"] = core
    t0 = time.perf_counter()
    with open_source(path) as source:
        doc = analyze(source)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{doc['summary']['events']:,} events, {doc['summary']['spans']:,} spans, "
          f"{doc['summary']['total_tokens']:,} tokens: {dt:.2f} s "
          f"({doc['summary']['events'] / dt / 1e6:.2f} M events/s), peak RSS {rss:.0f} MB")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
        return
    if not os.path.exists(CACHE):
        n, dt = generate(CACHE, EVENTS)
        print(f"generated {n:,} events in {dt:.1f} s -> {CACHE}")
    print(f"trace {CACHE}: {os.path.getsize(CACHE) / 1e6:.0f} MB")
    print("analyze (all sections, full pass):", end=" ", flush=True)
    subprocess.run([sys.executable, __file__, "--child", CACHE], check=True)
    exe = os.path.join(ROOT, "dist", "n3analyze")
    if os.path.exists(exe):
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            subprocess.run([exe, "--help"], stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        print(f"dist/n3analyze --help: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f} ms, 7 runs)")
    else:
        print("dist/n3analyze not built (make n3analyze); start-up not measured")


if __name__ == "__main__":
    main()
