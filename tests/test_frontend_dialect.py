"""The dialect as real programs write it: raw declarative parts, two-word kinds, `use`,
`export`, unquoted env names, and the braces the executable kinds still require."""
from __future__ import annotations

import pytest

from n3instrument.frontend.checks import check
from n3instrument.frontend.nodes import EnvCall, String
from n3instrument.frontend.parser import parse
from support.positions import at
from support.syntax import syntax_error

UI = '''app "Shop" connects to postgres "DB".

dataset "orders" from table warehouse.orders
dataset recent from rest "https://example.invalid/orders":
  filter by: status == "READY"

# the landing page
page "Home" at "/":
  show text "Don't miss { this }"
  # an indented comment
  show table "Recent" from dataset recent

frame "summary" from dataset "orders":
  columns: id, total
llm fast { provider: "mock" }
'''


def test_header_clauses_and_indented_bodies_are_kept_as_raw_text():
    program = parse(UI, "app.ai")
    kinds = [(d.kind, d.name, d.clause) for d in program.declarations]
    assert kinds == [
        ("app", "Shop", 'connects to postgres "DB"'),
        ("dataset", "orders", "from table warehouse.orders"),
        ("dataset", "recent", 'from rest "https://example.invalid/orders"'),
        ("page", "Home", 'at "/"'),
        ("frame", "summary", 'from dataset "orders"'),
        ("llm", "fast", ""),
    ]
    page = program.find("page", "Home")
    assert page.raw.startswith('page "Home" at "/":\n') and page.raw.endswith('dataset recent')
    assert (page.loc.line, page.loc.column) == at(UI, 'page "Home"')
    assert (page.loc.end_line, page.name_loc.column) == (at(UI, "  show table")[0], 6)
    # the comment at the margin before the page belongs to no body
    assert "landing" not in program.find("dataset", "recent").raw
    assert program.find("llm", "fast").get("provider").value == "mock"


def test_kept_parts_check_with_one_note():
    diagnostics = check(parse(UI + 'use "ui_kit"\n', "app.ai"))
    (d,) = diagnostics
    assert d.code == "DECLARATIVE_KIND" and d.severity == "note"
    assert "`dataset`, `page` and `frame` declarations and `use` statements" in d.message
    assert (d.loc.line, d.loc.column) == at(UI, "dataset")


def test_a_declarative_brace_body_keeps_entries_when_it_has_them():
    source = ('template greet { template: "Hi {{input}}" }\n'
              'dataset d {\n  schema: { id: uuid(primary_key=true) }\n}\n'
              'page "Quiz" at "/quiz" {\n  show text { content: "x" }\n}\n')
    program = parse(source, "app.ai")
    greet, data, page = program.declarations
    assert greet.raw is None and greet.get("template").value == "Hi {{input}}"
    assert (greet.get("template").loc.line, greet.get("template").loc.column) == at(source, '"Hi')
    assert data.entries == () and "uuid(primary_key=true)" in data.raw
    assert page.clause == 'at "/quiz"' and page.raw.endswith("}")
    assert check(program)[0].code == "DECLARATIVE_KIND"


@pytest.mark.parametrize("source, needle, words", [
    ('agent triage:\n  llm: fast\n', ":", "agent triage"),
    ('memory:\n  is_open: false\n', ":", "memory:"),
    ('chain "Flow":  # steps\n  step a:\n', ":", 'chain Flow'),
    ('ai model local:\n  provider: ollama\n', ":", "ai model local"),
    ('app "X":\n  title: "t"\n', ":", 'app "X"'),
])
def test_an_executable_kind_with_an_indented_body_asks_for_braces(source, needle, words):
    d = syntax_error(source)
    assert words in d.message and "must use braces" in d.message
    assert (d.loc.line, d.loc.column) == at(source, needle)
    assert "{ key: value ... }" in d.hint


def test_ai_model_is_an_llm():
    source = 'ai model chat { provider: "mock", model: "llama3" }\nagent a { llm: chat }\n'
    program = parse(source, "app.ai")
    llm = program.declarations[0]
    assert (llm.kind, llm.name) == ("llm", "chat")
    assert check(program) == []


def test_use_and_export_are_recorded():
    source = ('module apps.customer_dashboard\nuse company.core::authentication as auth\n'
              'use module helpers  # shared\nexport {\n  "greet",\n  "summarize"\n}\n'
              'llm m {}\n')
    program = parse(source, "app.ai")
    assert program.module == "apps.customer_dashboard"
    assert [(s.keyword, s.text) for s in program.statements] == [
        ("use", "company.core::authentication as auth"), ("use", "module helpers"),
        ("export", '{\n  "greet",\n  "summarize"\n}')]
    assert (program.statements[2].loc.end_line, program.statements[2].loc.end_column) == (7, 2)
    assert program.declarations[0].kind == "llm"


def test_env_name_may_be_unquoted():
    program = parse('llm m { api_key: env(OPENAI_API_KEY), model: env("M") }\n', "app.ai")
    key = program.declarations[0].get("api_key")
    assert isinstance(key, EnvCall) and key.name == "OPENAI_API_KEY"
    assert key.loc.end_column - key.loc.column == len("env(OPENAI_API_KEY)")
    assert check(program) == []


def test_unknown_top_level_statements_stay_errors():
    d = syntax_error('planer "p" { goal: "x" }\n')
    assert "unknown declaration kind `planer`" in d.message and d.hint == "did you mean `planner`?"
    d = syntax_error('page "Oops" at "/oops":\nshow text "Missing indent"\n')
    assert "`show`" in d.message and d.loc.line == 2


def test_unclosed_raw_text_points_at_its_opening():
    source = 'page "P" at "/" {\n  show text "x"\n'
    d = syntax_error(source)
    assert d.message == "`{` is never closed" and (d.loc.line, d.loc.column) == at(source, "{")
    source = 'page "P":\n  template: """\nnever closed\n'
    d = syntax_error(source)
    assert "never closed" in d.message and (d.loc.line, d.loc.column) == at(source, '"""')


def test_raw_text_reaches_the_margin_inside_triple_quotes():
    source = 'page "P":\n  intro: """\nat the margin\n  """\nllm m {}\n'
    program = parse(source, "app.ai")
    assert "at the margin" in program.declarations[0].raw
    assert program.declarations[1].kind == "llm"


def test_app_name_in_a_header_must_still_be_quoted():
    d = syntax_error("app Shop connects to postgres.\n")
    assert d.message == "the app name must be quoted" and d.hint == 'write app "Shop"'


def test_app_header_with_only_a_period():
    program = parse('app "Analytics".\n', "app.ai")
    assert (program.app.name, program.app.clause) == ("Analytics", "")
    assert isinstance(parse('app "A" { description: "d" }', "a.ai").app.get("description"), String)


# --- checks of the dialect's references -------------------------------------------------

@pytest.mark.parametrize("policy", ["conversation_window", "full_history", "summary", "none"])
def test_memory_policies_need_no_declaration(policy):
    source = f'llm m {{}}\nagent a {{ llm: m, memory: "{policy}", window: 4 }}\n'
    diagnostics = check(parse(source, "app.ai"))
    if policy in ("conversation_window", "summary"):
        assert diagnostics == []
    else:
        (d,) = diagnostics
        assert d.code == "UNKNOWN_KEY" and d.severity == "warning"
        assert (d.loc.line, d.loc.column) == at(source, "window")


def test_an_unknown_memory_name_is_still_an_error():
    source = 'llm m {}\nagent a { llm: m, memory: "conversation_windw" }\n'
    (d,) = check(parse(source, "app.ai"))
    assert d.code == "UNDEFINED_REFERENCE" and d.severity == "error"


def test_window_must_be_a_whole_number():
    source = 'llm m {}\nagent a { llm: m, memory: "summary", window: 0 }\n'
    (d,) = check(parse(source, "app.ai"))
    assert d.code == "INVALID_VALUE" and (d.loc.line, d.loc.column) == at(source, "0 }")


def test_an_undeclared_llm_is_a_warning_with_a_hint():
    source = ('model gpt4 { provider: "openai" }\nllm fast {}\n'
              'agent a { llm: "gpt4" }\nprompt p { model: fasst, template: "x" }\n')
    diagnostics = [d for d in check(parse(source, "app.ai")) if d.code == "UNDECLARED_LLM"]
    agent, prompt = diagnostics
    assert agent.severity == prompt.severity == "warning"
    assert (agent.loc.line, agent.loc.column) == at(source, '"gpt4" }')
    assert "`gpt4` is a model (line 1), not an llm" in agent.hint
    assert 'declare it: llm gpt4 { provider: "openai"' in agent.hint
    assert prompt.hint == "did you mean `fast`?"


def test_a_step_target_must_still_be_declared():
    source = 'llm m {}\nprompt p { template: "x" }\nchain c { steps: [ { kind: "llm", target: p } ] }\n'
    (d,) = check(parse(source, "app.ai"))
    assert d.code == "UNDEFINED_REFERENCE" and d.severity == "error"


def test_a_template_step_may_render_its_own_input():
    source = ('chain c { steps: [\n  { name: "a", kind: "template", input: "A {{steps.x}}" }\n'
              '  { name: "b", kind: "template", input: { x: 1 } }\n  { name: "c", kind: "template" }\n] }\n')
    diagnostics = check(parse(source, "app.ai"))
    assert [(d.code, d.loc.line) for d in diagnostics] == [("INVALID_VALUE", 3), ("INVALID_VALUE", 4)]
    assert "no `target`, `template` or `input` string" in diagnostics[0].message
    assert (diagnostics[0].loc.line, diagnostics[0].loc.column) == at(source, "{ x: 1 }")


def test_memory_types_of_real_programs_are_read_as_ours():
    source = 'memory a { type: "short_term" }\nmemory b { kind: "structured" }\nmemory c { type: "long" }\n'
    diagnostics = check(parse(source, "app.ai"))
    assert [(d.code, d.severity, d.loc.line) for d in diagnostics] == [
        ("UNSUPPORTED_VALUE", "warning", 1), ("UNSUPPORTED_VALUE", "warning", 2),
        ("INVALID_VALUE", "error", 3)]
    assert diagnostics[0].message.endswith('"short_term" is read as "conversation"')
    assert '"structured" is read as "key_value"' in diagnostics[1].message


def test_a_tool_type_the_runtime_does_not_run_is_a_warning():
    source = 'tool db { type: "database", description: "the shop" }\n'
    (d,) = check(parse(source, "app.ai"))
    assert d.code == "UNSUPPORTED_VALUE" and d.severity == "warning"
    assert (d.loc.line, d.loc.column) == at(source, '"database"')
    assert "python, http, mock" in d.message


def test_system_prompt_may_name_a_prompt_and_content_is_a_template():
    source = ('llm m {}\nprompt expert { role: "system", content: "You grade quizzes." }\n'
              'agent a { llm: m, system_prompt: expert }\nagent b { llm: m, system: nobody }\n')
    diagnostics = check(parse(source, "app.ai"))
    codes = [(d.code, d.loc.line) for d in diagnostics]
    assert codes == [("UNKNOWN_KEY", 2), ("UNDEFINED_REFERENCE", 4)]
    assert "not a declared prompt" in diagnostics[1].message


def test_what_fails_only_when_run_is_a_warning():
    source = 'llm a {}\nllm b {}\nprompt p { template: "x" }\nchain empty {}\n'
    diagnostics = check(parse(source, "app.ai"))
    assert [(d.code, d.severity, d.loc.line) for d in diagnostics] == [
        ("FAILS_WHEN_RUN", "warning", 3), ("FAILS_WHEN_RUN", "warning", 4)]
    assert diagnostics[0].hint == "add model: one of a, b"


def test_an_unclosed_app_name_is_an_unclosed_string():
    d = syntax_error('app "Invalid\n')
    assert d.message == "unclosed string" and (d.loc.line, d.loc.column) == (1, 5)


def test_use_and_export_are_listed_in_program_py_and_raw_parts_are_declared():
    from n3instrument.lowering import lower

    source = 'use company.core::auth as a\nexport { "x" }\npage "Home" at "/":\n  show text "hi"\n'
    code = lower(parse(source, "app.ai"))
    assert "Uses (recorded, no effect): company.core::auth as a" in code
    assert 'Exports (recorded, no effect): { \\"x\\" }' in code
    assert "app.declarative('page', 'Home', {}, loc=n3.Loc('app.ai', 3, 1))" in code
    compile(code, "program.py", "exec")
