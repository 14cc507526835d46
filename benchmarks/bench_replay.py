"""What replay costs: a 10,000-event agent run recorded and replayed, side by side.

One instrumented build (a chain of agent runs, each ten tool calls over eleven llm turns
on the mock provider with latency 0) is loaded into this process. In alternating rounds:
- the original run: the build imported and run under a tracer writing its trace;
- its replay: `analyzer.replay.run.replay` end to end (answer book, build, run, report);
- the book and matching alone: reading the answer book, then one `Replayer.answer` per
  recorded boundary, so the per-boundary cost excludes the program's own work;
- stepping through a 1M-event record without pauses (the fallback with no build).
CPU time (process_time), median and min over the rounds. Targets: replay <= 1.5x the
original; book + matching <= 10 us per boundary; stepping >= 500k events/s. `main()`
prints the figures and returns them as a dict; `collect(quick)` gives them as rows of the
results table (`python -m benchmarks`). Never asserted.
"""
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "10000"))
TOOLS = 10  # tool calls per agent run; the agent takes TOOLS + 1 turns
PER_STEP = 2 + 2 + TOOLS * 6 + 4  # chain step, agent, turns with their llm and tool calls


def program(steps: int) -> str:
    """A chain of agent runs; each agent calls tools t1..tN in turn (the mock model asks for
    the next tool when it sees the last one's result), then answers."""
    replies = ['    { match: "^go", tool_call: { name: "t1", arguments: { key: "k" } } }']
    tools = []
    for i in range(1, TOOLS + 1):
        after = (f'tool_call: {{ name: "t{i + 1}", arguments: {{ key: "k{i}" }} }}'
                 if i < TOOLS else 'reply: "done"')
        replies.append(f'    {{ match: "found-{i}\\"", {after} }}')
        tools.append(f'tool t{i} {{\n  type: "mock"\n  returns: {{ value: "found-{i}" }}\n'
                     '  parameters: { type: "object", properties: { key: { type: "string" } } }\n}')
    names = ", ".join(f"t{i}" for i in range(1, TOOLS + 1))
    head = ('llm bench_llm {\n  provider: "mock"\n  model: "mock-bench"\n  latency_ms: 0\n'
            '  responses: [\n' + "\n".join(replies) + '\n  ]\n}\n' + "\n".join(tools)
            + f"\nagent worker {{ llm: bench_llm, tools: [{names}], max_turns: {TOOLS + 2} }}\n")
    rows = "\n".join(f'    {{ name: "s{i}", kind: "agent", target: worker, input: "go" }}'
                     for i in range(steps))
    return head + "chain bench {\n  steps: [\n" + rows + "\n  ]\n}\n"


def build(tmp: Path) -> Path:
    from n3instrument.build import build as compile_build

    source = tmp / "bench.ai"
    source.write_text(program(max(1, EVENTS // PER_STEP)))
    compile_build(source, tmp / "build", instrument=True)
    return tmp / "build"


def original(build_dir: Path, trace: Path) -> int:
    """The run as recorded: the build loaded and run under a tracer; its event count."""
    import json

    from analyzer.replay import loadbuild
    from n3core.tracing import probes, session

    sites = json.loads((build_dir / "sites.json").read_text())["sites"]
    manifest = json.loads((build_dir / "manifest.json").read_text())
    probes.configure_redaction()
    tracer = session.start(str(trace), sites, {"install_hooks": False, "policy": "block"},
                           metadata={k: manifest.get(k) for k in
                                     ("source_path", "sites_sha256", "source_sha256")})
    try:
        app = loadbuild.load(build_dir)
        assert app.run_sync("chain:bench", None) is not None
    finally:
        tracer.stop()
        loadbuild.unload(build_dir)
    return _count(trace)


def _count(path) -> int:
    from n3core.tracing.reader import open_trace

    with open_trace(str(path)) as t:
        return sum(len(b) for b in t.batches())


def replay(trace: Path, build_dir: Path, out: Path):
    from analyzer.replay.run import Options, replay as run_replay

    outcome = run_replay(Options(str(trace), build=str(build_dir), trace_out=str(out)))
    assert outcome.identical and outcome.matched == outcome.boundaries, outcome.departures
    return outcome.matched


class _Token:
    __slots__ = ("site", "span", "parent", "task")

    def __init__(self, site, span):
        self.site, self.span, self.parent, self.task = site, span, 0, 0


def book_and_matching(trace: Path, build_dir: Path) -> tuple:
    """(CPU seconds of reading the book and answering every boundary from it, boundaries).

    Each call's token and request are made before the clock runs: in a replay the tracer
    and the program make them, as they did in the original run, so they are not what
    replay adds. The span path is set from the recorded key, a stand-in for the tracker."""
    import json

    from analyzer.replay import loadbuild
    from analyzer.replay.answers import Runtime
    from analyzer.replay.book import kept_out_of_the_collector
    from analyzer.replay.engine import Replayer
    from analyzer.replay.row import site_rows
    from n3core.tracing.reqhash import FIELD

    rows = site_rows(json.loads((build_dir / "sites.json").read_text())["sites"])
    loadbuild.load(build_dir)
    try:
        runtime = Runtime()
        t0 = time.process_time()
        with kept_out_of_the_collector(str(trace)) as book:  # as `replay` reads it
            spent = time.process_time() - t0
            calls = [(entry.key, _Token(entry.site.id, span), {FIELD: entry.hash})
                     for span, entry in enumerate(book.ordered(), 1)]
            t0 = time.process_time()
            replayer = Replayer(book, runtime, rows)
            paths = replayer.tracker.paths
            answer = replayer.answer
            for key, token, request in calls:
                paths[token.span] = key
                answer(token, request)
            spent += time.process_time() - t0
    finally:
        loadbuild.unload(build_dir)
    assert replayer.matched == len(book.entries) and not replayer.departures
    return spent, len(book.entries)


def fallback_stepping(path: str) -> int:
    from analyzer.replay.debugger import DebugIO
    from analyzer.replay.stepping import step_through

    result = step_through(path, (), False, DebugIO.scripted("", io.StringIO()))
    assert result.pauses == 0
    return result.events


def stepping_trace() -> str:
    from benchmarks import bench_stepping

    if not os.path.exists(bench_stepping.CACHE):
        bench_stepping.generate(bench_stepping.CACHE, bench_stepping.EVENTS)
    return bench_stepping.CACHE


def cpu(fn):
    t0 = time.process_time()
    value = fn()
    return time.process_time() - t0, value


def measure(rounds: int) -> tuple:
    """({contender: [CPU seconds per round]}, events, boundaries, stepped events)."""
    big = stepping_trace()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_dir = build(tmp)
        trace = tmp / "run.n3t"
        original(build_dir, trace)  # warm up: imports, caches
        replay(trace, build_dir, tmp / "warm.replay.n3t")
        times = {"original": [], "replay": [], "book": [], "stepping": []}
        events = boundaries = stepped = 0
        for r in range(rounds):
            spent, events = cpu(lambda: original(build_dir, tmp / f"orig{r}.n3t"))
            times["original"].append(spent)
            spent, _ = cpu(lambda: replay(trace, build_dir, tmp / f"again{r}.n3t"))
            times["replay"].append(spent)
            spent, boundaries = book_and_matching(trace, build_dir)
            times["book"].append(spent)
            spent, stepped = cpu(lambda: fallback_stepping(big))
            times["stepping"].append(spent)
    return times, events, boundaries, stepped


def collect(quick: bool) -> list:
    """Rows for the results table (`python -m benchmarks`)."""
    from benchmarks.measure import Stat
    from benchmarks.results import Row

    times, events, boundaries, stepped = measure(2 if quick else ROUNDS)
    ms = {k: Stat.of(v * 1e3 for v in values) for k, values in times.items()}
    ratio = Stat.of(b / a for a, b in zip(times["original"], times["replay"]))
    book = Stat.of(v / boundaries * 1e6 for v in times["book"])
    rate = Stat.of(stepped / v for v in times["stepping"])
    area = "Replay"
    return [
        Row(area, f"replay of a {events:,}-event agent run", "ms CPU", ms["replay"],
            {"the original run": ms["original"]}),
        Row(area, "replay CPU time / original run's", "ratio", ratio, target="≤ 1.5",
            met=ratio.median <= 1.5),
        Row(area, f"answer book + matching ({boundaries:,} boundaries)", "µs per boundary",
            book, target="≤ 10 µs", met=book.median <= 10),
        Row(area, f"fallback stepping over {stepped:,} events", "events/s", rate,
            better="higher", target="≥ 500k/s", met=rate.median >= 500_000),
    ]


def main() -> dict:
    times, events, boundaries, stepped = measure(ROUNDS)
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    figures = {
        "events": events, "boundaries": boundaries, "rounds": ROUNDS,
        "original_cpu_s": {"median": med["original"], "min": low["original"]},
        "replay_cpu_s": {"median": med["replay"], "min": low["replay"]},
        "replay_ratio": {"median": med["replay"] / med["original"],
                         "min": low["replay"] / low["original"], "target": 1.5},
        "book_us_per_boundary": {"median": med["book"] / boundaries * 1e6,
                                 "min": low["book"] / boundaries * 1e6, "target": 10.0},
        "stepping_events": stepped,
        "stepping_events_per_s": {"median": stepped / med["stepping"],
                                  "min_time": stepped / low["stepping"], "target": 500_000},
    }
    print(f"agent run: {events:,} events, {boundaries:,} boundaries; CPU time over {ROUNDS} "
          "interleaved rounds (median / min)")
    print(f"  original run      {med['original'] * 1e3:8.1f} / {low['original'] * 1e3:8.1f} ms")
    print(f"  replay            {med['replay'] * 1e3:8.1f} / {low['replay'] * 1e3:8.1f} ms   "
          f"x{figures['replay_ratio']['median']:.2f} / x{figures['replay_ratio']['min']:.2f} "
          "of the original (target <= 1.5)")
    print(f"  book + matching   {figures['book_us_per_boundary']['median']:8.2f} / "
          f"{figures['book_us_per_boundary']['min']:8.2f} us per boundary (target <= 10)")
    print(f"  fallback stepping {stepped:,} events: "
          f"{figures['stepping_events_per_s']['median'] / 1e3:,.0f}k / "
          f"{figures['stepping_events_per_s']['min_time'] / 1e3:,.0f}k events/s "
          "(target >= 500k)")
    return figures


if __name__ == "__main__":
    main()
