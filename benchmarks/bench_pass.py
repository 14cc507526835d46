"""What instrumentation costs on an agent whose conversations grow, and what peers cost.

All builds of one program are loaded into this process (the plain build runs on
`n3core.runtime`, the instrumented one on its private `_n3_runtime` copy) and run in
interleaved rounds of about BENCH_ROUND_S seconds of CPU time each, so the machine's noise
falls on all of them alike and a 5% difference is resolved. Each run is one agent
conversation of BENCH_TURNS turns (a turn: an llm call that asks for a tool, and the tool),
so every llm request carries the whole history so far. Every conversation has a first
message of its own, as real ones differ, so none is recorded as a repeat of another's
bytes. Peers run the plain build in the same rounds: VizTracer (one preallocated buffer,
warmed before timing, cleared outside the timed part) and OpenTelemetry SDK spans at the
same six points per turn (agent turn, llm call, tool call; BatchSpanProcessor with a no-op
exporter, as a user would run it). Figures are min and median over the rounds; ratios are
to the plain build's median. Also measured: trace bytes per turn at 5, 20 and 50 turns,
the pass itself (lines of Python per second) and `namel3ss build --instrument` of each
example, as a user would run it.
"""
import asyncio
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TURNS = int(os.environ.get("BENCH_TURNS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
ROUND_S = float(os.environ.get("BENCH_ROUND_S", "1.0"))
SIZE_TURNS = (5, 20, 50)


def program(turns: int) -> str:
    """An agent that asks for a tool turns - 1 times, then answers: `turns` llm calls."""
    return f'''
llm bench_llm {{
  provider: "mock"
  model: "mock-bench"
  responses: [
    {{ match: "step {turns - 1}$", reply: "done" }}
    {{ match: "step|^go", tool_call: {{ name: "lookup", arguments: {{ key: "k" }} }} }}
  ]
}}
tool lookup {{
  type: "python"
  function: "steps{turns}:lookup"
  description: "Looks a key up and says which step it is"
  parameters: {{ type: "object", properties: {{ key: {{ type: "string" }} }} }}
}}
agent worker {{ llm: bench_llm, tools: [lookup], max_turns: {turns + 2} }}
'''


def tool_module(turns: int) -> str:
    return f'''N = 0


async def lookup(key):
    """A 200-character result naming the step; the count starts again after the last.
    A coroutine, so the runtime awaits it rather than hand it to a worker thread."""
    global N
    N = N + 1 if N + 1 < {turns - 1} else 0
    return "value of " + key + ": " + "x" * 180 + " step " + str(N or {turns - 1})
'''


def load(build_dir):
    from n3instrument.loader import load_build

    return load_build(build_dir)


def make_builds(tmp, turns):
    from n3instrument.build import build

    folder = tmp / f"turns{turns}"
    folder.mkdir()
    source = folder / "bench.ai"
    source.write_text(program(turns))
    (folder / f"steps{turns}.py").write_text(tool_module(turns))
    build(source, folder / "build-plain")
    build(source, folder / "build-traced", instrument=True)
    return folder


async def workload(app, runs):
    """`runs` conversations, each its own: a first message no other has, so no request of
    one repeats another's bytes (which the trace would refer to instead of recording)."""
    for _ in range(runs):
        assert await app.run("agent:worker", f"go {next(_CONVERSATIONS)}") == "done"


_CONVERSATIONS = itertools.count()


def _sites(folder):
    import json

    return json.loads((folder / "build-traced" / "sites.json").read_text())["sites"]


def cpu_round(app, runs, before=None, after=None):
    """CPU seconds of `runs` conversations, with `before`/`after` around the timed part."""
    if before:
        before()
    start = time.process_time()
    asyncio.run(workload(app, runs))
    elapsed = time.process_time() - start
    if after:
        after()
    return elapsed


class Otel:
    """OpenTelemetry spans around the plain runtime's turn, llm call and tool call."""

    def __init__(self):
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class NoOp(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

            def shutdown(self):
                return None

        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(NoOp()))
        self.tracer = self.provider.get_tracer("bench")
        from n3core.runtime.agent import Agent
        from n3core.runtime.llm import LLM
        from n3core.runtime.tools import Tool

        self.targets = [(Agent, "turn"), (LLM, "complete"), (Tool, "call")]
        self.originals = [getattr(cls, name) for cls, name in self.targets]

    def wrap(self, original, name):
        tracer = self.tracer

        async def traced(self_, *args, **kwargs):
            with tracer.start_as_current_span(name) as span:
                span.set_attribute("n3.component", getattr(self_, "name", ""))
                return await original(self_, *args, **kwargs)

        return traced

    def on(self):
        for (cls, name), original in zip(self.targets, self.originals):
            setattr(cls, name, self.wrap(original, name))

    def off(self):
        for (cls, name), original in zip(self.targets, self.originals):
            setattr(cls, name, original)
        self.provider.force_flush()


def peers():
    """(name, before, after) for each peer that is installed."""
    found = []
    try:
        from viztracer import VizTracer

        viz = VizTracer(tracer_entries=4_000_000, verbose=0)
        found.append(("VizTracer (plain build)", viz.start, lambda: (viz.stop(), viz.clear())))
    except ImportError:
        print("note: viztracer is not installed (pip install '.[bench]')", file=sys.stderr)
    try:
        otel = Otel()
        found.append(("OpenTelemetry spans, Batch processor (plain build)", otel.on, otel.off))
    except ImportError:
        print("note: opentelemetry-sdk is not installed (pip install '.[bench]')", file=sys.stderr)
    return found


def agent_overhead(tmp, rounds, round_s):
    """({variant: [CPU seconds per round]}, turns per round)."""
    from n3core.tracing import session

    folder = make_builds(tmp, TURNS)
    plain, traced = load(folder / "build-plain"), load(folder / "build-traced")
    assert type(plain).__module__.startswith("n3core.runtime") and type(traced).__module__.startswith("_n3_runtime")
    sites = _sites(folder)
    trace = tmp / "round.n3t"

    def start():
        session.start(str(trace), sites, {"install_hooks": False})

    variants = [("plain", plain, None, None), ("instrumented, tracing off", traced, None, None),
                ("instrumented, tracing on", traced, start, session.stop)]
    variants += [(name, plain, before, after) for name, before, after in peers()]
    for _, app, before, after in variants:  # warm up every variant, buffers included
        cpu_round(app, 20, before, after)
    runs = max(1, round(20 * round_s / cpu_round(plain, 20)))
    times = {name: [] for name, *_ in variants}
    for _ in range(rounds):
        for name, app, before, after in variants:
            times[name].append(cpu_round(app, runs, before, after))
    return times, runs * TURNS


def viztracer_bytes_per_turn(tmp, conversations=10):
    """Bytes per turn of VizTracer's saved JSON for the 20-turn run on the plain build, or
    None when VizTracer is not installed."""
    try:
        from viztracer import VizTracer
    except ImportError:
        return None
    app = load(tmp / f"turns{TURNS}" / "build-plain")
    out = tmp / "viztracer.json"
    tracer = VizTracer(tracer_entries=4_000_000, verbose=0, output_file=str(out))
    tracer.start()
    asyncio.run(workload(app, conversations))
    tracer.stop()
    tracer.save()
    return out.stat().st_size / (TURNS * conversations)


def bytes_per_turn(tmp, conversations=10) -> dict:
    """{turns: trace bytes per turn} for conversations of 5, 20 and 50 turns (whole file)."""
    from n3core.tracing import session

    figures = {}
    for turns in SIZE_TURNS:
        folder = tmp / f"turns{turns}"
        if not folder.exists():
            make_builds(tmp, turns)
        app = load(folder / "build-traced")
        path = tmp / f"size{turns}.n3t"
        session.start(str(path), _sites(folder), {"install_hooks": False})
        asyncio.run(workload(app, conversations))
        session.stop()
        figures[turns] = path.stat().st_size / (turns * conversations)
    return figures


def pass_speed(rounds: int = 5) -> tuple:
    """(lines of Python the pass rewrites, [seconds per run])."""
    from n3instrument.frontend import load_source
    from n3instrument.instrument.build_pass import instrument_build
    from n3instrument.instrument.profile import builtin_profile
    from n3instrument.lowering import lower

    parsed = load_source(program(TURNS), "bench.ai")
    program_py = lower(parsed)
    files = instrument_build(parsed, program_py, "", builtin_profile()).files
    lines = sum(text.count("\n") for name, text in files.items() if name.endswith(".py"))
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        instrument_build(parsed, program_py, "", builtin_profile())
        samples.append(time.process_time() - start)
    return lines, samples


def collect(quick: bool) -> list:
    from benchmarks.measure import Stat
    from benchmarks.results import Row

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        times, turns = agent_overhead(tmp, 3 if quick else ROUNDS, 0.3 if quick else ROUND_S)
        sizes = bytes_per_turn(tmp, 5 if quick else 10)
        viz = viztracer_bytes_per_turn(tmp, 5 if quick else 10)
    plain = times["plain"]
    ratio = {k: Stat.of(v / p for v, p in zip(vals, plain)) for k, vals in times.items()}
    area = f"Disabled and enabled cost: agent workload, {TURNS}-turn conversations"
    rows.append(Row(area, "instrumented build, tracing off", "× plain build",
                    ratio["instrumented, tracing off"], target="≤ 1.01×",
                    met=ratio["instrumented, tracing off"].median <= 1.01))
    rows.append(Row(area, "instrumented build, tracing on", "× plain build",
                    ratio["instrumented, tracing on"], target="≤ 1.05×",
                    met=ratio["instrumented, tracing on"].median <= 1.05))
    added = {k: Stat.of((v - p) / turns * 1e6 for v, p in zip(vals, plain))
             for k, vals in times.items() if k != "plain"}
    ours = added["instrumented, tracing on"]
    peer_rows = {k: v for k, v in added.items() if k.endswith("(plain build)")}
    rows.append(Row(area, "time added per turn by tracing", "µs CPU", ours, peer_rows,
                    target="VizTracer ≥ 5×, OpenTelemetry ≥ 50× ours"))
    one = lambda v: Stat(v, v, v, 1)  # noqa: E731
    growth = sizes[50] / sizes[5]
    rows.append(Row("Bytes on disk", "trace bytes per turn, 50-turn conversations", "B/turn",
                    one(sizes[50]), {"5 turns": one(sizes[5]), "20 turns": one(sizes[20])},
                    target="≤ 1.3× the 5-turn figure", met=growth <= 1.3))
    if viz is not None:
        rows.append(Row("Bytes on disk", f"trace bytes per turn, {TURNS}-turn conversations",
                        "B/turn", one(sizes[TURNS]),
                        {"VizTracer's JSON of the same run (plain build)": one(viz)}))
    lines, samples = pass_speed(3 if quick else 5)
    rows.append(Row("Front end and pass", f"instrumenting pass, {lines:,} lines of Python",
                    "lines/s", Stat.of(lines / s for s in samples), better="higher"))
    return rows
