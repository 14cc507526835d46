"""Side-by-side timing: every contender runs in every round, in rotating order.

The machines these figures come from are shared, so a figure is only trusted next to the
figure it is compared with, taken in the same rounds. Each contender gets the same number
of rounds (no best-of-three for us against one run for a peer), one untimed warm-up round
first (so buffers, caches and first-touch page faults are paid before timing), and CPU
time of the calling thread, which other processes on the machine do not inflate.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Stat:
    """A figure's median and spread over its rounds."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values) -> "Stat":
        values = list(values)
        if not values:
            raise ValueError("a figure needs at least one round")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def scaled(self, factor: float) -> "Stat":
        """The same figure in another unit; a negative factor swaps low and high."""
        a, b = self.low * factor, self.high * factor
        return Stat(self.median * factor, min(a, b), max(a, b), self.rounds)

    def minus(self, base: "Stat") -> "Stat":
        """The cost added over `base`, taken median from median and bound from bound."""
        return Stat(self.median - base.median, self.low - base.low, self.high - base.high,
                    min(self.rounds, base.rounds))

    def as_dict(self) -> dict:
        return {"median": self.median, "min": self.low, "max": self.high, "rounds": self.rounds}

    @classmethod
    def from_dict(cls, data: dict) -> "Stat":
        return cls(float(data["median"]), float(data["min"]), float(data["max"]),
                   int(data["rounds"]))


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, *,
                clock: Callable[[], int] = time.thread_time_ns, warmup: int = 1) -> dict:
    """Elapsed clock nanoseconds of each contender per round: {name: [ns, ...]}.

    Round r starts at contender r mod n, so no contender always runs first (after a
    cold cache) or last (after the others warmed the machine up).
    """
    names = list(contenders)
    samples = {name: [] for name in names}
    for r in range(warmup + rounds):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            t0 = clock()
            contenders[name]()
            elapsed = clock() - t0
            if r >= warmup:
                samples[name].append(elapsed)
    return samples


def per_op(samples: dict, ops: int) -> dict:
    """{name: Stat of nanoseconds per operation} from interleaved() samples."""
    return {name: Stat.of(v / ops for v in values) for name, values in samples.items()}
