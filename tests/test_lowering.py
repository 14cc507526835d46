"""Lowering: stable bytes, readable locations, values that reach the runtime unchanged."""
import re
from pathlib import Path

import pytest

from n3instrument.frontend import load, load_source
from n3instrument.lowering import lower

EXAMPLES = sorted(Path(__file__).parent.parent.glob("examples/*/app.ai"))


def run_program(code: str):
    namespace: dict = {"__file__": "program.py"}  # as a build imports it
    exec(compile(code, "program.py", "exec"), namespace)
    return namespace["app"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_lowering_is_deterministic(path):
    first = lower(load(path))
    second = lower(load_source(path.read_text(), str(path)))
    assert first == second
    compile(first, "program.py", "exec")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_each_declaration_is_preceded_by_its_source_location(path):
    program = load(path)
    code = lower(program)
    comments = re.findall(r"^# app\.ai:(\d+):(\d+)\n(app\.\w+)\((?:'(\w+)', )?'([^']+)'", code, re.M)
    expected = [(d.loc.line, d.loc.column, d.kind, d.name) for d in program.declarations if d.kind != "app"]
    got = [(int(line), int(col), kind if call == "app.declarative" else call[4:], name)
           for line, col, call, kind, name in comments]
    assert got == expected


def test_values_reach_the_runtime_unchanged():
    source = '''app "Values" { description: "tabs\\tand \\"quotes\\" and emoji 🚀" }
llm m {
  provider: "mock"
  temperature: 0.7
  max_tokens: 12
  top_p: 1e-3
  responses: [ { match: "x", reply: "line1\\nline2" } ]
}
tool t { type: "mock", returns: { ok: true, nothing: null, items: [1, -3, 2.5] } }
agent a { llm: m, tools: [t], max_turns: 3 }
'''
    app = run_program(lower(load_source(source, "values.ai")))
    llm = app.get("llm", "m")
    assert llm.config["temperature"] == 0.7
    assert llm.config["max_tokens"] == 12
    assert llm.config["top_p"] == pytest.approx(0.001)
    assert llm.config["responses"] == [{"match": "x", "reply": "line1\nline2"}]
    assert app.get("tool", "t").config["returns"] == {"ok": True, "nothing": None, "items": [1, -3, 2.5]}
    agent = app.get("agent", "a")
    assert agent.llm is llm and list(agent.tools) == ["t"]
    assert app.properties["description"] == 'tabs\tand "quotes" and emoji 🚀'


def test_env_values_are_read_at_run_time_not_captured_in_the_build(monkeypatch):
    monkeypatch.setenv("N3_TEST_SECRET", "sk-build-time-value")
    source = 'llm m { provider: "openai", api_key: env("N3_TEST_SECRET"), base_url: "http://127.0.0.1:9/v1" }\n'
    code = lower(load_source(source, "env.ai"))
    assert "sk-build-time-value" not in code
    assert "n3.Env('N3_TEST_SECRET')" in code


def test_declarative_kinds_are_kept_but_not_executed():
    source = 'page home { path: "/" }\ndataset sales { source: "s3://x" }\nllm m { provider: "mock" }\n'
    code = lower(load_source(source, "decl.ai"))
    assert "app.declarative('page', 'home', {'path': '/'}" in code
    app = run_program(code)
    assert app.get("llm", "m") is not None


def test_quoted_names_in_reference_keys_are_references():
    source = 'llm "big model" { provider: "mock" }\nagent a { llm: "big model" }\n'
    code = lower(load_source(source, "quoted.ai"))
    assert "n3.Ref('big model')" in code
    app = run_program(code)
    assert app.get("agent", "a").llm is app.get("llm", "big model")


def test_escaped_braces_reach_the_prompt_literally():
    source = ('llm m { provider: "mock", responses: [ { match: ".*", reply: "ok" } ] }\n'
              r'prompt p { model: m, template: "literal \{\{name}} then {{name}}", variables: ["name"] }' "\n")
    app = run_program(lower(load_source(source, "braces.ai")))
    from n3core.runtime.template import render

    template = app.get("prompt", "p").config["template"]
    assert render(template, {"name": "Ada"}) == "literal {{name}} then Ada"
