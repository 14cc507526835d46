"""The benchmark table's arithmetic: rounds interleave, ratios point the right way, and
`compare` flags a move only when it is larger than the runs' own spread."""
import json
import subprocess
import sys

import pytest

from benchmarks.compare import moved, report
from benchmarks.measure import Stat, interleaved
from benchmarks.results import Row, load, merged, stamp, to_json, to_markdown


def test_rounds_rotate_so_no_contender_always_runs_first():
    order = []
    contenders = {name: (lambda name=name: order.append(name)) for name in "abc"}
    samples = interleaved(contenders, rounds=3, warmup=1, clock=iter(range(1000)).__next__)
    assert order == list("abc" "bca" "cab" "abc")
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3, "c": 3}


def test_ratio_says_how_many_times_we_win_whichever_way_is_better():
    cost = Row("A", "pair", "ns", Stat(100, 90, 110, 5), {"peer": Stat(300, 280, 320, 5)})
    rate = Row("A", "read", "events/s", Stat(6e6, 5e6, 7e6, 5), {"peer": Stat(2e6, 2e6, 2e6, 5)},
               better="higher")
    assert cost.ratio("peer") == pytest.approx(3.0)
    assert rate.ratio("peer") == pytest.approx(3.0)


def test_an_update_replaces_each_figure_in_its_own_unit_and_keeps_the_rest():
    def row(figure, unit, value):
        return Row("Analyzer", figure, unit, Stat(value, value, value, 1))

    old = [row("analyze", "events/s", 1), row("analyze", "s", 2), row("other", "MB", 3)]
    new = [row("analyze", "events/s", 10), row("analyze", "s", 20), row("added", "ms", 40)]
    assert [(r.figure, r.unit, r.ours.median) for r in merged(old, new)] == [
        ("analyze", "events/s", 10), ("analyze", "s", 20), ("other", "MB", 3), ("added", "ms", 40)]


def test_markdown_has_machine_areas_spread_and_verdicts():
    rows = [Row("Tracing", "pair", "ns", Stat(95, 90, 120, 7), {"viztracer": Stat(190, 180, 200, 7)},
                target="≤ 100 ns", met=True),
            Row("Disk", "bytes/event", "B", Stat(30, 30, 30, 1), target="≤ 24.1 B", met=False)]
    page = to_markdown(rows, {"cpu": "Test CPU", "cores": 2}, quick=False)
    assert "- cpu: Test CPU" in page
    assert "## Tracing" in page and "## Disk" in page
    assert "95 (90–120)" in page
    assert "viztracer: 190 (180–200) → 2×" in page
    assert "≤ 100 ns ✓" in page and "≤ 24.1 B ✗ not met" in page


def _write(path, rows):
    path.write_text(to_json(rows, {"cpu": "x"}, quick=True))
    return str(path)


def test_compare_flags_only_moves_beyond_the_spread(tmp_path):
    old = [Row("T", "pair", "ns", Stat(100, 95, 105, 5)), Row("T", "read", "ev/s", Stat(10, 9, 11, 5),
                                                            better="higher")]
    new = [Row("T", "pair", "ns", Stat(103, 99, 107, 5)), Row("T", "read", "ev/s", Stat(5, 4.5, 5.5, 5),
                                                            better="higher")]
    text = report(_write(tmp_path / "old.json", old), _write(tmp_path / "new.json", new))
    pair, read = text.splitlines()[:2]
    assert "<<" not in pair
    assert "read" in read and "slower/worse" in read and "-50.0%" in read
    assert text.splitlines()[-1].startswith("1 figure(s) moved")
    assert moved(Stat(100, 95, 105, 5), Stat(120, 118, 122, 5))
    assert not moved(Stat(100, 80, 120, 5), Stat(110, 105, 115, 5))


def test_results_round_trip_and_bad_files_are_refused(tmp_path):
    rows = [Row("T", "pair", "ns", Stat(1, 1, 2, 3), {"p": Stat(2, 2, 3, 3)}, target="t", met=True)]
    _, loaded = load(_write(tmp_path / "r.json", rows))
    assert loaded == rows
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="not a benchmark results file"):
        load(str(bad))


def test_compare_command_exits_2_with_one_line_on_a_bad_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = subprocess.run([sys.executable, "-m", "benchmarks", "compare", str(bad), str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "not a benchmark results file" in done.stderr and "Traceback" not in done.stderr


def test_each_area_says_when_and_on_what_its_rows_were_measured():
    today = stamp({"date": "2026-12-04 21:57 UTC", "cpu": "AMD EPYC", "cores": 2})
    rows = [Row("Analyzer", "analyze", "s", Stat(3, 3, 3, 1), measured=today),
            Row("Export", "otlp", "ms", Stat(9, 9, 9, 1)),
            Row("Export", "jsonl", "ms", Stat(4, 4, 4, 1), measured=today)]
    page = to_markdown(rows, {"cpu": "AMD EPYC"}, quick=False)
    assert "## Analyzer\n\nMeasured: 2026-12-04, AMD EPYC, 2 cores.\n" in page
    assert ("## Export\n\nMeasured: 2026-12-04, AMD EPYC, 2 cores; "
            "a run before rows were dated.\n") in page
    again = Row.from_dict(json.loads(to_json(rows, {}, quick=False))["rows"][0])
    assert again.measured == today
    kept = merged(rows, [Row("Analyzer", "analyze", "s", Stat(2, 2, 2, 1), measured="later")])
    assert [r.measured for r in kept] == ["later", "", today]
