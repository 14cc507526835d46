"""Export throughput, side by side with `analyze` on the same trace (ratios, never asserted).

The trace (N3_BENCH_EXPORT_EVENTS events, 200,000 by default; 50,000 when quick) comes
from the analyzer benchmark's generator and is cached under /tmp. Each export is timed in
the same rounds as the analysis pass, and its file's bytes per event are set beside the
trace's own.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.bench_analyzer import generate  # noqa: E402

EVENTS = int(os.environ.get("N3_BENCH_EXPORT_EVENTS", 200_000))


def collect(quick: bool) -> list:
    """Each export's CPU time beside `analyze` on the same trace, and its bytes per event."""
    import time

    from analyzer.analysis import analyze
    from analyzer.export import export
    from analyzer.sources import open_source
    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row

    events = 50_000 if quick else EVENTS
    cache = f"/tmp/n3export-bench-{events}.n3t"
    if not os.path.exists(cache):
        generate(cache, events)

    def run_analyze():
        with open_source(cache) as s:
            analyze(s)

    targets = {"perfetto": ("perfetto", {}, "perfetto.json"), "otlp": ("otlp", {}, "otlp.jsonl"),
               "otlp --protobuf": ("otlp", {"protobuf": True}, "otlp.pb"),
               "jsonl": ("jsonl", {}, "export.jsonl")}

    def exporter(target, options, name):
        def run():
            with open_source(cache) as s:
                export(s, target, f"/tmp/n3export-bench.{name}", **options)
        return run

    contenders = {label: exporter(*spec) for label, spec in targets.items()}
    contenders["analyze"] = run_analyze
    samples = interleaved(contenders, 2 if quick else 3, clock=time.process_time_ns)
    seconds = {k: Stat.of(v / 1e9 for v in vals) for k, vals in samples.items()}
    rows, sizes = [], {}
    for label, (_, _, name) in targets.items():
        out = f"/tmp/n3export-bench.{name}"
        size = os.path.getsize(out) / events
        sizes[f"export --to {label}"] = Stat(size, size, size, 1)
        os.unlink(out)
        rows.append(Row("Export", f"export --to {label}, {events:,} events", "s CPU",
                        seconds[label], {"analyze (the same trace)": seconds["analyze"]}))
    size = os.path.getsize(cache) / events
    rows.append(Row("Bytes on disk", f".n3t trace of an agent run, {events:,} events", "B/event",
                    Stat(size, size, size, 1), sizes))
    return rows
