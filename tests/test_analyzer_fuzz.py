"""Mutated, truncated and spliced traces through every analyzer command, in-process.

The standing guard for issue 8: whatever bytes a trace holds, every command ends with
exit code 0, 1 or 2, and a JSON output is valid JSON; an exception escaping the CLI entry
(which catches only the toolchain's own errors) fails the test with the input kept for
reproduction. Mutations that keep every checksum valid reach the record and payload
decoders and the analysis itself, not only the damage checks.

Bounded: a few seconds per case by default; N3_FUZZ_LONG=1 runs each case for minutes
(N3_FUZZ_SECONDS overrides the budget) and prints the counts.
"""
from __future__ import annotations

import io
import json
import os
import random
import struct
import time
import zlib

import pytest
from rich.console import Console

from analyzer import cli
from n3core.tracing import core as tracing_core
from support.trace_factory import FIXED_METADATA, research_run, validation_retry_run
from support.trace_factory import VALIDATION_SITES

LONG = os.environ.get("N3_FUZZ_LONG", "") not in ("", "0")
SECONDS = float(os.environ.get("N3_FUZZ_SECONDS", 75 if LONG else 1.5))
MAX_INPUTS = 1_000_000 if LONG else 40

COMMANDS = [
    ["analyze"], ["analyze", "--format", "json"], ["analyze", "--summary"],
    ["analyze", "--errors", "--memory", "--format", "json"],
    ["inspect"], ["inspect", "--format", "json"], ["inspect", "--tree"],
    ["inspect", "--errors-only", "--format", "json"], ["inspect", "--tool", "search"],
    ["inspect", "--event", "0", "--format", "json"], ["inspect", "--event", "7"],
    ["export", "--to", "jsonl"], ["export", "--to", "perfetto"], ["export", "--to", "otlp"],
]
HOSTILE_JSON = ["[]", "{}", '"x"', "-1", "1e400", "-1e400", "NaN", "Infinity", "1e23",
                "10" + "0" * 400, '"\\ud800"', "[" * 3000 + "]" * 3000, "true", "null",
                '{"a": [1, {"b": NaN}]}', "0.5", '"2024-13-45T99:99:99Z"']


@pytest.fixture(params=["c", "python"])
def reader_core(request, monkeypatch):
    """One core for everything: the tracing reader's and the analysis pass's."""
    from analyzer import analysis, passcore

    name = request.param
    if name not in tracing_core.available() or name not in passcore.available():
        pytest.skip(f"the {name} cores are not built on this machine")
    monkeypatch.setattr(tracing_core, "reader", tracing_core.reader_module(name))
    monkeypatch.setattr(analysis, "Analysis", analysis.analysis_class(name))
    return name


class Counts:
    def __init__(self, name):
        self.name, self.inputs, self.runs, self.codes = name, 0, 0, {}

    def report(self) -> None:
        if LONG:
            print(f"\nfuzz {self.name}: {self.inputs} inputs, {self.runs} command runs, "
                  f"exit codes {dict(sorted(self.codes.items()))}")


def run_all(path, tmp_path, counts: Counts, rng: random.Random) -> None:
    for argv in COMMANDS:
        argv = [argv[0], str(path), *argv[1:]]
        if argv[0] == "export":
            argv += ["-o", str(tmp_path / "out")]
        out, err = io.StringIO(), io.StringIO()
        try:
            code = cli.main(argv, console=Console(file=out, width=100),
                            err_console=Console(file=err, width=100))
        except BaseException as exc:
            kept = tmp_path / f"failing-{counts.inputs}{path.suffix}"
            kept.write_bytes(path.read_bytes())
            raise AssertionError(f"{' '.join(argv)} raised {exc!r}; input kept as {kept}") from exc
        counts.runs += 1
        counts.codes[code] = counts.codes.get(code, 0) + 1
        assert code in (0, 1, 2), (argv, code, err.getvalue())
        if code == 0 and "json" in argv:
            json.loads(out.getvalue(), parse_constant=lambda c: pytest.fail(f"{c} in {argv}"))


# -- .n3t mutations ------------------------------------------------------------------------

def _blocks(data: bytes):
    """(offset, length) of the header description and of every chunk, walking valid lengths."""
    jlen = struct.unpack_from("<I", data, 12)[0]
    found = [("header", 40, jlen)]
    pos = 40 + jlen
    while pos + 32 <= len(data) and data[pos:pos + 4] == b"N3CK":
        n, pay = struct.unpack_from("<II", data, pos + 8)
        found.append(("chunk", pos, 32 + n * 24 + pay))
        pos += 32 + n * 24 + pay
    return found


def _reseal(data: bytearray) -> None:
    """Make every CRC valid again, so the mutation reaches the decoders."""
    for kind, pos, size in _blocks(bytes(data)):
        if kind == "header":
            struct.pack_into("<I", data, 16, zlib.crc32(data[pos:pos + size]))
            struct.pack_into("<I", data, 20, zlib.crc32(data[24:40], zlib.crc32(data[8:20])))
        elif pos + size <= len(data):
            struct.pack_into("<I", data, pos + 4, zlib.crc32(data[pos + 8:pos + size]))


def mutate_n3t(seeds: list, rng: random.Random) -> bytes:
    data = bytearray(rng.choice(seeds))
    how = rng.randrange(7)
    if how == 0:  # truncate
        del data[rng.randrange(len(data)):]
    elif how == 1:  # splice two traces
        other = rng.choice(seeds)
        data = data[:rng.randrange(len(data))] + other[rng.randrange(len(other)):]
    elif how == 2:  # flip bits anywhere
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == 3:  # an interesting value in a length or count field
        kind, pos, size = rng.choice(_blocks(bytes(data)))
        field = 12 if kind == "header" else pos + rng.choice((8, 12, 16, 24, 28))
        value = rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF))
        struct.pack_into("<I", data, field, value)
    else:  # change bytes inside a block (records, payloads or header JSON), then reseal
        blocks = _blocks(bytes(data))
        kind, pos, size = rng.choice(blocks)
        start = pos if kind == "header" else pos + 32
        end = pos + size if kind == "header" else pos + size
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(start, max(start + 1, min(end, len(data))))
            if at < len(data):
                data[at] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256), 0x0A, 0x08))
        _reseal(data)
    return bytes(data)


@pytest.fixture(scope="module")
def n3t_seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    paths = [research_run(turns=3).to_n3t(folder / "a.n3t", metadata=FIXED_METADATA,
                                           config={"chunk_events": 8}),
             validation_retry_run().to_n3t(folder / "b.n3t", sites=VALIDATION_SITES),
             research_run(turns=12).to_n3t(folder / "c.n3t", config={
                 "policy": "flight-recorder", "buffer_size": 16, "chunk_events": 8})]
    return [open(p, "rb").read() for p in paths]


def test_mutated_traces_through_every_command(tmp_path, reader_core, n3t_seeds):
    rng = random.Random(8_000 + (0 if reader_core == "c" else 1))
    counts = Counts(f"n3t/{reader_core}")
    deadline = time.monotonic() + SECONDS
    path = tmp_path / "mutant.n3t"
    while counts.inputs < MAX_INPUTS and (counts.inputs < 8 or time.monotonic() < deadline):
        path.write_bytes(mutate_n3t(n3t_seeds, rng))
        run_all(path, tmp_path, counts, rng)
        counts.inputs += 1
    counts.report()
    assert counts.runs == counts.inputs * len(COMMANDS)


# -- JSON-lines mutations ------------------------------------------------------------------

def mutate_jsonl(lines: list, rng: random.Random) -> str:
    out = list(lines)
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(out))
        how = rng.randrange(5)
        if how == 0:  # a field gets a hostile value
            try:
                obj = json.loads(out[i])
            except (ValueError, RecursionError):  # an earlier mutation broke or deepened it
                continue
            if not isinstance(obj, dict):
                continue
            key = rng.choice(sorted(obj) + ["source", "tokens_used", "task_id", "error"])
            text = json.dumps({k: v for k, v in obj.items() if k != key})
            out[i] = text[:-1] + f', "{key}": {rng.choice(HOSTILE_JSON)}}}'
        elif how == 1:  # a hostile line
            out[i] = rng.choice(HOSTILE_JSON)
        elif how == 2:  # bytes flipped
            raw = bytearray(out[i].encode("utf-8", "surrogateescape"))
            raw[rng.randrange(len(raw))] = rng.randrange(256)
            out[i] = raw.decode("utf-8", "surrogateescape")
        elif how == 3:
            out.insert(rng.randrange(len(out)), out[i])
        else:
            out[i] = out[i][:rng.randrange(len(out[i]) + 1)]
    return "\n".join(out) + "\n"


def test_mutated_json_lines_through_every_command(tmp_path, reader_core):
    seed_path = research_run(turns=2).to_jsonl(tmp_path / "seed.jsonl")
    lines = open(seed_path, encoding="utf-8").read().splitlines()
    rng = random.Random(9_000 + (0 if reader_core == "c" else 1))
    counts = Counts(f"jsonl/{reader_core}")
    deadline = time.monotonic() + SECONDS
    path = tmp_path / "mutant.jsonl"
    while counts.inputs < MAX_INPUTS and (counts.inputs < 8 or time.monotonic() < deadline):
        path.write_bytes(mutate_jsonl(lines, rng).encode("utf-8", "surrogateescape"))
        run_all(path, tmp_path, counts, rng)
        counts.inputs += 1
    counts.report()
    assert counts.runs == counts.inputs * len(COMMANDS)
