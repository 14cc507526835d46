"""The HTML report on 10k- and 1M-event traces: build time, page size, load time in Chromium.

Targets (issue: see a run): a 1M-event trace gives a page under 20 MB that is drawn in
under 5 s in headless Chromium. The build is timed beside `analyze` on the same trace,
since the report runs the analysis and two more streaming passes. The page's load time
is wall time from navigation to the script marking the page ready.
"""
import os
import shutil
import sys
import time

from benchmarks.bench_analyzer import generate

SIZES = (10_000, 1_000_000)


def _trace(events: int) -> str:
    path = f"/tmp/n3report-bench-{events}.n3t"
    if not os.path.exists(path):
        generate(path, events)
    return path


def _load_seconds(page_path: str, rounds: int):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto("file://" + page_path)
            page.wait_for_selector("#app[data-ready='1']", timeout=120_000)
            times.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return times


def collect(quick: bool) -> list:
    from analyzer.analysis import analyze
    from analyzer.report import write_report
    from analyzer.sources import open_source
    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row

    rows = []
    for events in SIZES[:1] if quick else SIZES:
        trace = _trace(events)
        out = f"/tmp/n3report-bench-{events}.html"

        def run_analyze():
            with open_source(trace) as source:
                analyze(source)

        samples = interleaved({"report": lambda: write_report(trace, out), "analyze": run_analyze},
                              2 if quick or events > 100_000 else 5, clock=time.process_time_ns)
        seconds = {k: Stat.of(v / 1e9 for v in vals) for k, vals in samples.items()}
        label = f"{events:,} events"
        rows.append(Row("HTML report", f"build, {label}", "s CPU", seconds["report"],
                        {"analyze alone": seconds["analyze"]}))
        size = os.path.getsize(out) / 1e6
        rows.append(Row("HTML report", f"page size, {label}", "MB", Stat(size, size, size, 1),
                        target="< 20 MB" if events >= 1_000_000 else "",
                        met=size < 20 if events >= 1_000_000 else None))
        loads = _load_seconds(out, 2 if quick else 3)
        if loads is None:
            print("note: no chromium on this machine; the page load time is not measured",
                  file=sys.stderr)
            continue
        stat = Stat.of(loads)
        rows.append(Row("HTML report", f"load in headless Chromium, {label}", "s wall", stat,
                        target="< 5 s" if events >= 1_000_000 else "",
                        met=stat.median < 5 if events >= 1_000_000 else None))
    return rows
