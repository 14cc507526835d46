"""Start-up cost of the commands a user types, beside a bare interpreter started the same way.

Each command is started alternately with `python -c pass`, so both see the same machine
load. The frozen `n3analyze` (dist/n3analyze, built by `make n3analyze`) is measured when
present: its size and its `--help` time.
"""
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FROZEN = ROOT / "dist" / "n3analyze"
BIN = pathlib.Path(sys.executable).parent


def _run(argv):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def collect(quick: bool) -> list:
    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row

    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "namel3ss --help": [str(BIN / "namel3ss"), "--help"],
                "n3analyze --help": [str(BIN / "n3analyze"), "--help"]}
    if FROZEN.exists():
        commands["frozen n3analyze --help"] = [str(FROZEN), "--help"]
    samples = interleaved({name: (lambda argv=argv: _run(argv)) for name, argv in commands.items()},
                          5 if quick else 15, clock=time.perf_counter_ns)
    ms = {name: Stat.of(v / 1e6 for v in values) for name, values in samples.items()}
    bare = {"python -c pass": ms["python -c pass"]}
    rows = [Row("Start-up", "namel3ss --help", "ms wall", ms["namel3ss --help"], bare,
                target="≤ 300 ms", met=ms["namel3ss --help"].median <= 300),
            Row("Start-up", "n3analyze --help (installed)", "ms wall", ms["n3analyze --help"],
                bare)]
    if FROZEN.exists():
        size = FROZEN.stat().st_size / 2**20
        rows += [Row("Start-up", "frozen n3analyze --help", "ms wall",
                     ms["frozen n3analyze --help"], bare, target="≤ 400 ms",
                     met=ms["frozen n3analyze --help"].median <= 400),
                 Row("Start-up", "frozen n3analyze size", "MiB", Stat(size, size, size, 1),
                     target="≤ 15 MiB", met=size <= 15)]
    else:
        print(f"note: {FROZEN} is missing; `make n3analyze` builds it", file=sys.stderr)
    return rows

