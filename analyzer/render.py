"""Render an analysis result (the JSON document) as rich tables, or plain text when piped."""
from __future__ import annotations

import math
import os
import re

from rich import box
from rich.table import Table
from rich.text import Text

from .console import is_plain


def _box(console):
    return None if is_plain(console) else box.SIMPLE_HEAD


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def usd(value, symbol: str = "$") -> str:
    """A cost with three significant digits however small ($0.0000123), cents from $1 up."""
    if not isinstance(value, (int, float)) or value != value:
        return "-"
    v = abs(value)
    if v == 0:
        return f"{symbol}0"
    decimals = 2 if v >= 1 else min(12, 2 - math.floor(math.log10(v)))
    return f"{'-' if value < 0 else ''}{symbol}{v:,.{decimals}f}"


_LOCATION = re.compile(r"^(.*?)((?::\d+){1,2})$")


def location(loc) -> str:
    """A source location as shown: relative to the working folder when it is under it."""
    if not loc:
        return ""
    m = _LOCATION.match(loc)
    path, suffix = (m.group(1), m.group(2)) if m else (loc, "")
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive
            rel = path
        if not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
            path = rel
    return path + suffix


def _bytes(value) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    v = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{sign}{v:,.1f} {unit}" if unit != "B" else f"{sign}{v} B"
        v /= 1024
    return str(value)


NUMERIC = ("ms", "count", "tokens", "usd", "rate", "calls", "failed", "#", "rss", "bytes",
           "runs", "retried", "prompt", "completion", "total")


def _plural(count: int, word: str) -> str:
    """'1 error', '2 errors', '1,200 tokens'."""
    return f"{_num(count)} {word if count == 1 else word + 's'}"


def _table(console, title: str, columns) -> Table:
    """Numbers are right-aligned and never wrapped; text columns wrap at spaces (a word too
    long for its column ends in an ellipsis) when the console is too narrow, so a long name
    does not push the numbers off the edge. The table is at least as wide as its title, so
    the title stays on one line."""
    table = Table(title=title, box=_box(console), title_justify="left",
                  show_edge=not is_plain(console), pad_edge=False, min_width=len(title))
    for col in columns:
        numeric = col.endswith(NUMERIC)
        # a location is folded, never cut: its line:col is what the reader came for
        table.add_column(col, justify="right" if numeric else "left", no_wrap=numeric,
                         overflow="fold" if col == "source" else "ellipsis")
    return table


def format_label(fmt: str, version) -> str:
    """'n3t 1.0', or just 'jsonl' for a format without a version."""
    return f"{fmt} {version}" if version else fmt


def warnings(err_console, lines) -> None:
    """Each warning once, on the error console, so piped results stay results."""
    for line in dict.fromkeys(lines):
        err_console.print(Text(f"WARNING: {line}", style="bold red"), soft_wrap=True)


def header(console, doc: dict) -> None:
    t, s = doc["trace"], doc["summary"]
    console.print(Text(f"trace {t['path']} ({format_label(t['format'], t['format_version'])})",
                       style="bold"))
    console.print(f"run {t.get('run_id') or '-'}: {_num(s['duration_ms'])} ms, "
                  f"{_plural(s['events'], 'event')}, {_plural(s['spans'], 'span')}, "
                  f"{_plural(s['errors'], 'error')}, "
                  f"{_plural(s['failed_spans'], 'failed span')}, "
                  f"{_plural(s['llm_calls'], 'llm call')}, "
                  f"{_plural(s['total_tokens'], 'token')}, "
                  f"{usd(s['cost_usd'])}")
    if t.get("open_spans"):
        console.print(f"{_plural(t['open_spans'], 'span')} still open where the trace ends "
                      "(the run was cut short, or the trace is damaged)")


def analysis(console, doc: dict) -> None:
    header(console, doc)
    if "performance" in doc:
        performance(console, doc["performance"])
    if "tokens" in doc:
        tokens(console, doc["tokens"])
    if "errors" in doc:
        errors(console, doc["errors"])
    if "memory" in doc:
        memory(console, doc["memory"])


def _name(row) -> str:
    return f"{row['component']}:{row['name']}" if row.get("name") else (row.get("component") or "-")


def performance(console, perf: dict) -> None:
    table = _table(console, "Operations", ["event type", "component", "count", "failed",
                                           "total ms", "mean ms", "p50 ms", "p95 ms", "max ms"])
    for r in perf["by_operation"]:
        table.add_row(r["event_type"], _name(r), _num(r["count"]), _num(r["failed"]),
                      _num(r["total_ms"]), _num(r["mean_ms"]), _num(r["p50_ms"]),
                      _num(r["p95_ms"]), _num(r["max_ms"]))
    console.print(table)
    table = _table(console, "Slowest operations", ["event type", "component", "duration ms",
                                                   "at ms", "event #", "source"])
    for r in perf["slow_operations"]:
        table.add_row(r["event_type"], _name(r), _num(r["duration_ms"]),
                      _num(r["start_offset_ms"]), str(r["event"]), location(r.get("location")))
    console.print(table)
    crit = perf["critical_path"]
    table = _table(console, f"Critical path ({_num(crit['duration_ms'])} ms, "
                            f"{_num(crit['segments_total'])} segments)",
                   ["operation", "at ms", "duration ms", "self ms"])
    for r in crit["segments"][:40]:
        table.add_row("  " * r["depth"] + f"{r['event_type']} {_name(r)}",
                      _num(r["start_offset_ms"]), _num(r["duration_ms"]), _num(r["self_ms"]))
    console.print(table)
    if crit["truncated"]:
        table = _table(console, "Critical path time by operation", ["operation", "count", "self ms"])
        for r in crit["by_operation"][:15]:
            table.add_row(f"{r['event_type']} {_name(r)}", _num(r["count"]), _num(r["self_ms"]))
        console.print(table)


def tokens(console, tok: dict) -> None:
    table = _table(console, f"Tokens and cost (prices: {tok['prices']['source']}, "
                            f"{tok['prices']['unit']})",
                   ["scope", "name", "model", "calls", "prompt", "completion", "total",
                    "cost usd"])
    for scope in ("llm", "agent", "chain"):
        for r in tok[f"by_{scope}"]:
            table.add_row(scope, r["name"], ", ".join(r["models"]) or "-", _num(r["calls"]),
                          _num(r["prompt_tokens"]), _num(r["completion_tokens"]),
                          _num(r["total_tokens"]), usd(r['cost_usd'], ""))
    t = tok["total"]
    table.add_row("total", "", "", _num(t["calls"]), _num(t["prompt_tokens"]),
                  _num(t["completion_tokens"]), _num(t["total_tokens"]), usd(t['cost_usd'], ""))
    console.print(table)
    if tok["prices"]["unpriced_models"]:
        console.print(f"no price for: {', '.join(tok['prices']['unpriced_models'])} "
                      "(add them with --prices FILE)")


def errors(console, err: dict) -> None:
    console.print(Text(f"Errors: {err['total']} ({_plural(err['failed_spans'], 'failed span')})",
                       style="bold"))
    if err["by_type"]:
        table = _table(console, "Errors by type", ["type", "count"])
        for r in err["by_type"]:
            table.add_row(r["type"], _num(r["count"]))
        console.print(table)
        table = _table(console, "Errors by component", ["component", "count"])
        for r in err["by_component"]:
            table.add_row(_name(r), _num(r["count"]))
        console.print(table)
    failing = [r for r in err["failure_rates"] if r["failed"]]
    if failing:
        table = _table(console, "Failure rates", ["event type", "component", "count", "failed",
                                                  "rate"])
        for r in failing:
            table.add_row(r["event_type"], _name(r), _num(r["count"]), _num(r["failed"]),
                          f"{100 * r['failure_rate']:.1f}%")
        console.print(table)
    prompts = [r for r in err["retries"]["prompts"] if r["retried"]]
    tools = [r for r in err["retries"]["tools"] if r["repeated"]]
    if prompts or tools:
        table = _table(console, "Retries and what they cost", ["what", "name", "runs", "retried",
                                                               "extra", "extra ms",
                                                               "extra tokens"])
        for r in prompts:
            table.add_row("prompt", r["name"], _num(r["executions"]), _num(r["retried"]),
                          _plural(r["extra_attempts"], "attempt"), _num(r["extra_ms"]),
                          _num(r["extra_tokens"]))
        for r in tools:
            table.add_row("tool", r["name"], _num(r["calls"]), _num(r["repeated"]),
                          _plural(r["repeated"], "repeated call"), _num(r["extra_ms"]), "-")
        console.print(table)
    for s in err["samples"]:
        where = f" at {location(s['location'])}" if s.get("location") else ""
        console.print(f"  event #{s['event']}: {s['type']}: {s['message']} "
                      f"({_name(s)}{where})", highlight=False)


def memory(console, mem: dict) -> None:
    if not mem["samples"]:
        console.print("Memory: no rss samples in this trace (enable memory capture: "
                      "NAMEL3SS_DEBUG_CAPTURE_MEMORY=true)")
        return
    console.print(Text(f"Memory: {mem['samples']} rss samples, first {_bytes(mem['rss_first'])}, "
                       f"last {_bytes(mem['rss_last'])}, peak {_bytes(mem['rss_peak'])}, "
                       f"growth {_bytes(mem['growth_bytes'])}", style="bold"))
    if mem["agent_turns"]:
        table = _table(console, "RSS across agent turns", ["agent", "turns count", "first rss",
                                                           "last rss", "growth bytes",
                                                           "per turn bytes"])
        for r in mem["agent_turns"]:
            table.add_row(r["agent"], _num(r["turns"]), _bytes(r["rss_first"]),
                          _bytes(r["rss_last"]), _bytes(r["growth_bytes"]),
                          _bytes(r["growth_per_turn_bytes"]))
        console.print(table)
