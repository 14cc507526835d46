"""`python -m benchmarks [--quick] [NAME ...]`: run the benchmarks, write the results table.

Each `bench_*.py` module offers `collect(quick) -> list[Row]`. A full run writes
benchmarks/RESULTS.md and benchmarks/RESULTS.json; a run filtered by NAME prints its table
and writes nothing, so a partial run never overwrites the full one.
`--update NAME ...` runs only those modules and puts their rows into the written results
in place of the rows with the same area and figure. `python -m benchmarks compare OLD.json
NEW.json` prints what moved between two runs.
"""
import importlib
import pathlib
import sys

from . import machine, results

HERE = pathlib.Path(__file__).parent


def main(argv: list) -> int:
    if argv[:1] == ["compare"]:
        from .compare import report

        if len(argv) != 3:
            print("usage: python -m benchmarks compare OLD.json NEW.json", file=sys.stderr)
            return 2
        try:
            print(report(argv[1], argv[2]))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    quick = "--quick" in argv
    update = "--update" in argv
    only = [a for a in argv if not a.startswith("-")]
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        if only and not any(name in path.stem for name in only):
            continue
        print(f"== {path.stem} ==", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{path.stem}")
        rows += module.collect(quick)
    facts = machine.describe()
    for row in rows:
        row.measured = results.stamp(facts)
    if update:
        _, old = results.load(str(HERE / "RESULTS.json"))
        rows = results.merged(old, rows)
    table = results.to_markdown(rows, facts, quick)
    if only and not update:
        print(table)
        return 0
    (HERE / "RESULTS.md").write_text(table, encoding="utf-8")
    (HERE / "RESULTS.json").write_text(results.to_json(rows, facts, quick), encoding="utf-8")
    print(table)
    print(f"wrote {HERE / 'RESULTS.md'} and {HERE / 'RESULTS.json'}", file=sys.stderr)
    return 0


sys.exit(main(sys.argv[1:]))
