"""Build traces with a known structure, written through the real writer or as JSON lines.

A Script records what should happen (spans with exact clock times, instants, payloads);
`to_n3t` replays it through n3core.tracing.session with a fake monotonic clock, so the
file's timings are exactly the scripted ones, and `to_jsonl` writes the same run in the
earlier debugger's format. Tests compute expectations from the Script, never from the
analyzer.
"""
from __future__ import annotations

import datetime as _dt
import json
import random
from dataclasses import dataclass, field

import pytest

WALL0 = 1_700_000_000_000_000_000
US = 1_000
MS = 1_000_000

SITES = [
    dict(id=1, event_type="chain_execution", component="chain", name="research", file="app.ai", line=30, column=1),
    dict(id=2, event_type="agent_execution", component="agent", name="Researcher", file="app.ai", line=20, column=1),
    dict(id=3, event_type="agent_turn", component="agent", name="Researcher", file="app.ai", line=20, column=1),
    dict(id=4, event_type="llm_call", component="llm", name="gpt", file="app.ai", line=3, column=1),
    dict(id=5, event_type="tool_call", component="tool", name="search", file="app.ai", line=12, column=1),
    dict(id=6, event_type="prompt_execution", component="prompt", name="summarize", file="app.ai", line=16, column=1),
    dict(id=7, event_type="error_occurred", component="tool", name="search", file="app.ai", line=12, column=1),
    dict(id=8, event_type="llm_call", component="llm", name="cheap", file="app.ai", line=7, column=1),
    dict(id=9, event_type="chain_step", component="chain", name="research", file="app.ai", line=31, column=5),
]
NAMES = {s["id"]: (s["event_type"], s["name"]) for s in SITES}


@dataclass
class Op:
    kind: str          # enter, exit, fail, instant
    site: int
    t: int             # ns since start
    key: int = 0       # script span number (enter/exit/fail)
    payload: object = None


@dataclass
class Script:
    ops: list = field(default_factory=list)
    now: int = 0
    _next: int = 1
    _stack: list = field(default_factory=list)
    spans: list = field(default_factory=list)   # (site, start, end, status, key, parent_key)

    def wait(self, ns: int) -> None:
        self.now += ns

    def enter(self, site: int, payload=None) -> int:
        key = self._next
        self._next += 1
        parent = self._stack[-1] if self._stack else 0
        self.ops.append(Op("enter", site, self.now, key, payload))
        self.spans.append([site, self.now, None, "open", key, parent])
        self._stack.append(key)
        return key

    def exit(self, key: int, payload=None, failed: bool = False) -> None:
        assert self._stack[-1] == key, "spans must nest"
        self._stack.pop()
        self.ops.append(Op("fail" if failed else "exit", 0, self.now, key, payload))
        for row in self.spans:
            if row[4] == key:
                row[2], row[3] = self.now, "error" if failed else "ok"

    def instant(self, site: int, payload=None) -> None:
        self.ops.append(Op("instant", site, self.now, 0, payload))

    def span(self, site: int, dur: int, start=None, end=None) -> int:
        key = self.enter(site, start)
        self.wait(dur)
        self.exit(key, end)
        return key

    # -- expectations ----------------------------------------------------------------
    def durations(self, event_type: str, name: str) -> list:
        return [e - s for site, s, e, st, _, _ in self.spans
                if NAMES[site] == (event_type, name) and e is not None]

    # -- writers ---------------------------------------------------------------------
    def to_n3t(self, path, sites=SITES, config=None, core=None, metadata=None) -> str:
        import n3core.tracing.session as session
        from n3core.tracing import hooks

        clock_now = [0]
        tokens = {}
        options = {"clock": lambda: clock_now[0] + 10_000, "wall_clock": lambda: WALL0,
                   "run_id": "0123456789abcdef0123456789abcdef"}
        if core:
            options["core"] = core
        if metadata:  # replaces the header's pid, argv and python (see FIXED_METADATA)
            options["metadata"] = metadata
        cfg = {"install_hooks": False}
        cfg.update(config or {})
        session.start(str(path), sites, cfg, **options)
        try:
            for op in self.ops:
                clock_now[0] = op.t
                if op.kind == "enter":
                    tokens[op.key] = hooks.enter(op.site, op.payload)
                elif op.kind == "exit":
                    hooks.exit(tokens.pop(op.key), op.payload)
                elif op.kind == "fail":
                    exc = op.payload if isinstance(op.payload, BaseException) else RuntimeError("failed")
                    session.fail(tokens.pop(op.key), exc)
                else:
                    hooks.instant(op.site, op.payload)
        finally:
            session.stop()
        return str(path)

    def to_jsonl(self, path, iso: bool = True) -> str:
        comp = {s["id"]: s for s in SITES}
        starts, parents = {}, {}
        stack = []
        with open(path, "w", encoding="utf-8") as f:
            for op in self.ops:
                ts = WALL0 + op.t
                stamp = (_iso(ts) if iso else ts / 1e9)
                if op.kind == "enter":
                    s = comp[op.site]
                    parents[op.key] = stack[-1] if stack else None
                    starts[op.key] = (op.site, op.t)
                    stack.append(op.key)
                    line = {"event_type": s["event_type"] + "_start", "timestamp": stamp,
                            "execution_id": "run-1", "component": s["component"],
                            "component_name": s["name"], "event_id": f"e{op.key}",
                            "parent_id": f"e{parents[op.key]}" if parents[op.key] else None,
                            "status": "started", "inputs": op.payload}
                elif op.kind in ("exit", "fail"):
                    stack.pop()
                    site, t0 = starts.pop(op.key)
                    s = comp[site]
                    line = {"event_type": s["event_type"] + "_end", "timestamp": stamp,
                            "execution_id": "run-1", "component": s["component"],
                            "component_name": s["name"], "event_id": f"e{op.key}",
                            "duration_ms": (op.t - t0) / 1e6,
                            "status": "failed" if op.kind == "fail" else "completed"}
                    p = dict(op.payload) if isinstance(op.payload, dict) else {}
                    if "usage" in p:
                        line["tokens_used"] = p.pop("usage")
                    if op.kind == "fail":
                        exc = op.payload
                        line["error"] = {"type": type(exc).__name__, "message": str(exc)}
                    elif p:
                        line["outputs"] = p
                else:
                    s = comp[op.site]
                    line = {"event_type": s["event_type"], "timestamp": stamp,
                            "execution_id": "run-1", "component": s["component"],
                            "component_name": s["name"], "inputs": op.payload,
                            "parent_id": f"e{stack[-1]}" if stack else None}
                f.write(json.dumps({k: v for k, v in line.items() if v is not None}) + "\n")
        return str(path)


def _iso(ns: int) -> str:
    moment = _dt.datetime.fromtimestamp(ns // 10**9, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns % 10**9) // 1000:06d}Z"


def research_run(turns: int = 6, seed: int = 7) -> Script:
    """A chain running an agent for `turns` turns (llm call + tool call each), a prompt
    that needs two attempts, a repeated tool call and a failing one; durations in whole
    microseconds, rss rising by a fixed step per turn."""
    rng = random.Random(seed)
    s = Script()
    chain = s.enter(1, {"input": {"topic": "tracing"}})
    s.wait(100 * US)
    agent = s.enter(2, {"input": "find things"})
    rss = 50 * MS
    for turn in range(turns):
        s.wait(rng.randint(1, 50) * US)
        t = s.enter(3, {"turn": turn, "rss": rss})
        s.wait(rng.randint(1, 20) * US)
        s.span(4, rng.randint(100, 5000) * US,
               {"provider": "openai", "model": "gpt-4o",
                "params": {"temperature": 0.2, "max_tokens": 256, "top_p": 0.9}},
               {"text": "ok", "usage": {"prompt_tokens": 1000 + turn, "completion_tokens": 100 + turn,
                                         "total_tokens": 1100 + 2 * turn},
                "finish_reason": "tool_calls"})
        s.wait(rng.randint(1, 20) * US)
        args = {"q": "same"} if turn in (1, 2) else {"q": f"query {turn}"}
        s.span(5, rng.randint(100, 3000) * US, {"call_id": f"call-{turn}", "arguments": args},
               {"result": "hits"})
        rss += 2 * MS
        s.wait(rng.randint(1, 20) * US)
        s.exit(t, {"rss": rss})
    s.wait(10 * US)
    k = s.enter(5, {"call_id": "call-x", "arguments": {"q": "bad"}})
    s.wait(700 * US)
    s.instant(7, {"type": "TimeoutError", "message": "search timed out", "stack": ""})
    s.exit(k, TimeoutError("search timed out"), failed=True)
    s.wait(10 * US)
    s.exit(agent, {"output": "done", "turns": turns})
    s.wait(20 * US)
    p = s.enter(6, {"input": {"text": "..."}})
    for attempt in range(2):
        s.wait(5 * US)
        s.span(8, (300 + 100 * attempt) * US, {"provider": "openai", "model": "gpt-4o-mini"},
               {"usage": {"prompt_tokens": 400, "completion_tokens": 50, "total_tokens": 450}})
    s.wait(5 * US)
    s.exit(p, {"output": {"summary": "x"}, "attempts": 2})
    s.wait(30 * US)
    s.exit(chain, {"output": "all done"})
    return s


# Header metadata that does not depend on the process writing the trace: with it a trace
# file's bytes (and so its size) are the same on every run.
FIXED_METADATA = {"pid": 4242, "argv": ["app.ai"], "python": "3.11.0"}

# SITES plus the output validation of the `summarize` prompt (Prompt.validate).
VALIDATION_SITES = SITES + [
    dict(id=10, event_type="validation", component="prompt", name="summarize", file="app.ai",
         line=17, column=5),
]


def validation_retry_run() -> Script:
    """A chain step running the `summarize` prompt whose first reply fails output validation
    and is retried once, recorded the way the runtime records it: llm call, failed
    validation span (OutputValidationError), llm call, validation that passes, and the prompt
    ending with its output (the runtime records no `attempts` key). Write it with
    `to_n3t(path, sites=VALIDATION_SITES)`."""
    from n3core.runtime.errors import OutputValidationError

    s = Script()
    chain = s.enter(1, {"input": {"topic": "tides"}})
    s.wait(40 * US)
    step = s.enter(9, {"step": 0})
    s.wait(10 * US)
    p = s.enter(6, {"input": {"text": "tides are caused by the moon"}})
    s.wait(5 * US)
    s.span(8, 1_200 * US, {"provider": "openai", "model": "gpt-4o-mini"},
           {"text": "Tides come from the moon.",
            "usage": {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135}})
    v = s.enter(10, {"text": "Tides come from the moon."})
    s.wait(20 * US)
    s.exit(v, OutputValidationError("the reply is not JSON", kind="prompt", name="summarize"),
           failed=True)
    s.wait(5 * US)
    s.span(8, 1_500 * US, {"provider": "openai", "model": "gpt-4o-mini"},
           {"text": '{"summary": "the moon"}',
            "usage": {"prompt_tokens": 170, "completion_tokens": 12, "total_tokens": 182}})
    v = s.enter(10, {"text": '{"summary": "the moon"}'})
    s.wait(15 * US)
    s.exit(v, {"summary": "the moon"})
    s.wait(5 * US)
    s.exit(p, {"summary": "the moon"})
    s.wait(10 * US)
    s.exit(step, {"output": {"summary": "the moon"}})
    s.wait(20 * US)
    s.exit(chain, {"output": {"summary": "the moon"}})
    return s


def sequential_steps(n: int, dur_us: int = 10) -> Script:
    """n chain steps one after another inside one chain: every step is on the critical path."""
    s = Script()
    c = s.enter(1)
    for _ in range(n):
        s.wait(US)
        s.span(9, dur_us * US)
    s.wait(US)
    s.exit(c)
    return s


@pytest.fixture(params=["c", "python"])
def analyzer_core(request, monkeypatch):
    """Run a test once per analysis core: the compiled one (when built) and the Python twin.

    `analyzer.analysis.Analysis` (and so `analyze` and the CLI) use that core for the test,
    and N3ANALYZE_CORE is set for any child process."""
    from analyzer import analysis, passcore

    if request.param not in passcore.available():
        pytest.skip(f"the {request.param} analysis core is not built on this machine")
    monkeypatch.setattr(analysis, "Analysis", analysis.analysis_class(request.param))
    monkeypatch.setenv(passcore.CORE_ENV, request.param)
    return request.param
