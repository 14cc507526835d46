"""Run every benchmark module in this folder, one after another: `python -m benchmarks`."""
import pathlib
import runpy
import sys

here = pathlib.Path(__file__).parent
only = sys.argv[1:]
for path in sorted(here.glob("bench_*.py")):
    if only and not any(name in path.stem for name in only):
        continue
    print(f"\n== {path.stem} ==", flush=True)
    runpy.run_path(str(path), run_name="__main__")
