"""Parser: the lexical rules and program structure of LANGUAGE.md, valid and invalid."""
from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from n3core.runtime import schema
from n3instrument.frontend import FrontendError, check_file, load, load_source
from n3instrument.frontend.nodes import (
    Boolean, EnvCall, ListValue, Null, Number, ObjectValue, Reference, String,
)
from n3instrument.frontend.parser import parse
from support.positions import at
from support.syntax import syntax_error

ROOT = Path(__file__).resolve().parents[1]


def value_of(text: str):
    return parse(f"llm x {{\n  v: {text}\n}}\n", "app.ai").declarations[0].get("v")


# --- program structure ------------------------------------------------------------------

def test_header_lines_and_app():
    src = ('module billing   # optional\nimport ai.models.gpt as gpt\nimport tools.search\n'
           'language_version: "1.0"\napp "Billing" { description: "d" }\n')
    program = parse(src, "app.ai")
    assert program.module == "billing"
    assert [(i.path, i.alias) for i in program.imports] == [
        ("ai.models.gpt", "gpt"), ("tools.search", None)]
    assert program.language_version == "1.0"
    assert program.app.name == "Billing"
    assert program.app.get("description") == String("d", program.app.get("description").loc)
    assert (program.imports[0].loc.line, program.imports[0].loc.column) == at(src, "import ai")
    assert program.imports[0].loc.end_column == len("import ai.models.gpt as gpt") + 1


def test_empty_and_comment_only_files():
    for source in ("", "\n\n", "# only a comment 🚀\n"):
        program = parse(source, "a.ai")
        assert program.declarations == () and program.module is None and program.app is None


def test_module_name_may_be_a_string():
    assert parse('module "billing v2"\n', "a.ai").module == "billing v2"


def test_app_block_is_optional():
    program = parse('app "Demo"\nllm m { provider: "mock" }\n', "a.ai")
    assert program.app.entries == ()
    assert [d.kind for d in program.declarations] == ["app", "llm"]


@pytest.mark.parametrize("kind", [k for k in schema.ALL_KINDS if k != "app"])
def test_every_kind_parses_with_identifier_or_string_name(kind):
    program = parse(f'{kind} first {{ a: 1 }}\n{kind} "second one" {{}}\n', "a.ai")
    assert [(d.kind, d.name) for d in program.declarations] == [
        (kind, "first"), (kind, "second one")]


def test_declaration_locations():
    src = 'app "A"\n\nagent  helper {\n  llm: fast\n}\n'
    decl = parse(src, "app.ai").declarations[1]
    assert (decl.loc.line, decl.loc.column) == at(src, "agent")
    assert (decl.loc.end_line, decl.loc.end_column) == (5, 2)
    assert (decl.name_loc.line, decl.name_loc.column) == at(src, "helper")
    assert decl.name_loc.end_column == at(src, "helper")[1] + len("helper")
    entry = decl.entry("llm")
    assert (entry.loc.line, entry.loc.column) == at(src, "llm:")
    assert (entry.value.loc.line, entry.value.loc.column) == at(src, "fast")
    assert entry.value.loc.file == "app.ai"


def test_keywords_are_ordinary_keys_and_names_inside_blocks():
    program = parse('tool t { module: "m", import: 1, true: false, null: null, env: env }\n',
                    "a.ai")
    entries = program.declarations[0].entries
    assert [e.key for e in entries] == ["module", "import", "true", "null", "env"]
    assert isinstance(entries[2].value, Boolean) and entries[2].value.value is False
    assert isinstance(entries[3].value, Null)
    assert entries[4].value.name == "env" and isinstance(entries[4].value, Reference)


# --- values -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("12", 12), ("-3", -3), ("0.7", 0.7), ("1e-3", 0.001), ("2E3", 2000.0), ("-0.5", -0.5),
])
def test_numbers(text, expected):
    value = value_of(text)
    assert isinstance(value, Number)
    assert value.value == expected and type(value.value) is type(expected)


@pytest.mark.parametrize("text, expected", [
    ('"plain"', "plain"), ("'single'", "single"), ('""', ""),
    (r'"a\nb\tc\rd"', "a\nb\tc\rd"), (r'"q\"q\'q\\"', "q\"q'q\\"),
    (r'"\{\{x\}\}"', r"\{\{x\}\}"), (r'"\d+ stays"', r"\d+ stays"),
    ('"# not a comment"', "# not a comment"), ('"🚀 ok"', "🚀 ok"),
    ('"key: {{env.OPENAI_API_KEY}}"', "key: {{env.OPENAI_API_KEY}}"),
])
def test_strings_and_escapes(text, expected):
    value = value_of(text)
    assert isinstance(value, String) and value.value == expected


def test_triple_quoted_strings_drop_first_newline_and_common_indent():
    src = 'prompt p {\n  template: """\n      Hello {{name}}\n        indented \\"x\\"\n      """\n}\n'
    value = parse(src, "a.ai").declarations[0].get("template")
    assert value.value == 'Hello {{name}}\n  indented "x"\n'
    assert (value.loc.line, value.loc.column) == at(src, '"""')
    assert (value.loc.end_line, value.loc.end_column) == (5, 10)


def test_triple_quoted_string_on_one_line():
    assert value_of('"""say "hi" there"""').value == 'say "hi" there'


def test_literals_reference_and_env_call():
    assert value_of("true") == Boolean(True, value_of("true").loc)
    assert value_of("false").value is False
    assert isinstance(value_of("null"), Null)
    ref = value_of("research_llm")
    assert isinstance(ref, Reference) and ref.name == "research_llm"
    env = value_of('env("OPENAI_API_KEY")')
    assert isinstance(env, EnvCall) and env.name == "OPENAI_API_KEY"
    assert env.loc.end_column - env.loc.column == len('env("OPENAI_API_KEY")')


def test_lists_with_and_without_commas():
    src = 'agent a {\n  tools: [\n    search   # first\n    "x",\n    save_note,\n  ]\n  v: [1, 2,3]\n}\n'
    decl = parse(src, "a.ai").declarations[0]
    tools = decl.get("tools")
    assert isinstance(tools, ListValue)
    assert [type(i).__name__ for i in tools.items] == ["Reference", "String", "Reference"]
    assert [i.value for i in decl.get("v").items] == [1, 2, 3]
    assert (tools.loc.line, tools.loc.column) == at(src, "[")
    assert value_of("[]").items == ()


def test_objects_nest_with_string_keys_and_either_separator():
    src = ('tool t {\n  parameters: {\n    type: "object", "odd key": 1\n'
           '    properties: { q: { type: "string" } }\n  }\n}\n')
    params = parse(src, "a.ai").declarations[0].get("parameters")
    assert isinstance(params, ObjectValue)
    assert [e.key for e in params.entries] == ["type", "odd key", "properties"]
    assert params.get("properties").get("q").get("type").value == "string"
    assert (params.entries[1].loc.line, params.entries[1].loc.column) == at(src, '"odd key"')


def test_comments_and_emoji_anywhere():
    src = ('# 🚀 header\napp "A" # after name\n{ # open\n  description: "x" # 🎉 after value\n'
           '  # a whole line\n}\n# end')
    assert parse(src, "a.ai").app.get("description").value == "x"


def test_crlf_and_byte_order_mark():
    program = parse('\ufeffllm m {\r\n  model: "x"\r\n}\r\n', "a.ai")
    value = program.declarations[0].get("model")
    assert value.value == "x" and (value.loc.line, value.loc.column) == (2, 10)


def test_unicode_identifiers():
    assert parse("tool café { a: naïve }\n", "a.ai").declarations[0].get("a").name == "naïve"


# --- syntax errors ----------------------------------------------------------------------

SYNTAX_ERRORS = [
    # (source, needle the error must point at, words the message must contain)
    ("llm a {\n  temperature = 0.7\n}\n", "= 0.7", "`key: value`"),
    ('app Demo { }\n', "Demo", "quoted"),
    ("llm a\nagent b { llm: a }\n", "llm a", "needs a block"),
    ("agent b { llm: a }\ntool t\n", "tool t", "needs a block"),
    ('app "x" { version: 1.0.0 }\n', "1.0.0", "not a number"),
    ('llm a {\n  model: "gpt\n}\n', '"gpt', "unclosed string"),
    ("llm a { model: 'gpt }\n", "'gpt", "unclosed string"),
    ('llm a {\n  template: """never\n  closed\n}\n', '"""', "never closed"),
    ('llm a {\n  model: "two\nlines"\n}\n', '"two', "unclosed string"),
    ("import\nllm a { }\n", "import", "`import`"),
    ('import "x"\n', '"x"', "`import`"),
    ("llm a {\n  {\n}\n", "{\n}", "stray `{`"),
    ('llm a { model: "x" { }\n', "{ }", "stray `{`"),
    ("llm a { } {\n", "{\n", "stray `{`"),
    ("llm a {\n  invalid syntax here\n}\n", "syntax", "only `key: value` entries"),
    ("invalid syntax here\n", "invalid", "unknown declaration kind"),
    ("agnet a { }\n", "agnet", "unknown declaration kind"),
    ("foo: 1\n", ":", "top level"),
    ("llm { }\n", "{", "needs a name"),
    ("llm a { model: }\n", "}", "missing value after `model:`"),
    ('llm a { model "x" }\n', '"x"', "expected `:`"),
    ('llm a {\n  model: "x"\n', "{", "never closed"),
    ("llm a {\n  responses: [\n", "[", "never closed"),
    ('llm a { model: "x" provider: "mock" }\n', "provider", "separated by a comma"),
    ("agent a { tools: [a b] }\n", "b]", "separated by a comma"),
    ("llm a { }\n} # extra\n", "} #", "unmatched `}`"),
    ('llm a { api_key: foo("x") }\n', "foo(", "only `env"),
    ('llm a { api_key: env("") }\n', '""', "env()"),
    ("llm a { max_tokens: 12abc }\n", "12abc", "not a valid number"),
    ("module a\nmodule b\n", "module b", "twice"),
    ("// comment\n", "//", "`#`"),
    ("llm a { x: $y }\n", "$", "unexpected character"),
    ("llm a { x: 1,, }\n", ", }", "unexpected `,`"),
]


@pytest.mark.parametrize("source, needle, words", SYNTAX_ERRORS,
                         ids=[case[2] or case[0][:20] for case in SYNTAX_ERRORS])
def test_syntax_errors_point_at_the_mistake(source, needle, words):
    diagnostic = syntax_error(source)
    line, column = at(source, needle)
    assert (diagnostic.loc.line, diagnostic.loc.column) == (line, column), diagnostic.render(source)
    assert words in diagnostic.message
    assert diagnostic.hint is None or "\n" not in diagnostic.hint


def test_key_equals_value_hint_shows_the_fix():
    diagnostic = syntax_error("llm a {\n  temperature = 0.7\n}\n")
    assert diagnostic.hint == "write `temperature: 0.7`"


def test_unknown_kind_suggests_the_closest():
    assert syntax_error("agnet a { }\n").hint == "did you mean `agent`?"


def test_error_span_covers_the_word():
    source = 'app "x" { version: 1.0.0 }\n'
    loc = syntax_error(source).loc
    assert loc.end_column - loc.column == len("1.0.0")


def test_any_damaged_program_gives_a_syntax_error_never_a_traceback():
    source = (ROOT / "tests/fixtures/frontend/valid.ai").read_text()
    parse(source, "valid.ai")
    for cut in range(0, len(source), 7):
        for damaged in (source[:cut], source[:cut] + source[cut + 1:],
                        source[:cut] + "=" + source[cut:], source[:cut] + '"' + source[cut:]):
            try:
                parse(damaged, "d.ai")
            except FrontendError as exc:
                assert exc.diagnostics[0].code == "SYNTAX_ERROR"
                assert exc.diagnostics[0].loc.line >= 1


# --- loading ----------------------------------------------------------------------------

def test_load_check_file_and_unreadable_files(tmp_path):
    good = tmp_path / "app.ai"
    good.write_text('app "A"\n', encoding="utf-8")
    assert load(good).app.name == "A"
    assert load(good).file == str(good)
    bad = tmp_path / "bad.ai"
    bad.write_text("llm a {\n", encoding="utf-8")
    program, diagnostics = check_file(bad)
    assert program is None and [d.code for d in diagnostics] == ["SYNTAX_ERROR"]
    program, diagnostics = check_file(tmp_path / "missing.ai")
    assert program is None and diagnostics[0].code == "IO_ERROR"
    latin = tmp_path / "latin.ai"
    latin.write_bytes(b'app "caf\xe9"\n')
    with pytest.raises(FrontendError) as info:
        load(latin)
    assert "UTF-8" in info.value.diagnostics[0].message


def test_load_source_defaults_and_determinism():
    source = (ROOT / "tests/fixtures/frontend/valid.ai").read_text()
    assert load_source(source, "v.ai") == load_source(source, "v.ai")
    assert load_source('app "A"\n').file == "<string>"


def test_grammar_is_package_data():
    grammar = importlib.resources.files("n3instrument.frontend").joinpath("namel3ss.lark")
    assert grammar.is_file()
    assert "declaration" in grammar.read_text()


def test_importing_the_front_end_does_not_load_lark():
    code = ("import sys, n3instrument.frontend, n3instrument.frontend.checks; "
            "print('lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_parses_from_a_zip(tmp_path):
    archive = tmp_path / "frontend.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for package in ("n3instrument", "n3core"):
            for path in (ROOT / package).rglob("*"):
                if path.suffix in (".py", ".lark") and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(ROOT).as_posix())
    code = ("import n3instrument.frontend as f; "
            "print(f.load_source('llm m { provider: \"mock\" }').declarations[0].kind, "
            "f.__file__)")
    env = dict(os.environ, PYTHONPATH=str(archive))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, check=True)
    kind, where = out.stdout.split()
    assert kind == "llm" and "frontend.zip" in where


def test_parsers_in_threads_give_each_node_its_own_file():
    """The file a Location names belongs to the parse, not to a module global."""
    from concurrent.futures import ThreadPoolExecutor

    from n3instrument.frontend.parser import Parser, shared_parser

    source = 'llm a { provider: "mock", model: "m" }\n' * 50

    def files(index: int) -> set:
        parser = Parser() if index % 2 else shared_parser()
        items = parser.items(source, f"app{index}.ai")
        return {item.loc.file for item in items}

    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(files, range(8)))
    assert found == [{f"app{i}.ai"} for i in range(8)]


def test_a_problem_the_lexer_finds_names_the_file():
    from n3instrument.frontend.lexer import MAX_NESTING

    source = "tool t { returns: " + "[" * (MAX_NESTING + 2) + "1" + "]" * (MAX_NESTING + 2) + " }\n"
    with pytest.raises(FrontendError) as caught:
        parse(source, "deep.ai")
    assert caught.value.diagnostics[0].loc.file == "deep.ai"
