"""The operations tables group by what an operation is (event type, component, name), not
by the tracepoint (site) that emitted it: two sites for one operation make one row."""
import analyzer.analysis as analysis
from analyzer.model import END, ERROR_END, INSTANT, START, Health, ListBatch, RunInfo, SiteInfo
import pytest
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")

# Memory.add and Memory.read both emit memory_operation for memory "research_notes";
# two tool_call sites (two call sites in the source) call the same tool "search".
SITES = {
    1: SiteInfo(1, "agent_execution", "agent", "Researcher", "app.ai", 1),
    2: SiteInfo(2, "memory_operation", "memory", "research_notes", "memory.py", 10),
    3: SiteInfo(3, "memory_operation", "memory", "research_notes", "memory.py", 20),
    4: SiteInfo(4, "tool_call", "tool", "search", "app.ai", 5),
    5: SiteInfo(5, "tool_call", "tool", "search", "app.ai", 9),
    6: SiteInfo(6, "memory_operation", "memory", "other_notes", "memory.py", 20),
}


def analyse(events):
    batch = ListBatch()
    for ts, site, kind, span, parent in events:
        batch.append(ts, site, kind, span, parent, 1, None)
    a = analysis.Analysis(RunInfo("mem", "test", "", "", {}, dict(SITES)))
    a.feed(batch)
    return a.result(Health(events=len(batch), complete=True))


EVENTS = [
    (0, 1, START, 1, 0),
    (10, 2, INSTANT, 0, 1),         # add
    (20, 3, INSTANT, 0, 1),         # read
    (25, 3, INSTANT, 0, 1),         # read
    (30, 6, INSTANT, 0, 1),         # another memory: its own row
    (40, 4, START, 2, 1),
    (1_000_040, 4, END, 2, 1),      # 1 ms
    (1_000_050, 5, START, 3, 1),
    (4_000_050, 5, ERROR_END, 3, 1),  # 3 ms, failed
    (5_000_000, 1, END, 1, 0),
]


def rows_for(rows, event_type, name):
    return [r for r in rows if r["event_type"] == event_type and r["name"] == name]


def test_instants_of_one_operation_from_two_sites_are_one_row():
    ops = analyse(EVENTS)["performance"]["by_operation"]
    notes = rows_for(ops, "memory_operation", "research_notes")
    assert len(notes) == 1
    assert notes[0]["count"] == 3 and notes[0]["instant"] is True
    other = rows_for(ops, "memory_operation", "other_notes")
    assert len(other) == 1 and other[0]["count"] == 1
    assert len(ops) == 4  # agent, search, research_notes, other_notes


def test_spans_of_one_operation_from_two_sites_are_one_row():
    doc = analyse(EVENTS)
    search = rows_for(doc["performance"]["by_operation"], "tool_call", "search")
    assert len(search) == 1
    assert search[0]["count"] == 2 and search[0]["failed"] == 1
    assert search[0]["total_ms"] == 4.0 and search[0]["max_ms"] == 3.0
    rates = rows_for(doc["errors"]["failure_rates"], "tool_call", "search")
    assert len(rates) == 1 and rates[0]["count"] == 2 and rates[0]["failure_rate"] == 0.5
    path = rows_for(doc["performance"]["critical_path"]["by_operation"], "tool_call", "search")
    assert len(path) == 1 and path[0]["count"] == 2
