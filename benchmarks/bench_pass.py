"""What instrumentation costs: an agent workload plain, instrumented-off and instrumented-on.

All three builds of one program are loaded into this process (the plain build runs on
`n3core.runtime`, the instrumented one on its private `_n3_runtime` copy) and run in
alternating rounds, so the machine's noise falls on all of them alike. The figures are
ratios to the plain build. Also timed: the pass itself (lines of Python per second) and
`namel3ss build --instrument` of each example, as a user would run it.
"""
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS_PER_ROUND = int(os.environ.get("BENCH_AGENT_RUNS", "1000"))  # two turns each
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))

PROGRAM = '''
llm bench_llm {
  provider: "mock"
  model: "mock-bench"
  responses: [
    { match: "^go", tool_call: { name: "lookup", arguments: { key: "k" } } }
    { match: "found", reply: "done" }
  ]
}
tool lookup {
  type: "mock"
  returns: { value: "found" }
  parameters: { type: "object", properties: { key: { type: "string" } } }
}
agent worker { llm: bench_llm, tools: [lookup], max_turns: 3 }
'''


def load(build_dir):
    from n3instrument.loader import load_build

    return load_build(build_dir)


async def workload(app, runs):
    for _ in range(runs):
        assert await app.run("agent:worker", "go") == "done"


def timed_round(app, runs, trace_path=None):
    from n3core.tracing import session

    if trace_path:
        session.start(str(trace_path), _sites(app), {"install_hooks": False})
    start = time.perf_counter()
    asyncio.run(workload(app, runs))
    elapsed = time.perf_counter() - start
    if trace_path:
        session.stop()
    return elapsed


def _sites(app):
    import json

    return json.loads((Path(app.source).parent / "build-traced" / "sites.json").read_text())["sites"]


def agent_overhead(tmp):
    from n3instrument.build import build

    source = tmp / "bench.ai"
    source.write_text(PROGRAM)
    build(source, tmp / "build-plain")
    build(source, tmp / "build-traced", instrument=True)
    plain, traced = load(tmp / "build-plain"), load(tmp / "build-traced")
    assert type(plain).__module__.startswith("n3core.runtime") and type(traced).__module__.startswith("_n3_runtime")
    times = {"plain": [], "instrumented, tracing off": [], "instrumented, tracing on": []}
    timed_round(plain, 50), timed_round(traced, 50)  # warm up both
    events = 0
    for index in range(ROUNDS):
        times["plain"].append(timed_round(plain, RUNS_PER_ROUND))
        times["instrumented, tracing off"].append(timed_round(traced, RUNS_PER_ROUND))
        trace = tmp / f"round{index}.n3t"
        times["instrumented, tracing on"].append(timed_round(traced, RUNS_PER_ROUND, trace))
        events = _count(trace)
    base = statistics.median(times["plain"])
    turns = RUNS_PER_ROUND * 2
    print(f"agent workload: {turns} turns with {RUNS_PER_ROUND} tool calls per round, {ROUNDS} rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<28} {median * 1e3:8.1f} ms/round  {median / turns * 1e6:7.1f} us/turn"
              f"  ratio {median / base:5.3f}")
    print(f"  events per traced round: {events}")


def _count(path):
    from n3core.tracing.reader import open_trace

    with open_trace(str(path)) as trace:
        return sum(len(batch) for batch in trace.batches())


def pass_speed():
    from n3instrument.frontend import load_source
    from n3instrument.instrument.build_pass import instrument_build
    from n3instrument.instrument.profile import builtin_profile
    from n3instrument.lowering import lower

    program = load_source(PROGRAM, "bench.ai")
    program_py = lower(program)
    files = instrument_build(program, program_py, "", builtin_profile()).files
    lines = sum(text.count("\n") for name, text in files.items() if name.endswith(".py"))
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        instrument_build(program, program_py, "", builtin_profile())
        samples.append(time.perf_counter() - start)
    best = min(samples)
    print(f"the pass: {lines} lines of Python (the runtime copy and program.py) in {best * 1e3:.0f} ms"
          f" = {lines / best:,.0f} lines/s")


def example_builds(tmp):
    namel3ss = os.path.join(os.path.dirname(sys.executable), "namel3ss")
    for source in sorted((ROOT / "examples").glob("*/app.ai")):
        start = time.perf_counter()
        subprocess.run([namel3ss, "build", "--instrument", str(source), "-o", str(tmp / source.parent.name)],
                       check=True, capture_output=True)
        print(f"namel3ss build --instrument {source.parent.name:<20} {time.perf_counter() - start:6.2f} s")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        agent_overhead(tmp)
        pass_speed()
        example_builds(tmp)


if __name__ == "__main__":
    main()
