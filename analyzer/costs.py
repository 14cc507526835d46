"""Token prices: a built-in table in `data/prices.json`, overridable per model by a file.

Prices are USD per 1000 tokens, split into input (prompt) and output (completion). A
model matches its exact name first, then the longest table entry it starts with, so
dated variants such as `gpt-4o-2024-08-06` find `gpt-4o`. The `mock` provider costs
nothing whatever its model is called.
"""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from .errors import PriceFileError
from .values import count


def _builtin():
    """The packaged table, read through importlib.resources so a zip or frozen app finds it."""
    return resources.files(__package__).joinpath("data").joinpath("prices.json")


def _load(path, what: str) -> dict:
    source = Path(path) if isinstance(path, (str, os.PathLike)) else path
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceFileError(f"{what} {path} cannot be read ({exc.strerror or exc}). Check "
                             "the path given to --prices.") from exc
    except ValueError as exc:
        raise PriceFileError(f"{what} {path} is not valid JSON ({exc}). It should look like "
                             '{"models": {"gpt-4o": {"input": 0.0025, "output": 0.01}}} with '
                             "USD per 1000 tokens.") from exc
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict):
        raise PriceFileError(f"{what} {path} has no \"models\" object. It should look like "
                             '{"models": {"gpt-4o": {"input": 0.0025, "output": 0.01}}} with '
                             "USD per 1000 tokens.")
    table = {}
    for name, row in models.items():
        if not isinstance(row, dict):
            raise PriceFileError(f"{what} {path}: models.{name} should be an object with "
                                 f"\"input\" and \"output\" prices, not {row!r}.")
        try:
            table[str(name)] = (float(row.get("input", 0.0)), float(row.get("output", 0.0)))
        except (TypeError, ValueError) as exc:
            raise PriceFileError(f"{what} {path}: models.{name} has a price that is not a "
                                 f"number ({row!r}); prices are USD per 1000 tokens.") from exc
        if min(table[str(name)]) < 0:
            raise PriceFileError(f"{what} {path}: models.{name} has a negative price.")
    return table


class PriceTable:
    """Looks up per-1k prices; remembers which models it could not price."""

    def __init__(self, override: str | None = None):
        self.table = _load(_builtin(), "the built-in price table")
        self.source = "built-in"
        if override:
            self.table.update(_load(override, "the price file"))
            self.source = f"built-in + {override}"
        self._cache: dict = {}
        self.unpriced: set = set()

    def lookup(self, model: str | None, provider: str | None = None):
        if provider == "mock":
            return (0.0, 0.0)
        key = (model or "")
        if key in self._cache:
            return self._cache[key]
        found = self.table.get(key)
        if found is None and key:
            best = ""
            for name in self.table:
                if key.startswith(name) and len(name) > len(best):
                    best = name
            found = self.table.get(best) if best else None
        self._cache[key] = found
        return found

    def cost(self, model, provider, prompt_tokens: int, completion_tokens: int):
        """USD, or None when the model has no price."""
        price = self.lookup(model, provider)
        if price is None:
            self.unpriced.add(model or "(unknown model)")
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1000.0


def usage_of(payload) -> tuple[int, int, int, int]:
    """(prompt, completion, total, unusable) tokens from an llm end payload; zeros when
    absent. A count that is there but not a usable number (NaN, a list, -5, 10**5000) is
    taken as absent and counted in `unusable`."""
    if not isinstance(payload, dict):
        return 0, 0, 0, 0
    usage = payload.get("usage")
    if usage is None:
        return 0, 0, 0, 0
    if not isinstance(usage, dict):
        return 0, 0, 0, 1
    p = count(usage.get("prompt_tokens", usage.get("input_tokens")))
    c = count(usage.get("completion_tokens", usage.get("output_tokens")))
    t = count(usage.get("total_tokens"))
    bad = (p < 0) + (c < 0) + (t < 0)
    p, c, t = max(p, 0), max(c, 0), max(t, 0)
    return p, c, t or p + c, bad
