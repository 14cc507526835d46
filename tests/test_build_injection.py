"""Names and texts from a `.ai` file can never add code to `program.py`.

Each hostile text goes into every place lowering writes user text (module, language
version, import path, app and declaration names, keys, values, env names, the file's own
name); the generated module must compile to the same tree as a benign build, with only
its string constants differing, and running the build must not run anything the text says.
"""
import ast
import subprocess
import sys
from collections import Counter

import pytest

from n3instrument.build import build
from n3instrument.frontend import load
from n3instrument.lowering import lower
from n3instrument.quoting import COMMENT, DOCSTRING, quote

PAYLOAD = 'print("INJECTED", "CODE", "RAN")'  # prints a text its source does not hold
HOSTILE = [
    '"""\n' + PAYLOAD + '\nx="""',
    "'''\n" + PAYLOAD + "\nx='''",
    '"\n' + PAYLOAD + "\n#",
    "'\n" + PAYLOAD + "\n#",
    "\\",
    "ends with a backslash \\",
    "C:\\Users\\me",
    "\\N{BULLET} and \\U0001F680 and \\x41 and \\u0041",
    "\\N",
    "\\U",
    "\r" + PAYLOAD,
    "\x00" + PAYLOAD,
    "\x0c\x0b\x1b[31m",
    "\u2028" + PAYLOAD + "\u2029",
    "}} {{ ) ] ,\n" + PAYLOAD,
]
# File names cannot hold NUL or "/", everything else is allowed.
HOSTILE_FILES = [h for h in HOSTILE if "\x00" not in h and "/" not in h]
BENIGN = "benign"


def ai_string(text: str) -> str:
    """`text` as a `.ai` string literal (NUL and other control characters stay raw)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def program_text(text: str) -> str:
    s = ai_string(text)
    return f"""module {s}
language_version: {s}
import pkg.tools as helpers
app {s} {{ description: {s}, {s}: [{s}, {{ {s}: {s} }}] }}
llm {s} {{ provider: "mock", model: {s}, api_key: env({s}) }}
tool {s} {{ type: "mock", description: {s}, returns: {{ {s}: {s} }} }}
agent {s} {{ llm: {s}, tools: [{s}], system_prompt: {s} }}
chain {s} {{ steps: [ {{ name: "one", kind: "tool", target: {s}, input: {s} }} ] }}
page {s} {{ {s}: {s} }}
"""


def write(tmp_path, text: str, filename: str = "app.ai"):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    path = folder / filename
    path.write_text(program_text(text), encoding="utf-8")
    return path


def shape(code: str) -> Counter:
    """The generated tree with every constant replaced by its type (texts and columns vary)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = type(node.value).__name__
    nodes = Counter(type(node).__name__ for node in ast.walk(tree))
    nodes[ast.dump(tree)] += 1
    return nodes


def strings(code: str) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@pytest.fixture(scope="module")
def benign_shape(tmp_path_factory):
    return shape(lower(load(write(tmp_path_factory.mktemp("benign"), BENIGN))))


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_hostile_text_compiles_to_the_benign_tree(tmp_path, benign_shape, text):
    program = load(write(tmp_path, text))
    code = lower(program)
    compile(code, "program.py", "exec")
    assert shape(code) == benign_shape
    assert text in strings(code), "the text reaches the program unchanged"


@pytest.mark.parametrize("name", HOSTILE_FILES, ids=repr)
def test_hostile_file_name_compiles_to_the_benign_tree(tmp_path, benign_shape, name):
    path = write(tmp_path, BENIGN, name + ".ai")
    code = lower(load(path))
    compile(code, "program.py", "exec")
    assert shape(code) == benign_shape
    assert path.name in strings(code), "the file name reaches the program unchanged"


def test_the_docstring_reads_back_as_the_module_name(tmp_path):
    module = HOSTILE[0]
    code = lower(load(write(tmp_path, module)))
    doc = ast.get_docstring(ast.parse(code), clean=False)
    assert f"Module: {module}." in doc


def test_comments_stay_on_their_line(tmp_path):
    path = write(tmp_path, BENIGN, "x\n" + PAYLOAD + "\r\u2028.ai")
    lines = lower(load(path)).split("\n")
    comments = [line for line in lines if line.startswith("#")]
    assert len(comments) == 5 and all(c.endswith(":1") for c in comments), comments
    assert not [line for line in lines if line.startswith("print")]


@pytest.mark.parametrize("text", [HOSTILE[0], HOSTILE[2], "\x00" + PAYLOAD, "C:\\Users\\me"], ids=repr)
def test_running_a_hostile_build_runs_nothing_it_says(tmp_path, text):
    source = write(tmp_path, text, (text.replace("\x00", "") + ".ai").replace("/", ""))
    out = tmp_path / "build"
    build(source, out)
    done = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "INJECTED CODE RAN" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, str(out), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "INJECTED" not in done.stdout + done.stderr


@pytest.mark.parametrize("inside", [COMMENT, DOCSTRING])
@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_quote_keeps_text_on_one_line_and_inside_its_quotes(text, inside):
    quoted = quote(text, inside)
    assert quoted.isprintable() and '"' not in quoted.replace('\\"', "")
    assert ast.literal_eval('"""' + quoted + '"""') == text


def test_quote_refuses_an_unknown_place():
    with pytest.raises(ValueError, match="inside must be"):
        quote("x", "header")
