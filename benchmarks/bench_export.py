"""Export throughput, side by side with `analyze` on the same trace (ratios, never asserted).

The trace (N3_BENCH_EXPORT_EVENTS events, 200,000 by default) comes from the analyzer
benchmark's generator and is cached under /tmp. Each export writes to /tmp and reports
its time, its size and its time as a multiple of the analysis pass.
"""
import io
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.bench_analyzer import generate  # noqa: E402

EVENTS = int(os.environ.get("N3_BENCH_EXPORT_EVENTS", 200_000))
CACHE = f"/tmp/n3export-bench-{EVENTS}.n3t"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    from analyzer.analysis import analyze
    from analyzer.export import export
    from analyzer.sources import open_source

    if not os.path.exists(CACHE):
        generate(CACHE, EVENTS)

    def run_analyze():
        with open_source(CACHE) as s:
            return analyze(s)["summary"]["events"]

    base, events = timed(run_analyze)
    print(f"{events:,} events; analyze: {base:.2f} s")
    for target, options, name in (("perfetto", {}, "perfetto.json"),
                                  ("otlp", {}, "otlp.jsonl"),
                                  ("otlp", {"protobuf": True}, "otlp.pb"),
                                  ("jsonl", {}, "export.jsonl")):
        out = f"/tmp/n3export-bench.{name}"

        def run():
            with open_source(CACHE) as s:
                return export(s, target, out, **options)

        dt, done = timed(run)
        size = os.path.getsize(out) / 1e6
        label = f"{target}{' --protobuf' if options else ''}"
        print(f"{label:16} {dt:6.2f} s  {dt / base:5.1f}x analyze  {done.count:,} "
              f"{done.unit}, {done.requests or 1} request(s)/file, {size:.1f} MB")
        os.unlink(out)


if __name__ == "__main__":
    main()
