"""`python -m benchmarks compare OLD.json NEW.json`: what changed between two runs.

A figure is flagged when its median moved by more than its spread (the wider of the two
runs' min–max ranges): smaller moves are within what the machine's noise already showed.
"""
from __future__ import annotations

from .measure import Stat
from .results import Row, load, number


def moved(old: Stat, new: Stat) -> bool:
    spread = max(old.high - old.low, new.high - new.low)
    return abs(new.median - old.median) > spread


def changes(old_rows: list, new_rows: list) -> list:
    """(label, old Stat, new Stat, better) for every figure present in both runs."""
    old_by_key = {(r.area, r.figure): r for r in old_rows}
    found = []
    for new in new_rows:
        old: Row | None = old_by_key.get((new.area, new.figure))
        if old is None:
            continue
        label = f"{new.area}: {new.figure} ({new.unit})"
        found.append((label, old.ours, new.ours, new.better))
        for peer, stat in new.peers.items():
            if peer in old.peers:
                found.append((f"{label} — {peer}", old.peers[peer], stat, new.better))
    return found


def report(old_path: str, new_path: str) -> str:
    (_, old_rows), (_, new_rows) = load(old_path), load(new_path)
    lines = []
    flagged = 0
    for label, old, new, better in changes(old_rows, new_rows):
        pct = (new.median - old.median) / old.median * 100 if old.median else float("inf")
        flag = ""
        if moved(old, new):
            worse = (new.median > old.median) == (better == "lower")
            flag = "  << slower/worse" if worse else "  << faster/better"
            flagged += 1
        lines.append(f"{label}: {number(old.median)} -> {number(new.median)} ({pct:+.1f}%){flag}")
    keys_old = {(r.area, r.figure) for r in old_rows}
    keys_new = {(r.area, r.figure) for r in new_rows}
    for area, figure in sorted(keys_old - keys_new):
        lines.append(f"{area}: {figure}: only in {old_path}")
    for area, figure in sorted(keys_new - keys_old):
        lines.append(f"{area}: {figure}: only in {new_path}")
    lines.append(f"{flagged} figure(s) moved by more than their spread")
    return "\n".join(lines)
