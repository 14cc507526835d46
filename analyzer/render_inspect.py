"""Render inspect documents: overview, one event with its source lines, spans, the tree."""
from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.text import Text
from rich.tree import Tree

from .render import _num, _table, format_label, location


def render(console, doc: dict) -> None:
    view = doc["view"]
    if view == "overview":
        _overview(console, doc)
    elif view == "event":
        _event(console, doc)
    elif view == "tree":
        _tree(console, doc)
    else:
        _spans(console, doc)


def _overview(console, doc):
    console.print(Text(f"trace {doc['path']} ({format_label(doc['format'], doc['format_version'])})",
                       style="bold"))
    console.print(f"run {doc['run_id'] or '-'}: {_num(doc['events'])} events over "
                  f"{_num(doc['duration_ms'])} ms; " +
                  ", ".join(f"{k} {v}" for k, v in doc["by_kind"].items()))
    table = _table(console, "Components", ["component", "name", "events count", "event types"])
    for r in doc["components"]:
        table.add_row(r["component"], r["name"], _num(r["events"]), ", ".join(r["event_types"]))
    console.print(table)


def _event(console, doc):
    site = doc["site"]
    loc = f"{site['file']}:{site['line']}:{site['column']}"
    where = f" at {location(loc)}" if site.get("file") else ""
    console.print(Text(f"event #{doc['index']}: {site['event_type']} {doc['kind']} "
                       f"({site['component']}:{site['name']}){where}", style="bold"))
    console.print(f"span {doc['span']}  parent {doc['parent']}  task {doc['task']}  "
                  f"ts {doc['ts_ns']}")
    console.print(Syntax(json.dumps(doc["payload"], indent=2, allow_nan=False), "json",
                         theme="ansi_dark", background_color="default", word_wrap=True))
    if doc.get("source"):
        for row in doc["source"]:
            mark = ">" if row["current"] else " "
            style = "bold reverse" if row["current"] else ""
            console.print(Text(f"{mark} {row['line']:5d} | {row['text']}", style=style))
    elif doc.get("source_not_shown"):
        console.print(Text(f"source not shown: {doc['source_not_shown']}", style="dim"))


def _spans(console, doc):
    table = _table(console, "Spans", ["span", "event type", "component", "at ms", "duration ms",
                                      "status", "source"])
    for r in doc["spans"]:
        table.add_row(str(r["span"]), r["event_type"], f"{r['component']}:{r['name']}",
                      _num(r["start_offset_ms"]), _num(r["duration_ms"]), r["status"],
                      location(r["location"]))
    console.print(table)
    # Under the table, not in it: a long error message in a cell squeezes the other columns.
    for r in doc["spans"]:
        if r.get("error"):
            console.print(f"span {r['span']}: {r['error'].get('type')}: "
                          f"{r['error'].get('message')} ({r['component']}:{r['name']})")
    for e in doc["errors"]:
        console.print(f"event #{e['event']}: {e['type']}: {e['message']} "
                      f"({e['component']}:{e['name']}, in span {e['parent']})")
    if doc["omitted"]:
        console.print(f"... {doc['omitted']} more (raise --limit)")


def _tree(console, doc):
    root = Tree(Text(doc["path"], style="bold"))
    nodes = {}
    for r in doc["spans"]:
        label = Text(f"{r['event_type']} {r['component']}:{r['name']} "
                     f"{_num(r['duration_ms'])} ms" + ("" if r["status"] == "ok" else f" [{r['status']}]"),
                     style="red" if r["status"] == "error" else "")
        parent = nodes.get(r["parent"], root)
        nodes[r["span"]] = parent.add(label)
    console.print(root)
    if doc["omitted"]:
        console.print(f"... {doc['omitted']} more spans (raise --limit)")
