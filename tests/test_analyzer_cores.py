"""The compiled analysis core and its Python twin give the same analysis, byte for byte in
JSON, on generated traces: failures, retries, repeated tools, rss, damage, odd batches."""
import json
import os
import random
import subprocess
import sys

import pytest

from analyzer import analysis, passcore
from analyzer.model import END, ERROR_END, INSTANT, START, Health, ListBatch, RunInfo, SiteInfo
from analyzer.sources import open_source
from n3core.corechoice import ALL_CORES_ENV, forced
from support.trace_factory import MS, SITES, US, Script, research_run, sequential_steps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_both = pytest.mark.skipif(set(passcore.available()) != {"c", "python"},
                                reason="the compiled analysis core is not built")
MARKER = dict(id=10, event_type="performance_marker", component="python", name="checkpoint",
              file="app.py", line=5, column=1)
FAR = dict(id=70_000, event_type="llm_call", component="llm", name="far", file="app.ai",
           line=40, column=1)


def both(path, **kw):
    docs = []
    for core in ("c", "python"):
        with open_source(path) as source:
            docs.append(json.dumps(analysis.analyze(source, core=core, **kw)))
    return docs


def random_run(seed: int, spans: int = 600) -> Script:
    """Nested chains, agents, turns, prompts, llm and tool calls with random payloads:
    failures, retried prompts, repeated tool arguments, rss samples, errors, markers."""
    rng = random.Random(seed)
    s = Script()
    budget = [spans]
    models = ["gpt-4o", "gpt-4o-mini", "no-such-model", None]
    args = [{"q": "same"}, {"b": 1, "a": [1, 2]}, None, "text", {"q": "other"}, 3]

    def start_payload(site):
        if site in (4, 8):
            return {"provider": rng.choice(["openai", "mock", None]), "model": rng.choice(models)}
        if site == 5:
            return {"arguments": rng.choice(args)} if rng.random() < 0.9 else None
        if site == 3:
            return {"rss": rng.randint(40, 90) * MS}
        return None

    def end_payload(site):
        if site in (4, 8):
            usage = {"prompt_tokens": rng.randint(0, 900), "completion_tokens": rng.randint(0, 90)}
            if rng.random() < 0.3:
                usage = {"input_tokens": rng.randint(1, 50), "output_tokens": 7.0}
            out = {"usage": usage} if rng.random() < 0.9 else {}
            if rng.random() < 0.3:
                out["cost_estimate"] = rng.choice([0.002, 1, "x"])
            return out
        if site == 6:
            return {"attempts": rng.choice([1, 2, 3, True, "2"])}
        if site in (3, 2) and rng.random() < 0.7:
            return {"rss": rng.randint(40, 90) * MS}
        return None

    def body(depth):
        for _ in range(rng.randint(1, 4)):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            s.wait(rng.randint(0, 40) * US)
            r = rng.random()
            if r < 0.05:
                s.instant(7, {"type": rng.choice(["TimeoutError", None]), "message": "m" * 3})
                continue
            if r < 0.08:
                s.instant(10, {"rss": rng.randint(40, 90) * MS})
                continue
            site = rng.choice([1, 2, 3, 6, 9] if depth < 4 else [4, 5, 8])
            if depth >= 4 or rng.random() < 0.4:
                site = rng.choice([4, 5, 8])
            key = s.enter(site, start_payload(site))
            if site in (1, 2, 3, 6, 9):
                body(depth + 1)
            s.wait(rng.randint(1, 500) * US)
            if rng.random() < 0.1:
                s.exit(key, RuntimeError("boom"), failed=True)
            else:
                s.exit(key, end_payload(site))

    root = s.enter(1)
    while budget[0] > 0:
        body(0)
    s.wait(US)
    s.exit(root)
    return s


@needs_both
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_runs_give_the_same_json(tmp_path, seed):
    path = random_run(seed).to_n3t(tmp_path / "r.n3t", sites=SITES + [MARKER],
                                   config={"chunk_events": 97})
    c, py = both(path)
    assert c == py
    doc = json.loads(c)
    assert doc["summary"]["spans"] > 500 and doc["errors"]["failed_spans"] > 0
    assert doc["memory"]["samples"] > 0 and doc["tokens"]["by_llm"]


@needs_both
@pytest.mark.parametrize("sections", [["performance"], ["errors"], ["memory"], ["summary"],
                                      ["errors", "memory"]])
def test_sections_give_the_same_json(tmp_path, sections):
    path = random_run(5, 300).to_n3t(tmp_path / "r.n3t", sites=SITES + [MARKER],
                                     config={"chunk_events": 50})
    c, py = both(path, sections=sections)
    assert c == py


@needs_both
@pytest.mark.parametrize("fmt", ["n3t", "jsonl"])
def test_research_run_gives_the_same_json(tmp_path, fmt):
    path = getattr(research_run(turns=12), f"to_{fmt}")(tmp_path / f"run.{fmt}")
    c, py = both(path)
    assert c == py
    assert json.loads(c)["errors"]["retries"]["tools"][0]["repeated"] == 1


@needs_both
def test_folded_critical_path_gives_the_same_json(tmp_path):
    path = sequential_steps(2500).to_n3t(tmp_path / "seq.n3t", config={"chunk_events": 300})
    c, py = both(path)
    assert c == py and json.loads(c)["performance"]["critical_path"]["truncated"] is True


@needs_both
@pytest.mark.parametrize("keep", [0.3, 0.55, 0.8])
def test_damaged_trace_gives_the_same_json(tmp_path, keep):
    path = random_run(6).to_n3t(tmp_path / "r.n3t", sites=SITES + [MARKER],
                                config={"chunk_events": 64})
    data = open(path, "rb").read()
    cut = tmp_path / "cut.n3t"
    cut.write_bytes(data[:int(len(data) * keep)])
    c, py = both(str(cut))
    assert c == py
    doc = json.loads(c)
    assert doc["trace"]["damaged"] and doc["trace"]["open_spans"] > 0


def odd_batches(seed: int):
    """Overlapping siblings, ends with no start, reused span ids, reserved kinds, sites past
    the compiled core's table and sites missing from the table, in batches of any size."""
    rng = random.Random(seed)
    sites = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, FAR["id"], 123]
    events, open_, nxt, ts = [], [], 1, 0
    for _ in range(3000):
        ts += rng.randint(0, 5000)
        r = rng.random()
        if r < 0.45 or not open_:
            site = rng.choice(sites)
            parent = rng.choice(open_)[0] if open_ and rng.random() < 0.9 else 0
            span = nxt if rng.random() < 0.97 else max(1, nxt - 3)
            nxt += 1
            payload = rng.choice([None, {"model": "gpt-4o", "provider": "openai"},
                                  {"arguments": {"q": rng.randint(0, 3)}}, {"rss": ts}])
            events.append((ts, site, START, span, parent, payload))
            open_.append((span, site, parent))
        elif r < 0.9:
            span, site, parent = open_.pop(rng.randrange(len(open_)))
            kind = rng.choice([END, END, END, ERROR_END, 5])
            payload = rng.choice([None, {"usage": {"prompt_tokens": 10, "total_tokens": 30}},
                                  {"error": {"type": "KeyError", "message": "k"}},
                                  {"attempts": 2, "rss": ts}])
            events.append((ts, site, kind, span, parent, payload))
        elif r < 0.95:
            events.append((ts, rng.choice(sites), rng.choice([END, ERROR_END]),
                           rng.randint(10_000, 20_000), 0, None))
        else:
            parent = open_[-1][0] if open_ else 0
            events.append((ts, rng.choice([7, 10, 2]), INSTANT, 0, parent,
                           rng.choice([None, {"type": "E", "rss": ts}, {"rss": True}])))
    batches, i = [], 0
    while i < len(events):
        size = rng.choice([1, 2, 7, 64, 500])
        batch = ListBatch()
        for ev in events[i:i + size]:
            batch.append(ev[0], ev[1], ev[2], ev[3], ev[4], 1, ev[5])
        batches.append(batch)
        i += size
    return batches


@needs_both
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_odd_batches_give_the_same_json(seed):
    table = {s["id"]: SiteInfo(s["id"], s["event_type"], s["component"], s["name"], s["file"],
                               s["line"], s["column"]) for s in SITES + [MARKER, FAR]}
    docs = []
    for core in ("c", "python"):
        a = analysis.analysis_class(core)(RunInfo("odd", "test", "", "", {}, dict(table)))
        n = 0
        for batch in odd_batches(seed):
            a.feed(batch)
            n += len(batch)
        docs.append(json.dumps(a.result(Health(events=n, complete=True))))
    assert docs[0] == docs[1]
    doc = json.loads(docs[0])
    assert doc["trace"]["unpaired_ends"] > 0 and doc["errors"]["failed_spans"] > 0


def run_python(code, env):
    full = {k: v for k, v in os.environ.items() if k not in (passcore.CORE_ENV, ALL_CORES_ENV)}
    full.update(PYTHONPATH=ROOT, **env)
    return subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True,
                          text=True, env=full, cwd=ROOT, timeout=60)


def test_the_env_var_forces_a_core():
    code = "from analyzer import passcore, analysis; print(passcore.CORE_NAME, analysis.Analysis.core)"
    proc = run_python(code, {"N3ANALYZE_CORE": "python"})
    assert proc.returncode == 0 and proc.stdout.split() == ["python", "python"]
    assert "CoreFallbackWarning" not in proc.stderr
    proc = run_python(code, {"N3ANALYZE_CORE": "fortran"})
    assert proc.returncode != 0 and "not an analysis core" in proc.stderr


def test_a_missing_compiled_core_falls_back_once_and_says_so():
    code = ("import sys; sys.modules['analyzer._pass'] = None\n"
            "from analyzer import passcore, analysis\n"
            "import analyzer.passcore\n"
            "print(passcore.CORE_NAME, analysis.Analysis.core)")
    proc = run_python(code, {})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["python", "python"]
    assert proc.stderr.count("CoreFallbackWarning") == 1
    assert "compiled analysis core is unavailable" in proc.stderr
    proc = run_python("import sys; sys.modules['analyzer._pass'] = None\n"
                      "import analyzer.passcore", {"N3ANALYZE_CORE": "c"})
    assert proc.returncode != 0 and "N3ANALYZE_CORE=c" in proc.stderr


@needs_both
def test_the_compiled_core_is_the_default_when_built():
    assert passcore.CORE_NAME == "c" or forced(passcore.CORE_ENV) == "python"
    assert analysis.analysis_class("c").core == "c"
    assert analysis.analysis_class("python").core == "python"


def wide_paths(seed: int):
    """Agents of up to 120 turns (runs past KEEP), turns whose children overlap or nest
    three deep (agents past NODE_CAP), 60 sites (summaries past a linear scan), and a
    last agent of 150 turns left open; in batches of any size."""
    rng = random.Random(seed)
    events, nxt, now = [], [1], [0]

    def emit(kind, site, span, parent):
        now[0] += rng.randint(0, 3000)
        events.append((now[0], site, kind, span, parent))

    def tree(parent, depth):
        kids = [(nxt[0] + i, rng.randrange(1, 61)) for i in range(rng.randint(2, 8))]
        nxt[0] += len(kids)
        overlap = rng.random() < 0.3
        order = list(kids)
        for sp, site in kids:
            emit(START, site, sp, parent)
            if not overlap:
                if depth < 3 and rng.random() < 0.6:
                    tree(sp, depth + 1)
                emit(END, site, sp, parent)
        if overlap:
            rng.shuffle(order)
            for sp, site in order:
                emit(END, site, sp, parent)

    for agent in range(13):
        a = nxt[0]
        nxt[0] += 1
        emit(START, 61, a, 0)
        for _ in range(150 if agent == 12 else rng.randint(1, 120)):
            t = nxt[0]
            nxt[0] += 1
            emit(START, 62, t, a)
            tree(t, 1)
            emit(END, 62, t, a)
        if agent < 12:
            emit(END, 61, a, 0)
    batches, i = [], 0
    while i < len(events):
        size = rng.choice([1, 5, 64, 700])
        batch = ListBatch()
        for ts, site, kind, span, parent in events[i:i + size]:
            batch.append(ts, site, kind, span, parent, 1, None)
        batches.append(batch)
        i += size
    return batches


def _plain(children: dict) -> list:
    """A copy of a core's critical-path state as plain data, summaries in their order."""
    def summary(s):
        return [(site, tuple(row)) for site, row in s.items()] if s else s

    def node(n):
        return n[:4], [node(k) for k in n[4]] if n[4] else n[4], summary(n[5]), n[6:]
    return [(span, [node(k) for k in ch.kids], ch.fixed, summary(ch.summary), ch.covered,
             ch.folded, ch.size) for span, ch in children.items()]


@needs_both
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_wide_critical_paths_hold_the_same_state_and_json(seed):
    table = {sid: SiteInfo(sid, "tool_call", "tool", f"t{sid}", "app.ai", sid, 1)
             for sid in range(1, 61)}
    table[61] = SiteInfo(61, "agent_execution", "agent", "a", "app.ai", 61, 1)
    table[62] = SiteInfo(62, "agent_turn", "agent", "a", "app.ai", 62, 1)
    states, docs = [], []
    for core in ("c", "python"):
        a = analysis.analysis_class(core)(RunInfo("wide", "test", "", "", {}, dict(table)))
        n, seen = 0, []
        batches = wide_paths(seed)
        for i, batch in enumerate(batches):
            a.feed(batch)
            n += len(batch)
            if i % 5 == 0 or i == len(batches) - 1:
                seen += _plain(a._path_children() if core == "c" else a.children)
        states.append(seen)
        docs.append(json.dumps(a.result(Health(events=n, complete=True))))
    assert states[0] == states[1]
    assert docs[0] == docs[1]
    summaries = [row[3] for row in states[1] if row[3]]
    assert summaries and max(len(s) for s in summaries) > 8
    capped = [k for row in states[1] for k in row[1] if k[1] is None and k[2] and k[3][1] == 1]
    assert capped, "no node was folded whole for passing NODE_CAP"


@needs_both
def test_token_sums_past_int64_are_exact_on_both_cores(tmp_path):
    """The compiled core sums tokens in int64 until a sum would overflow; past that the
    totals must still be the exact integers the twin's Python ints give."""
    big = (1 << 62) - 1
    s = Script()
    agent = s.enter(2)
    for _ in range(5):
        s.wait(US)
        s.span(4, MS, {"provider": "openai", "model": "gpt-4o"},
               {"usage": {"prompt_tokens": big, "completion_tokens": big}})
    s.exit(agent)
    c, py = both(s.to_n3t(tmp_path / "big.n3t"))
    assert c == py
    total = json.loads(c)["tokens"]["total"]
    assert (total["calls"], total["prompt_tokens"], total["total_tokens"]) == (5, 5 * big,
                                                                                10 * big)


@needs_both
@pytest.mark.parametrize("shape", ["random", "sorted", "reversed", "equal", "few values",
                                   "past int64"])
def test_duration_statistics_are_the_same_from_both_cores(shape):
    """The compiled core selects the two ranks in C instead of sorting; the sums past
    int64 fall back to Python ints."""
    from array import array

    from analyzer.stats import summarize

    rng = random.Random(shape)
    for n in (1, 2, 3, 10, 101, 20_000):
        values = {"random": lambda: [rng.randint(-10**6, 10**12) for _ in range(n)],
                  "sorted": lambda: sorted(rng.randint(0, 10**6) for _ in range(n)),
                  "reversed": lambda: sorted((rng.randint(0, 10**6) for _ in range(n)),
                                             reverse=True),
                  "equal": lambda: [7] * n,
                  "few values": lambda: [rng.randint(0, 3) for _ in range(n)],
                  "past int64": lambda: [2**62] * n + [-1]}[shape]()
        compiled = passcore.pass_module("c")._summarize
        for given in (array("q", values), values):
            assert compiled(given, 3) == summarize(given, 3)
    assert compiled(array("q"), 0) == summarize(array("q"), 0)
