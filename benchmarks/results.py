"""The results table: one row per figure, our value beside the same run's peers.

Every benchmark module offers `collect(quick) -> list[Row]`; `python -m benchmarks`
gathers the rows and writes them twice, for people (RESULTS.md) and for machines
(RESULTS.json, which `python -m benchmarks compare` reads).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .measure import Stat

SCHEMA = 1


@dataclass
class Row:
    """One figure. `peers` were measured in the same rounds as `ours`; `better` says
    which direction is good ("lower" for costs, "higher" for throughputs); `measured`
    when and on what (`stamp`), kept by `--update` for the rows it does not run again."""

    area: str
    figure: str
    unit: str
    ours: Stat
    peers: dict = field(default_factory=dict)
    better: str = "lower"
    target: str = ""
    met: bool | None = None
    measured: str = ""

    def ratio(self, peer: str) -> float:
        """How many times better we are than `peer` (above 1: we win)."""
        ours, theirs = self.ours.median, self.peers[peer].median
        if self.better == "lower":
            return theirs / ours if ours else float("inf")
        return ours / theirs if theirs else float("inf")

    def as_dict(self) -> dict:
        return {"area": self.area, "figure": self.figure, "unit": self.unit,
                "better": self.better, "ours": self.ours.as_dict(),
                "peers": {name: stat.as_dict() for name, stat in self.peers.items()},
                "target": self.target, "met": self.met, "measured": self.measured}

    @classmethod
    def from_dict(cls, data: dict) -> "Row":
        return cls(data["area"], data["figure"], data["unit"], Stat.from_dict(data["ours"]),
                   {name: Stat.from_dict(s) for name, s in data.get("peers", {}).items()},
                   data.get("better", "lower"), data.get("target", ""), data.get("met"),
                   data.get("measured", ""))


def stamp(machine: dict) -> str:
    """A row's `measured`: the day, the CPU and its cores of the run that gave it."""
    day = str(machine.get("date", ""))[:10]
    return f"{day}, {machine.get('cpu')}, {machine.get('cores')} cores"


def number(value: float) -> str:
    """Three significant digits, thousands separated: figures, not noise."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def cell(stat: Stat) -> str:
    if stat.rounds == 1 or stat.low == stat.high:
        return number(stat.median)
    return f"{number(stat.median)} ({number(stat.low)}–{number(stat.high)})"


def to_markdown(rows: list, machine: dict, quick: bool) -> str:
    lines = ["# Benchmark results", "",
             "Written by `make bench`" + (" (QUICK=1: fewer rounds, wider spreads)" if quick
                                          else "") + ". Each cell is the median over "
             "interleaved rounds with the spread (min–max) in brackets; a peer's cell is "
             "followed by how many times better we are (×, above 1 means we win).", "",
             "## Machine", "",
             "The machine of the last run; each area says when and on what its rows were "
             "measured (`--update` keeps the rows it does not run again).", ""]
    for key, value in machine.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"- {key}: {value}")
    areas: dict = {}
    for row in rows:
        areas.setdefault(row.area, []).append(row)
    for area, members in areas.items():
        lines += ["", f"## {area}", ""]
        when = sorted({row.measured or "a run before rows were dated" for row in members})
        lines += [f"Measured: {'; '.join(when)}.", ""]
        lines += ["| figure | ours | peers (ours is N× better) | target |", "|---|---|---|---|"]
        for row in members:
            peers = "<br>".join(f"{name}: {cell(stat)} → {number(row.ratio(name))}×"
                                for name, stat in row.peers.items()) or "—"
            target = row.target or "—"
            if row.target and row.met is not None:
                target += " ✓" if row.met else " ✗ not met"
            lines.append(f"| {row.figure} ({row.unit}) | {cell(row.ours)} | {peers} | {target} |")
    return "\n".join(lines) + "\n"


def to_json(rows: list, machine: dict, quick: bool) -> str:
    return json.dumps({"schema": SCHEMA, "machine": machine, "quick": quick,
                       "rows": [row.as_dict() for row in rows]}, indent=1) + "\n"


def load(path: str) -> tuple:
    """(machine, rows) of a RESULTS.json; ValueError with the reason when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
        return data["machine"], [Row.from_dict(r) for r in data["rows"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a benchmark results file ({exc})") from exc


def merged(old: list, new: list) -> list:
    """`old` rows with those `new` measured again put in their place, then the rest of `new`.
    A row is its area, figure and unit: one figure may be given in two units."""
    fresh = {(r.area, r.figure, r.unit): r for r in new}
    return [fresh.pop((r.area, r.figure, r.unit), r) for r in old] + list(fresh.values())
