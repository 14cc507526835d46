"""The lexer relies on two lark internals; this fails loudly when lark changes under it.

`lexer.Lexer` declares lark's `__future_interface__ = 2` (lark then hands it the lexer and
parser states) and reads `parser_state.parse_conf.states` to keep keywords contextual.
Neither is public API, so lark is pinned in pyproject.toml to the versions tested here.
"""
from __future__ import annotations

import re
from pathlib import Path

import lark
from lark.lexer import Lexer

from n3instrument.frontend import lexer, parser

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_installed_lark_is_inside_the_pinned_range():
    pin = re.search(r'"lark>=([\d.]+),<([\d.]+)"', PYPROJECT.read_text())
    assert pin, "pyproject.toml must pin lark to a tested range"
    low, high = _version(pin.group(1)), _version(pin.group(2))
    assert low <= _version(lark.__version__) < high, (
        f"lark {lark.__version__} is outside the tested range {pin.group(0)}: check "
        "lexer.Lexer's use of __future_interface__ and parse_conf.states, then widen the pin")


def test_lark_still_calls_the_lexer_with_the_parser_state():
    seen = []
    original = lexer.Lexer.lex

    def spy(self, lexer_state, parser_state):
        seen.append(parser_state)
        return original(self, lexer_state, parser_state)

    lexer.Lexer.lex = spy
    try:
        program = parser.parse('module "m"\nllm fast { module: "x" }\n', "app.ai")
    finally:
        lexer.Lexer.lex = original
    assert issubclass(lexer.Lexer, Lexer) and lexer.Lexer.__future_interface__ == 2
    assert seen and isinstance(seen[0].parse_conf.states, dict), "lark no longer passes parse_conf.states"
    assert program.module == "m"  # a keyword where the parser wants one
    assert [e.key for e in program.declarations[0].entries] == ["module"]  # a key elsewhere
