"""Start-up cost of the CLIs, against a bare interpreter started the same way.

Each command is started alternately with `python -c pass` so both see the same machine
load; the figure that matters is the absolute `--help` time (target: under 300 ms) and
how much of it the CLI itself adds over the interpreter.
"""
import os
import statistics
import subprocess
import sys
import time

ROUNDS = 15


def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "namel3ss --help": [os.path.join(os.path.dirname(sys.executable), "namel3ss"), "--help"],
    }
    samples = {name: [] for name in commands}
    for _ in range(ROUNDS):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    base = statistics.median(samples["python -c pass"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<22} median {median * 1000:7.1f} ms   (+{(median - base) * 1000:6.1f} ms over bare python)")


if __name__ == "__main__":
    main()
