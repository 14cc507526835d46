"""The critical path on trees whose answer is known by construction."""
import analyzer.analysis as analysis
from analyzer.model import END, START, ListBatch, RunInfo, SiteInfo
from analyzer.sources import open_source
from analyzer.analysis import analyze
from support.trace_factory import sequential_steps
import pytest
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")

SITES = {i: SiteInfo(i, "chain_step", "chain", f"s{i}") for i in range(1, 10)}


def run(events):
    """events: (ts, site, kind, span, parent) in file order."""
    batch = ListBatch()
    for ts, site, kind, span, parent in events:
        batch.append(ts, site, kind, span, parent, 1, None)
    a = analysis.Analysis(RunInfo("mem", "test", "", "", {}, dict(SITES)), ["performance"])
    a.feed(batch)
    from analyzer.model import Health
    return a.result(Health(events=len(batch), complete=True))["performance"]["critical_path"]


def names(crit):
    return [(r["depth"], r["name"]) for r in crit["segments"]]


def test_parallel_children_pick_the_one_that_ends_last():
    # root [0,100] has A [10,40] and B [10,90] in parallel, then C [92,98]
    crit = run([(0, 1, START, 1, 0), (10, 2, START, 2, 1), (10, 3, START, 3, 1),
                (40, 2, END, 2, 1), (90, 3, END, 3, 1), (92, 4, START, 4, 1),
                (98, 4, END, 4, 1), (100, 1, END, 1, 0)])
    assert names(crit) == [(0, "s1"), (1, "s3"), (1, "s4")]
    self_ms = {r["name"]: r["self_ms"] for r in crit["segments"]}
    assert self_ms["s1"] == (100 - 80 - 6) / 1e6


def test_overlap_chain_recovers_an_earlier_child():
    # D [0,10], B [5,20], C [15,30]: the walk picks C, then D (ends before C starts)
    crit = run([(0, 1, START, 1, 0), (0, 2, START, 2, 1), (5, 3, START, 3, 1),
                (10, 2, END, 2, 1), (15, 4, START, 4, 1), (20, 3, END, 3, 1),
                (30, 4, END, 4, 1), (31, 1, END, 1, 0)])
    assert names(crit) == [(0, "s1"), (1, "s2"), (1, "s4")]


def test_nested_path_descends():
    crit = run([(0, 1, START, 1, 0), (1, 2, START, 2, 1), (2, 5, START, 5, 2),
                (8, 5, END, 5, 2), (9, 2, END, 2, 1), (10, 3, START, 3, 1),
                (11, 3, END, 3, 1), (12, 1, END, 1, 0)])
    assert names(crit) == [(0, "s1"), (1, "s2"), (2, "s5"), (1, "s3")]
    assert crit["duration_ms"] == 12 / 1e6


def test_long_sequential_path_is_folded_but_fully_counted(tmp_path):
    n = 3000
    path = sequential_steps(n).to_n3t(tmp_path / "seq.n3t")
    with open_source(path) as source:
        crit = analyze(source, ["performance"])["performance"]["critical_path"]
    assert crit["segments_total"] == n + 1
    steps = next(r for r in crit["by_operation"] if r["event_type"] == "chain_step")
    assert steps["count"] == n
    assert steps["self_ms"] == n * 10_000 / 1e6
    assert crit["truncated"] is True
