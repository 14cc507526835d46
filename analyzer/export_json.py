"""JSON for the exports: payloads made plain by `values.jsonable` are written by `dumps`,
which refuses NaN as a backstop, and read back by `loads_strict`, as strict receivers do."""
from __future__ import annotations

import json



def _refuse(name):
    raise ValueError(f"{name} is not valid JSON")


def dumps(value, **kw) -> str:
    """json.dumps of a value already made plain; raises instead of writing NaN."""
    return json.dumps(value, allow_nan=False, **kw)


def loads_strict(text: str):
    """json.loads that refuses NaN and Infinity, as strict receivers do."""
    return json.loads(text, parse_constant=_refuse)
