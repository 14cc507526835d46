"""Analyzer throughput and peak memory on 1M- and 10M-event traces, both cores on 1M.

The traces are generated once through the real writer (compiled core) and cached under
/tmp; generation is bounded by GEN_BUDGET_S. Each analysis runs in a fresh child process,
so its peak RSS (ru_maxrss) is its own, and is timed in CPU time. Targets: 10M events in
<= 4 s and <= 200 MB peak RSS.
"""
import os
import resource
import subprocess
import sys
import time

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
    from n3core.tracing import hooks

    s.start(path + ".part", SITES, {"install_hooks": False, "chunk_events": 4096})
    start = time.perf_counter()
    n = 0
    llm_in = {"model": "gpt-4o", "provider": "openai"}
    llm_out = {"usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}}
    enter, exit_ = hooks.enter, hooks.exit
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
    """Analyze `path` in this fresh process; print seconds, events and peak RSS as JSON."""
    import json

    sys.path.insert(0, ROOT)
    if core:
        os.environ["N3ANALYZE_CORE"] = os.environ["N3TRACE_CORE"] = core
    from analyzer.analysis import analyze
    from analyzer.sources import open_source

    t0 = time.process_time()
    with open_source(path) as source:
        doc = analyze(source)
    dt = time.process_time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": dt, "events": doc["summary"]["events"], "rss_mb": rss}))


def _analyze_in_child(path, core) -> dict:
    import json

    done = subprocess.run([sys.executable, __file__, "--child", path, core], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


def collect(quick: bool) -> list:
    from benchmarks.measure import Stat
    from benchmarks.results import Row

    rows = []
    for events in (1_000_000,) if quick else (1_000_000, 10_000_000):
        path = f"/tmp/n3analyze-bench-{events}.n3t"
        if not os.path.exists(path):
            generate(path, events)
        cores = ("c", "python") if events <= 1_000_000 else ("c",)
        rounds = 1 if quick or events > 1_000_000 else 3
        runs = {core: [_analyze_in_child(path, core) for _ in range(rounds)] for core in cores}
        rate = {core: Stat.of(r["events"] / r["seconds"] for r in rs) for core, rs in runs.items()}
        rss = {core: Stat.of(r["rss_mb"] for r in rs) for core, rs in runs.items()}
        secs = Stat.of(r["seconds"] for r in runs["c"])
        label = f"{events // 1_000_000}M events"
        twin = lambda d: {"Python twin": d["python"]} if "python" in d else {}  # noqa: E731
        big = events >= 10_000_000
        rows += [Row("Analyzer", f"analyze, {label}", "events/s (CPU)", rate["c"], twin(rate),
                     better="higher"),
                 Row("Analyzer", f"analyze, {label}", "s CPU", secs,
                     target="≤ 4 s" if big else "", met=secs.median <= 4 if big else None),
                 Row("Analyzer", f"analyze, {label}, peak RSS", "MB", rss["c"], twin(rss),
                     target="≤ 200 MB" if big else "",
                     met=rss["c"].median <= 200 if big else None)]
    return rows


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
