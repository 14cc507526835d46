"""Generated and mutated `.ai` files through the front end: a diagnostic, never a crash.

The standing guard for issue 8's front-end findings. Programs are generated from the
schema table the checker and the runtime share (every executable kind, its keys and
their value types, references between declarations, steps, strings with escapes, long
strings, env() values, nested data), and the examples and fixtures are mutated (bytes
flipped, files spliced and truncated, tokens duplicated and dropped). Whatever the text,
parsing and checking either succeed or give diagnostics that each render as one
paragraph headed `file:line:col`; no other exception, and no example may take longer
than PER_EXAMPLE seconds (SIGALRM interrupts a hang). A program without errors also
lowers to a `program.py` that compiles; generated programs without noise must have no
errors at all. A few of the inputs also go through the real `namel3ss` in subprocesses.

Bounded: a few seconds in the suite; N3_FUZZ_LONG=1 runs each target for
N3_FUZZ_SECONDS (default 150) and prints the counts.
"""
from __future__ import annotations

import functools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from n3core.runtime import schema
from n3instrument.frontend import FrontendError, check_file, load_source
from n3instrument.frontend.checks import check
from n3instrument.lowering import lower

ROOT = Path(__file__).resolve().parent.parent
LONG = os.environ.get("N3_FUZZ_LONG", "") not in ("", "0")
SECONDS = float(os.environ.get("N3_FUZZ_SECONDS", 150)) if LONG else 0.0
ROUNDS = 100_000 if LONG else 1  # hypothesis runs of EXAMPLES each, until SECONDS are spent
EXAMPLES = 200 if LONG else 30
PER_EXAMPLE = 10  # seconds before an input counts as a hang
MAX_BYTES = 64 * 1024
SEEDS = sorted([*ROOT.glob("examples/*/*.ai"), *ROOT.glob("tests/fixtures/**/*.ai")])
HEADER = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (error|warning|note)\[[A-Z_]+\]: ")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


class Counts:
    """What one target tried, printed in long runs."""

    def __init__(self, name: str) -> None:
        self.name, self.inputs, self.outcomes = name, 0, {}

    def add(self, outcome: str) -> None:
        self.inputs += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def report(self) -> None:
        if LONG:
            print(f"\nfuzz {self.name}: {self.inputs} inputs, "
                  f"{dict(sorted(self.outcomes.items()))}")


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"one input took longer than {PER_EXAMPLE} s")


def assert_diagnostics(diagnostics, text: str, file: str) -> None:
    lines = text.count("\n") + 1
    assert diagnostics, "a refusal must say why"
    for d in diagnostics:
        assert d.code and d.code.isupper(), d
        assert 1 <= d.loc.line <= lines + 1 and d.loc.column >= 1, (d, lines)
        shown = d.render(text)
        match = HEADER.match(shown)
        assert match, shown
        assert (match["file"], int(match["line"]), int(match["col"])) == (
            file, d.loc.line, d.loc.column)
        assert "\n\n" not in shown and "Traceback" not in shown, shown
        assert len(shown) < 2_000, "diagnostics cut long lines and messages"


def front_end(text: str, file: str = "app.ai", path: Path | None = None) -> str:
    """Parse, check and, without errors, lower and compile; the outcome's name."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_EXAMPLE)
    try:
        if path is None:
            try:
                program = load_source(text, file)
            except FrontendError as exc:
                assert_diagnostics(exc.diagnostics, text, file)
                return "syntax error"
            diagnostics = check(program)
        else:
            program, diagnostics = check_file(path)
            if program is None:
                assert_diagnostics(diagnostics, text, file)
                return "refused"
        if diagnostics:
            assert_diagnostics(diagnostics, text, file)
        if any(d.is_error for d in diagnostics):
            return "check errors"
        compile(lower(program), "program.py", "exec")
        return "built"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- generation --------------------------------------------------------------------------

_RESERVED = {"true", "false", "null", "env", "module", "import", "as", "language_version"}
# from_regex would be the obvious spelling, but it costs 16 ms a name
NAMES = st.builds(lambda head, rest: head + rest + ("_" if head + rest in _RESERVED else ""),
                  st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                  st.text("abcdefghijklmnopqrstuvwxyz0123456789_", max_size=8))
ENV_NAMES = st.builds(lambda head, rest: head + rest, st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                      st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", max_size=10))
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
NOISE = ['"text"', "12", "-3.5", "0", "true", "null", "[1, 2]", "{ a: 1 }", 'env("X")',
         '"""\n  x\n"""', "1e400", "99999999999999999999", "[]", "{}", '"(unclosed"',
         '"a{4294967296}"', "[ { match: 1 } ]", '"a -> -> b"', "[[[[1]]]]"]
REGEXES = st.sampled_from(["(?i)weather", r"\d+", "^hi$", "a|b", "[a-z]{2,4}", ".*"])
_ESCAPE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quoted(text: str) -> str:
    return '"' + "".join(_ESCAPE.get(c, c) for c in text) + '"'


def long_string(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"""')
    if body.endswith('"'):
        body += " "
    return '"""\n  ' + body.replace("\n", "\n  ") + '\n"""'


@functools.lru_cache(maxsize=None)
def strings(text=TEXT):
    return st.one_of(text.map(quoted), text.map(long_string),
                     ENV_NAMES.map(lambda n: f'env("{n}")'))


@functools.lru_cache(maxsize=None)  # a strategy is validated when built: build each once
def numbers(low=None, high=None, integer=False):
    low = 0 if low is None else low
    high = 10**6 if high is None else high
    if integer:
        return st.integers(int(low), int(high)).map(str)
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(
        lambda x: repr(float(x)).replace("e+", "e"))


@functools.lru_cache(maxsize=None)
def data_values():
    scalar = st.one_of(TEXT.map(quoted), numbers(-1e6, 1e6), st.integers(-10**30, 10**30).map(str),
                       st.sampled_from(["true", "false", "null"]))
    return st.recursive(scalar, lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(NAMES, inner, max_size=4).map(
            lambda d: "{ " + ", ".join(f"{k}: {v}" for k, v in d.items()) + " }")),
        max_leaves=6)


@st.composite
def steps(draw, declared: dict):
    """A chain's steps: a list of step objects (some parallel) or the arrow shorthand."""
    targets = [(k, n) for k, names in declared.items() for n in names
               if k in ("prompt", "tool", "agent", "llm")]
    if not targets:
        return '[ { name: "only", kind: "template", template: "{{input}}" } ]'
    if draw(st.booleans()):
        arrow = [n for k, n in targets if k in schema.ARROW_TARGET_KINDS]
        if arrow:
            return quoted(" -> ".join(draw(st.lists(st.sampled_from(arrow), min_size=1,
                                                    max_size=4))))
    used = iter(range(1000))

    def one():
        kind, name = draw(st.sampled_from(targets))
        extra = draw(st.sampled_from(["", ', input: { text: "{{input}}" }',
                                      ', when: "{{input}}"', ', output: "out"']))
        if "output" in extra:
            extra = f', output: "out{next(used)}"'
        return f'{{ name: "s{next(used)}", kind: "{kind}", target: {name}{extra} }}'

    items = [one() for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        items.append("{ parallel: [ " + ", ".join(one() for _ in range(2)) + " ] }")
    return "[\n    " + "\n    ".join(items) + "\n  ]"


def value_for(draw, kind: str, key: str, spec, declared: dict) -> str | None:
    if key == "responses":
        replies = draw(st.lists(st.tuples(REGEXES, TEXT), max_size=3))
        return "[ " + ", ".join(f"{{ match: {quoted(m)}, reply: {quoted(r)} }}"
                                for m, r in replies) + " ]"
    if key == "fail_on":
        return quoted(draw(REGEXES))
    if key == "function":
        return '"tools:run"'
    if key in ("variables", "input"):
        return "[" + ", ".join(quoted(n) for n in draw(st.lists(NAMES, max_size=3))) + "]"
    if key == "output":
        fields = draw(st.dictionaries(NAMES, st.sampled_from(schema.OUTPUT_FIELD_TYPES),
                                      max_size=3))
        return "{ " + ", ".join(f'{k}: "{v}"' for k, v in fields.items()) + " }"
    if key == "headers":
        return "{ Accept: " + draw(strings()) + " }"
    if spec.type == "string":
        if spec.choices:
            return quoted(draw(st.sampled_from(spec.choices)))
        return draw(strings())
    if spec.type in ("number", "integer"):
        return draw(numbers(spec.minimum, spec.maximum, spec.type == "integer"))
    if spec.type == "boolean":
        return draw(st.sampled_from(["true", "false"]))
    if spec.type in ("list", "object", "any"):
        value = draw(data_values())
        if spec.type == "list" and not value.startswith("["):
            value = f"[{value}]"
        if spec.type == "object" and not value.startswith("{"):
            value = "{ value: " + value + " }"
        return value
    if spec.type in ("ref", "refs"):
        names = [n for k in spec.ref_kinds for n in declared.get(k, ())]
        if spec.type == "ref":
            return draw(st.sampled_from(names)) if names else None
        return "[" + ", ".join(draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
                               if names else []) + "]"
    if spec.type == "steps":
        return draw(steps(declared))
    return None


@st.composite
def programs(draw, noise: bool):
    """A program of every kind in dependency order: llms and tools first, chains last."""
    kinds = ["llm", "tool", "memory", "prompt", "agent", "chain"]
    declared: dict = {}
    used: set = set()
    out = []
    if draw(st.booleans()):
        out.append("module " + draw(st.one_of(NAMES, TEXT.map(quoted))))
    if draw(st.booleans()):
        out.append("import " + ".".join(draw(st.lists(NAMES, min_size=1, max_size=3)))
                   + draw(st.sampled_from(["", " as alias"])))
    if draw(st.booleans()):
        out.append('language_version: "1.0"')
    if draw(st.booleans()):
        out.append("app " + quoted(draw(TEXT)) + " { description: " + draw(strings()) + " }")
    for kind in kinds:
        for _ in range(draw(st.integers(1 if kind == "llm" else 0, 2))):
            name = draw(NAMES)
            name = name if name not in used else f"{name}_{len(used)}"
            used.add(name)
            keys = schema.KINDS[kind]
            chosen = [k for k, spec in keys.items() if spec.required or (
                not spec.alias_of and draw(st.booleans()))]
            if kind == "tool":
                chosen = [k for k in chosen if k not in ("function", "endpoint")]
                tool_type = draw(st.sampled_from(schema.TOOL_TYPES))
                entries = [f'type: "{tool_type}"']
                if tool_type == "python":
                    entries.append('function: "tools:run"')
                elif tool_type == "http":
                    entries.append('endpoint: "http://127.0.0.1:9/x"')
                chosen = [k for k in chosen if k != "type"]
            else:
                entries = []
            for key in chosen:
                value = value_for(draw, kind, key, keys[key], declared)
                if value is not None:
                    entries.append(f"{key}: {value}")
            if noise:  # a known or unknown key with a value of any type, or a bare name
                entries += draw(st.lists(st.builds(
                    "{}: {}".format, st.one_of(st.sampled_from(list(keys)), NAMES),
                    st.one_of(st.sampled_from(NOISE), NAMES)), max_size=2))
            sep = draw(st.sampled_from(["\n  ", ", ", "\n  ,"]))
            out.append(f"{kind} {name} {{\n  " + sep.join(entries) + "\n}")
            declared.setdefault(kind, []).append(name)
    if noise and draw(st.booleans()):
        out.insert(draw(st.integers(0, len(out))),
                   draw(st.sampled_from(schema.DECLARATIVE_KINDS)) + " " + draw(NAMES)
                   + " { note: " + draw(strings()) + " }")
    comment = draw(st.sampled_from(["", "# generated 🚀\n", "\n\n"]))
    return comment + "\n\n".join(out) + "\n"


# -- mutation ------------------------------------------------------------------------------

TOKEN = re.compile(rb'"""|"(?:[^"\\\n]|\\.)*"|\w+|\s+|.', re.S)
INTERESTING = [b"{", b"}", b"[", b"]", b'"', b'"""', b"\\", b"\x00", b"\xff", b"\r",
               b"=", b":", b",", b"9" * 5000, b"env(", b"\n", b"#", b"\xe2\x82", b"{" * 80]


@st.composite
def mutants(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)).read_bytes())
    for _ in range(draw(st.integers(1, 5))):
        how = draw(st.sampled_from(["flip", "splice", "truncate", "duplicate", "drop",
                                    "insert"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "splice":
            other = draw(st.sampled_from(SEEDS)).read_bytes()
            data = data[:at] + other[draw(st.integers(0, len(other))):]
        elif how == "truncate":
            del data[at:]
        elif how in ("duplicate", "drop"):
            tokens = TOKEN.findall(bytes(data))
            if tokens:
                i = draw(st.integers(0, len(tokens) - 1))
                times = draw(st.sampled_from([0, 1, 2, 3, 70])) if how == "duplicate" else 0
                tokens[i:i + 1] = [tokens[i]] * (times + 1) if how == "duplicate" else []
                data = bytearray(b"".join(tokens))
        else:
            data[at:at] = draw(st.sampled_from(INTERESTING))
        del data[MAX_BYTES:]
    return bytes(data)


_FOLDER = Path(tempfile.mkdtemp(prefix="n3-frontend-fuzz-"))


def _check_bytes(data: bytes) -> str:
    path = _FOLDER / "app.ai"
    path.write_bytes(data)
    # the text as the front end reads it: universal newlines, so a lone \r ends a line too
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    return front_end(text, str(path), path)


def _run_target(name: str, strategy, check_one) -> Counts:
    counts = Counts(name)

    @FUZZ
    @given(strategy)
    def one(value):
        counts.add(check_one(value))

    end = time.monotonic() + SECONDS
    for _ in range(ROUNDS):
        one()
        if time.monotonic() >= end:
            break
    counts.report()
    return counts


def test_generated_programs_check_build_and_compile():
    def strict(text):
        outcome = front_end(text)
        assert outcome == "built", (outcome, text)
        return outcome

    counts = _run_target("frontend/generated", programs(noise=False), strict)
    assert counts.outcomes == {"built": counts.inputs}


def test_generated_programs_with_noise_give_diagnostics_or_build():
    counts = _run_target("frontend/generated-noisy", programs(noise=True), front_end)
    assert counts.inputs >= EXAMPLES and set(counts.outcomes) <= {
        "built", "check errors", "syntax error"}


def test_mutated_examples_give_diagnostics_or_build():
    assert len(SEEDS) >= 4, SEEDS
    counts = _run_target("frontend/mutated", mutants(), _check_bytes)
    assert counts.inputs >= EXAMPLES and set(counts.outcomes) <= {
        "built", "check errors", "refused"}


# -- the real command line ---------------------------------------------------------------

def _namel3ss(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_cli_agrees_with_the_front_end_on_mutants(tmp_path):
    rng = random.Random(8_008)
    for n in range(2):
        data = _mutate_plainly(rng)
        path = tmp_path / f"mutant{n}.ai"
        path.write_bytes(data)
        program, diagnostics = check_file(path)
        errors = sum(d.is_error for d in diagnostics)
        done = _namel3ss("check", path, "--format", "json", cwd=tmp_path)
        assert done.returncode == (1 if errors else 0), done.stderr
        assert "Traceback" not in done.stderr
        doc = json.loads(done.stdout)
        assert [(d["code"], d["line"], d["column"]) for d in doc["diagnostics"]] == [
            (d.code, d.loc.line, d.loc.column) for d in diagnostics]
        text = _namel3ss("check", path, cwd=tmp_path)
        assert text.returncode == done.returncode and "Traceback" not in text.stderr
        for d in diagnostics:
            assert f"{path}:{d.loc.line}:{d.loc.column}: {d.severity}[{d.code}]" in text.stderr


def _mutate_plainly(rng: random.Random) -> bytes:
    """A seed with bytes flipped and a bracket dropped, from a fixed random sequence."""
    data = bytearray(rng.choice(SEEDS).read_bytes())
    for _ in range(3):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    brace = data.find(b"}")
    if brace >= 0:
        del data[brace]
    return bytes(data)


@settings(max_examples=1, deadline=None, database=None, derandomize=True)
@given(programs(noise=False))
def test_a_generated_program_builds_with_the_cli_and_its_program_compiles(text):
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "app.ai"
        source.write_text(text, "utf-8")
        done = _namel3ss("build", source, "-o", Path(folder) / "out", cwd=folder)
        assert done.returncode == 0, done.stderr
        program = (Path(folder) / "out" / "program.py").read_text("utf-8")
        compile(program, "program.py", "exec")
