"""Perfetto exports checked by a structural validator: what trace_processor needs to load a
Chrome JSON trace and show its tree (no negative ts, slices nested per track, flows paired
and bound to slices), on scripted, killed and real example traces."""
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from analyzer import cli
from n3core.tracing.reader import open_trace
from support.loopback import briefing_api  # noqa: F401 - a fixture
from support.killed_trace import killed_trace
from support.trace_factory import US, Script, research_run
from support.traced_runs import traced_run

EXAMPLES = Path(__file__).parent.parent / "examples"


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=_no_constant, parse_float=Decimal)


def validate(doc) -> list:
    """The problems trace_processor would have with a Chrome JSON trace (empty: none)."""
    problems = []
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        return ["no traceEvents list"]
    slices, flows = {}, {}
    for n, ev in enumerate(events):
        ph = ev.get("ph")
        if ph == "M":
            continue
        ts = ev.get("ts")
        if not isinstance(ts, (int, Decimal)) or ts < 0:
            problems.append(f"event {n} ({ev.get('name')}): ts {ts} is not a number >= 0")
            continue
        track = (ev.get("pid"), ev.get("tid"))
        if ph == "X":
            dur = ev.get("dur")
            if not isinstance(dur, (int, Decimal)) or dur < 0:
                problems.append(f"event {n}: dur {dur} is not a number >= 0")
                continue
            slices.setdefault(track, []).append((ts, ts + dur, n))
        elif ph in ("s", "f", "t"):
            flows.setdefault(ev.get("id"), []).append((ph, ts, track, n))
        elif ph not in ("i", "I", "C"):
            problems.append(f"event {n}: phase {ph!r} is not one this exporter writes")
    for track, rows in slices.items():
        stack = []
        for start, end, n in sorted(rows, key=lambda r: (r[0], -r[1])):
            while stack and start >= stack[-1][1] and not (start == end == stack[-1][1]):
                stack.pop()
            if stack and end > stack[-1][1]:
                problems.append(f"event {n} on track {track} ({start}..{end}) overlaps "
                                f"event {stack[-1][2]} ({stack[-1][0]}..{stack[-1][1]}) "
                                "without nesting in it")
            stack.append((start, end, n))
    for fid, rows in flows.items():
        phases = sorted(ph for ph, *_ in rows)
        if phases != ["f", "s"]:
            problems.append(f"flow {fid}: phases {phases}, expected one 's' and one 'f'")
            continue
        begin = next(r for r in rows if r[0] == "s")
        end = next(r for r in rows if r[0] == "f")
        if end[1] < begin[1]:
            problems.append(f"flow {fid} ends before it starts")
        for ph, ts, track, n in rows:
            if not any(s <= ts <= e for s, e, _ in slices.get(track, ())):
                problems.append(f"flow {fid} '{ph}' at {ts} on track {track} is inside no slice")
    return problems


def export(trace, out, *extra):
    code = cli.main(["export", str(trace), "--to", "perfetto", "-o", str(out), *extra],
                    console=Console(file=io.StringIO()))
    assert code == 0
    return load(out)


def spans_of(doc):
    return [e for e in doc["traceEvents"] if e["ph"] == "X"]


def track_names(doc):
    return {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


# -- the validator itself finds what it is for --------------------------------------

def X(ts, dur, tid=1, name="x"):
    return {"name": name, "ph": "X", "ts": Decimal(ts), "dur": Decimal(dur), "pid": 1, "tid": tid}


def test_the_validator_finds_negative_ts_overlaps_and_unpaired_flows():
    assert validate({"traceEvents": [X(0, 10), X(2, 3), X(5, 5), X(10, 1)]}) == []
    assert "ts -1" in validate({"traceEvents": [X(-1, 10)]})[0]
    assert "overlaps" in validate({"traceEvents": [X(0, 10), X(5, 10)]})[0]
    assert validate({"traceEvents": [X(0, 10, tid=1), X(5, 10, tid=2)]}) == []
    flow = {"name": "p", "ph": "s", "id": 7, "ts": Decimal(1), "pid": 1, "tid": 1}
    assert "phases ['s']" in validate({"traceEvents": [X(0, 10), flow]})[0]
    lost = {**flow, "ph": "f", "tid": 2}
    assert "inside no slice" in validate({"traceEvents": [X(0, 10), flow, lost]})[0]


# -- exports -------------------------------------------------------------------------

def test_timestamps_start_at_the_earliest_span_even_when_it_closes_last(tmp_path):
    script = research_run(turns=3)
    doc = export(script.to_n3t(tmp_path / "r.n3t"), tmp_path / "p.json")
    assert validate(doc) == []
    xs = spans_of(doc)
    chain = next(e for e in xs if e["name"] == "chain_execution research")
    assert chain["ts"] == 0 and min(e["ts"] for e in doc["traceEvents"] if "ts" in e) == 0
    starts = sorted(Decimal(s) / 1000 for _, s, *_ in script.spans)
    assert sorted(e["ts"] for e in xs) == starts
    assert track_names(doc) == {chain["tid"]: "chain_execution research"}


def test_a_filtered_trace_whose_parent_started_before_the_first_record(tmp_path):
    # Only agent and llm spans recorded: the agent starts 120 us before its first llm call
    # closes, which is the first span the old exporter anchored at.
    s = Script()
    agent = s.enter(2)
    s.wait(100 * US)
    s.span(4, 20 * US, {"provider": "openai", "model": "m"}, {"usage": {"prompt_tokens": 1}})
    s.wait(5 * US)
    s.exit(agent)
    doc = export(s.to_n3t(tmp_path / "f.n3t"), tmp_path / "p.json")
    assert validate(doc) == []
    by_name = {e["name"]: e for e in spans_of(doc)}
    assert by_name["agent_execution Researcher"]["ts"] == 0
    assert by_name["llm_call gpt"]["ts"] == Decimal(100)


def test_a_killed_trace_loads_with_its_open_spans_ended_at_the_last_timestamp(tmp_path):
    trace = killed_trace(tmp_path / "killed.n3t")
    with open_trace(trace) as t:
        events = list(t.events())
    started = {e.span for e in events if e.kind.name == "start"}
    ended = {e.span for e in events if e.kind.name in ("end", "error_end")}
    last = max(e.ts for e in events) - min(e.ts for e in events)
    doc = export(trace, tmp_path / "k.json")
    assert validate(doc) == []
    xs = spans_of(doc)
    assert {e["args"]["span"] for e in xs} == started
    still = [e for e in xs if e["args"].get("still_open")]
    assert {e["args"]["span"] for e in still} == started - ended and len(still) >= 2
    assert all(e["ts"] + e["dur"] == Decimal(last) / 1000 for e in still)
    flows = [e for e in doc["traceEvents"] if e["ph"] in ("s", "f")]
    assert len(flows) == 2 * 4  # each step runs on its own task under the chain
    names = track_names(doc)
    assert sorted(names.values()) == ["chain_execution research"] + ["chain_step research"] * 4


RUNS = {
    "research_agent": ("--agent", "ResearchAgent", "--input", "Research quantum error correction"),
    "structured_retry": ("--input", json.dumps({"review": "Great battery life."})),
    "parallel_pipeline": ("--input", json.dumps({"symbol": "N3X", "notes": "meeting at 9"})),
}


@pytest.mark.parametrize("example", sorted(RUNS))
def test_real_example_traces_are_valid_and_keep_every_parent_link(tmp_path, example, request):
    env = {}
    if example == "parallel_pipeline":
        env["BRIEFING_API_URL"] = request.getfixturevalue("briefing_api")
    done, trace = traced_run(tmp_path, EXAMPLES / example / "app.ai", *RUNS[example], env=env)
    assert done.returncode == 0, done.stderr
    doc = export(trace, tmp_path / "p.json")
    assert validate(doc) == []
    xs = spans_of(doc)
    by_span = {e["args"]["span"]: e for e in xs}
    flows = {}
    for e in doc["traceEvents"]:
        if e["ph"] in ("s", "f"):
            flows.setdefault(e["id"], {})[e["ph"]] = e
    crossing = 0
    for e in xs:
        parent = by_span.get(e["args"]["parent"])
        if parent is None or parent["tid"] == e["tid"]:
            assert e["args"]["span"] not in flows
            continue
        crossing += 1
        arrow = flows[e["args"]["span"]]
        assert (arrow["s"]["tid"], arrow["f"]["tid"]) == (parent["tid"], e["tid"])
        assert arrow["s"]["ts"] == arrow["f"]["ts"] == e["ts"]
    if example == "parallel_pipeline":  # its two parallel steps run on their own tasks
        assert crossing == 2
    first = {}
    for e in sorted(xs, key=lambda e: e["ts"]):
        first.setdefault(e["tid"], e["name"])
    assert track_names(doc) == first
    assert not any(name.startswith("task ") for name in track_names(doc).values())
