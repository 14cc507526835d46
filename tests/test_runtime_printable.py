"""A run's result is printed whatever it holds: no traceback, one note for what was replaced."""
from __future__ import annotations

import json
import math

import pytest

from n3core.runtime import entry
from n3core.runtime.printable import MAX_DEPTH, printable


class Unprintable:
    def __repr__(self):
        raise RuntimeError("repr")

    __str__ = __repr__


def _cyclic():
    value: dict = {"a": 1}
    value["self"] = value
    return value


def _deep(n):
    value: list = []
    for _ in range(n):
        value = [value]
    return value


AWKWARD = {
    "cycle": (_cyclic(), "cycles"),
    "huge int": ({"n": 10**5000}, "integers too long"),
    "tuple key": ({(1, 2): "x"}, "keys that are not strings"),
    "raising repr": ([Unprintable()], "cannot be turned into text"),
    "deep": (_deep(10_000), "nested deeper"),
    "nan": ({"x": math.nan}, "NaN"),
}


@pytest.mark.parametrize("name", AWKWARD)
@pytest.mark.parametrize("as_json", [True, False])
def test_awkward_results_print_as_valid_json_with_one_note(capsys, name, as_json):
    value, reason = AWKWARD[name]
    entry._print_result(value, as_json)
    out, err = capsys.readouterr()
    json.loads(out, parse_constant=pytest.fail)
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err


def test_plain_results_print_as_before_and_say_nothing(capsys):
    result = {"answer": "yes", "n": [1, 2.5, None, True]}
    entry._print_result(result, True)
    out, err = capsys.readouterr()
    assert json.loads(out) == result and err == ""


def test_the_copy_keeps_what_it_can():
    value, notes = printable({"ok": [1, "two"], (3,): _deep(MAX_DEPTH + 5)})
    assert value["ok"] == [1, "two"] and notes
    inner = value["(3,)"]
    depth = 0
    while isinstance(inner, list):
        inner, depth = inner[0], depth + 1
    assert inner == "<nested too deep>" and depth == MAX_DEPTH - 1
