"""Semantic checks: each rule of LANGUAGE.md, valid and invalid, with positions."""
from __future__ import annotations

from pathlib import Path

import pytest

from n3core.runtime import schema
from n3core.runtime.schema import Key
from n3instrument.frontend import check_file
from n3instrument.frontend.checks import check
from n3instrument.frontend.parser import parse
from support.positions import at

ROOT = Path(__file__).resolve().parents[1]

BASE = '''app "T"
llm fast { provider: "mock" }
tool search { type: "mock", returns: { hits: 1 } }
memory notes { type: "buffer" }
prompt ask { model: fast, template: "Q: {{q}}", variables: ["q"] }
agent helper { llm: fast, tools: [search], memory: notes }
'''


def diagnose(extra: str, base: str = BASE):
    source = base + extra
    return source, check(parse(source, "app.ai"))


def only(extra: str, code: str, base: str = BASE):
    """The single diagnostic of `extra` added to a valid base program, which must be `code`."""
    source, diagnostics = diagnose(extra, base)
    assert [d.code for d in diagnostics] == [code], [d.header() for d in diagnostics]
    return source, diagnostics[0]


def where(diagnostic) -> tuple[int, int]:
    return diagnostic.loc.line, diagnostic.loc.column


def test_base_and_fixture_and_examples_are_clean():
    assert diagnose("")[1] == []
    program, diagnostics = check_file(ROOT / "tests/fixtures/frontend/valid.ai")
    assert program is not None and diagnostics == []


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*/app.ai")),
                         ids=lambda p: p.parent.name)
def test_examples_have_no_errors(path):
    program, diagnostics = check_file(path)
    assert program is not None
    assert [d.header() for d in diagnostics if d.is_error] == []


# --- duplicates -------------------------------------------------------------------------

def test_duplicate_app_points_at_the_second():
    source, d = only('app "Again"\n', "DUPLICATE_APP")
    assert where(d) == at(source, 'app "Again"')
    assert "line 1" in d.message and d.severity == "error"


def test_duplicate_declaration_points_at_second_name_and_mentions_first_line():
    source, d = only('tool search { type: "mock" }\n', "DUPLICATE_DECLARATION")
    assert where(d) == at(source, "search", 3)
    assert f"line {at(source, 'tool search')[0]}" in d.message


def test_same_name_in_different_kinds_is_allowed():
    assert diagnose('agent search { llm: fast }\n')[1] == []


# --- references -------------------------------------------------------------------------

@pytest.mark.parametrize("extra, needle, expected_kind", [
    ("agent a { llm: fast, tools: [search, browse] }\n", "browse", "tool"),
    ("agent a { llm: fast, memory: brain }\n", "brain", "memory"),
    ('chain c { steps: [ { kind: "tool", target: nothing } ] }\n', "nothing", "tool"),
    ('chain c { steps: [ { target: nothing } ] }\n', "nothing", "prompt"),
])
def test_undefined_references(extra, needle, expected_kind):
    source, d = only(extra, "UNDEFINED_REFERENCE")
    assert where(d) == at(source, needle, source.count(needle))
    assert d.loc.end_column == d.loc.column + len(needle)
    assert f"`{needle}`" in d.message and expected_kind in d.message


def test_reference_to_other_kind_says_what_it_is():
    source, d = only("agent a { llm: fast, memory: search }\n", "UNDEFINED_REFERENCE")
    assert d.hint == f"`search` is a tool (line {at(source, 'tool search')[0]}), not a memory"


def test_reference_suggests_close_name():
    _, d = only("agent a { llm: fast, tools: [serch] }\n", "UNDEFINED_REFERENCE")
    assert d.hint == "did you mean `search`?"


def test_quoted_reference_resolves_declarations_with_quoted_names():
    assert diagnose('llm "big model" {}\nagent a { llm: "big model" }\n')[1] == []
    _, d = only('agent a { llm: "big modle" }\n', "UNDECLARED_LLM")
    assert "big modle" in d.message


def test_step_target_must_have_the_step_kind():
    source, d = only('chain c { steps: [ { kind: "prompt", target: helper } ] }\n',
                     "UNDEFINED_REFERENCE")
    assert where(d) == at(source, "helper }")
    assert "not a declared prompt" in d.message and "is an agent" in d.hint


def test_step_targets_resolve_each_kind():
    extra = ('template greet { text: "hi" }\nchain sub { steps: "ask" }\n'
             'chain c { steps: [\n'
             '  { kind: "prompt", target: ask }\n  { kind: "llm", target: fast }\n'
             '  { kind: "tool", target: search }\n  { kind: "agent", target: helper }\n'
             '  { kind: "chain", target: sub }\n  { kind: "template", target: greet }\n] }\n')
    source, diagnostics = diagnose(extra)
    assert [d.code for d in diagnostics] == ["DECLARATIVE_KIND"]


def test_arrow_shorthand_points_inside_the_string():
    source, d = only('chain c { steps: "ask -> helpr -> search" }\n', "UNDEFINED_REFERENCE")
    assert where(d) == at(source, "helpr")
    assert d.loc.end_column == d.loc.column + len("helpr")
    assert "prompt, tool, agent or chain" in d.message and d.hint == "did you mean `helper`?"


def test_arrow_shorthand_does_not_accept_an_llm_and_rejects_empty_names():
    _, d = only('chain c { steps: "ask -> fast" }\n', "UNDEFINED_REFERENCE")
    assert "is an llm" in d.hint
    source, d = only('chain c { steps: "ask -> -> search" }\n', "INVALID_VALUE")
    assert where(d) == at(source, '"ask')


# --- values -----------------------------------------------------------------------------

@pytest.mark.parametrize("extra, needle, words", [
    ('llm m { temperature: "hot" }\n', '"hot"', "from 0 to 2"),
    ('llm m { temperature: 2.5 }\n', "2.5", "from 0 to 2"),
    ('llm m { provider: "nonesuch" }\n', '"nonesuch"', '"mock", "openai", "ollama"'),
    ("llm m { provider: openai }\n", "openai", "bare name"),
    ("llm m { max_tokens: 1.5 }\n", "1.5", "whole number"),
    ("llm m { max_tokens: 0 }\n", "0 }", "at least 1"),
    ("llm m { top_p: -0.1 }\n", "-0.1", "from 0 to 1"),
    ("llm m { model: 4 }\n", "4", "a string"),
    ('llm m { timeout: env("T") }\n', "env", "a number"),
    ("llm m { responses: {} }\n", "{}", "a list"),
    ('tool t { type: "http", endpoint: "u", method: "post" }\n', '"post"', "GET"),
    ('tool t { parameters: [1] }\n', "[1]", "an object"),
    ('memory x { kind: "long" }\n', '"long"', "conversation"),
    ("memory x { capacity: -1 }\n", "-1", "at least 1"),
    ("agent a { llm: fast, max_turns: 0 }\n", "0", "at least 1"),
    ("agent a { llm: fast, tools: search }\n", "search }", "list of tool names"),
    ("agent a { llm: fast, memory: 3 }\n", "3", "name of a memory"),
    ("prompt p { retries: true }\n", "true", "whole number"),
    ("chain c { steps: 3 }\n", "3", "list of steps"),
    ('app "Again" { version: 2 }\n', "2", "a string"),
])
def test_invalid_values(extra, needle, words):
    source, diagnostics = diagnose(extra)
    errors = [d for d in diagnostics if d.code == "INVALID_VALUE"]
    assert len(errors) == 1, [d.header() for d in diagnostics]
    assert where(errors[0]) == at(source, needle, source.count(needle))
    assert words in errors[0].message


def test_string_keys_accept_env_calls():
    assert diagnose('llm m { api_key: env("K"), base_url: env("U"), provider: env("P") }\n')[1] == []


def test_choice_hint_matches_case_and_spelling():
    _, d = only('tool t { type: "http", endpoint: "u", method: "post" }\n', "INVALID_VALUE")
    assert d.hint == 'did you mean "POST"?'
    _, d = only('llm m { provider: "opneai" }\n', "INVALID_VALUE")
    assert d.hint == 'did you mean "openai"?'


def test_bare_name_in_text_position_gets_a_quote_hint():
    _, d = only("llm m { model: gpt4 }\n", "INVALID_VALUE")
    assert 'model: "gpt4"' in d.hint
    source, d = only('tool t { returns: { a: [1, { b: yes }] } }\n', "INVALID_VALUE")
    assert where(d) == at(source, "yes")


def test_missing_required_key():
    source, d = only("agent lonely { tools: [search] }\n", "INVALID_VALUE")
    assert where(d) == at(source, "lonely")
    assert "needs `llm`" in d.message


def test_alias_satisfies_and_collides():
    assert diagnose('memory m2 { capacity: 3, kind: "buffer" }\n')[1] == []
    source, d = only("prompt p { llm: fast, model: fast }\n", "INVALID_VALUE")
    assert where(d) == at(source, "model: fast", source.count("model: fast"))
    assert "as `llm`" in d.message


def test_tool_type_requirements():
    source, d = only('tool py { type: "python" }\n', "INVALID_VALUE")
    assert where(d) == at(source, "py {") and "`function`" in d.message
    source, d = only('tool web { type: "http" }\n', "INVALID_VALUE")
    assert "`endpoint`" in d.message
    source, d = only('tool py { type: "python", function: "no_colon" }\n', "INVALID_VALUE")
    assert where(d) == at(source, '"no_colon"')


def test_header_values_are_strings():
    source, d = only('tool h { headers: { X: 1, Y: env("Y") } }\n', "INVALID_VALUE")
    assert where(d) == at(source, "1,")


def test_prompt_output_field_types():
    source, diagnostics = diagnose(
        'prompt p { output: { a: "text", b: "string", c: number, d: { x: "text" } } }\n')
    assert [where(d) for d in diagnostics] == [
        at(source, '"string"'), at(source, "number,"), at(source, '{ x:')]
    assert diagnostics[0].hint == 'did you mean "text"?'
    assert diagnostics[1].hint == 'did you mean "number"?'


def test_mock_responses_shape():
    extra = ('llm m { responses: [\n'
             '  { match: "ok", reply: "fine" }\n'
             '  { reply: "no match" }\n'
             '  { match: "(", reply: "bad regex" }\n'
             '  { match: "x", reply: "a", tool_call: { name: "t" } }\n'
             '  { match: "y", tool_call: { arguments: {} } }\n'
             '  { match: "z", reply: 5 }\n'
             '  "text"\n'
             '  { match: "w", reply: "r", weight: 2 }\n'
             '], fail_on: "[" }\n')
    source, diagnostics = diagnose(extra)
    got = [(d.code, where(d)) for d in diagnostics]
    # A response without `match` answers anything, and `reply` may come with a tool call
    # (its text sent beside the call), as docs/runtime.md says.
    assert got == [
        ("INVALID_VALUE", at(source, '"("')),
        ("INVALID_VALUE", at(source, "{ arguments")),
        ("INVALID_VALUE", at(source, "5 }")),
        ("INVALID_VALUE", at(source, '"text"')),
        ("UNKNOWN_KEY", at(source, "weight")),
        ("INVALID_VALUE", at(source, '"["')),
    ], [d.header() for d in diagnostics]


def test_chain_step_objects():
    extra = ('chain c { steps: [\n'
             '  { name: "a", kind: "promt", target: ask }\n'
             '  { name: "a", kind: "prompt", target: ask }\n'
             '  ask\n'
             '  { kind: "prompt" }\n'
             '  { kind: "template", template: "ok {{steps.a}}" }\n'
             '  { parallel: [ { kind: "tool", target: search, input: { q: query } } ], target: ask }\n'
             '  { target: ask, outptu: "x", when: 1 }\n'
             '] }\n')
    source, diagnostics = diagnose(extra)
    got = [(d.code, where(d)) for d in diagnostics]
    assert got == [
        ("INVALID_VALUE", at(source, '"promt"')),
        ("INVALID_VALUE", at(source, '"a"', 2)),
        ("INVALID_VALUE", at(source, "ask\n")),
        ("INVALID_VALUE", at(source, '{ kind: "prompt" }')),
        ("INVALID_VALUE", at(source, "query")),
        ("INVALID_VALUE", at(source, "target: ask }", 3)),
        ("UNKNOWN_KEY", at(source, "outptu")),
        ("INVALID_VALUE", at(source, "1 }\n] }")),
    ], [d.header() for d in diagnostics]
    assert diagnostics[0].hint == 'did you mean "prompt"?'
    assert diagnostics[6].hint == "did you mean `output`?"


# --- unknown keys and declarative kinds --------------------------------------------------

def test_unknown_keys_are_warnings_with_did_you_mean():
    source, d = only("llm m { temprature: 0.5 }\n", "UNKNOWN_KEY")
    assert d.severity == "warning" and d.hint == "did you mean `temperature`?"
    assert where(d) == at(source, "temprature")
    assert d.loc.end_column == d.loc.column + len("temprature")
    source, d = only('llm m { "quoted odd": 1 }\n', "UNKNOWN_KEY")
    assert d.loc.end_column == d.loc.column + len('"quoted odd"')
    assert "understands" in d.hint


def test_declarative_kinds_give_one_note_listing_the_kinds():
    source, diagnostics = diagnose(
        'page home { route: "/" }\ndataset users { source: db }\npage about {}\n')
    (d,) = diagnostics
    assert d.code == "DECLARATIVE_KIND" and d.severity == "note"
    assert where(d) == at(source, "page home")
    assert "`page` and `dataset`" in d.message


# --- the schema drives the checks --------------------------------------------------------

def test_checks_read_the_shared_schema(monkeypatch):
    kinds = dict(schema.KINDS)
    kinds["llm"] = dict(schema.KINDS["llm"], seed=Key("integer", minimum=0))
    monkeypatch.setattr(schema, "KINDS", kinds)
    assert diagnose("llm m { seed: 7 }\n")[1] == []
    _, d = only('llm m { seed: "x" }\n', "INVALID_VALUE")
    assert "whole number" in d.message


# --- whole runs ---------------------------------------------------------------------------

def test_all_independent_errors_in_source_order():
    extra = ('agent a { llm: nope }\n'
             'llm fast { temperature: 9 }\n'
             'llm m { tempreture: 1 }\n'
             'app "Second"\n'
             'chain c { steps: "missing" }\n')
    source, diagnostics = diagnose(extra)
    assert [(d.code, where(d)) for d in diagnostics] == [
        ("UNDECLARED_LLM", at(source, "nope")),
        ("DUPLICATE_DECLARATION", at(source, "fast {", 2)),
        ("INVALID_VALUE", at(source, "9 }")),
        ("UNKNOWN_KEY", at(source, "tempreture")),
        ("DUPLICATE_APP", at(source, 'app "Second"')),
        ("UNDEFINED_REFERENCE", at(source, "missing")),
    ]


def test_checks_are_deterministic():
    source = (ROOT / "tests/fixtures/frontend/invalid.ai").read_text()
    first = [d.to_dict() for d in check(parse(source, "invalid.ai"))]
    second = [d.to_dict() for d in check(parse(source, "invalid.ai"))]
    assert first == second and len(first) >= 5
    assert first == sorted(first, key=lambda d: (d["line"], d["column"]))
