"""Writing and reading `.n3t` files: every policy, both cores, damaged files, bad input."""
from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import zlib

import pytest

from n3core.tracing import hooks, session
from n3core.tracing.errors import TraceError, TraceFormatError
from n3core.tracing.format import FORMAT_MAJOR, FORMAT_MINOR, HEADER, KIND_START, Kind
from n3core.tracing.reader import open_trace

from support.tracing_cores import AVAILABLE, ROOT, SITES, fake_clock, tracing_core  # noqa: F401

PAYLOADS = [None, {"prompt": "hi", "n": 3}, [1, 2.5, "x"], b"raw", 2**80, "s" * 300, (1, None)]


def write_trace(path, core, policy="block", n=40, **config):
    # drop mode gets a ring big enough that its writer thread never falls behind here
    size = 4096 if policy == "drop" else 64
    tracer = session.start(path, SITES, {"policy": policy, "chunk_events": 8,
                                         "buffer_size": size, **config},
                           core=core, clock=fake_clock(), wall_clock=lambda: 10**18,
                           run_id="run-1", metadata={"pid": 1, "argv": ["app"], "python": "3"})
    for i in range(n):
        token = hooks.enter(1 + i % 3, PAYLOADS[i % len(PAYLOADS)])
        hooks.instant(2, {"i": i})
        if i % 5 == 4:
            session.fail(token, ValueError(f"boom {i}"))
        else:
            hooks.exit(token, PAYLOADS[(i + 1) % len(PAYLOADS)])
    if policy == "flight-recorder":
        tracer.dump()
    session.stop()
    return tracer


def read_all(path, core=None):
    with open_trace(path, core=core) as trace:
        return trace.header, list(trace.events()), trace.report


@pytest.mark.parametrize("policy", ["block", "drop"])
def test_round_trip_every_payload_and_policy(tmp_path, tracing_core, policy):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core, policy)
    header, events, report = read_all(path)
    assert header.run_id == "run-1" and header.format_version[0] == FORMAT_MAJOR
    assert header.wall_anchor_ns == 10**18 and header.mono_anchor_ns == 1000
    assert header.config["policy"] == policy
    assert [s.id for s in header.sites][:3] == [1, 2, 3] and header.sites[0].line == 3
    assert header.sites[0].captures == ("input", "output")
    assert report.complete and not report.damaged and report.dropped == 0
    assert report.events == len(events) == 120 and report.bytes_read == report.file_size
    starts = [e for e in events if e.kind == Kind.start]
    assert [e.payload for e in starts] == [PAYLOADS[i % len(PAYLOADS)] for i in range(40)]
    fails = [e for e in events if e.kind == Kind.error_end]
    assert len(fails) == 8 and fails[0].payload["type"] == "ValueError"
    assert fails[0].payload["message"] == "boom 4" and "ValueError" in fails[0].payload["stack"]
    ts = [e.ts for e in events]
    assert ts == sorted(ts) and ts[0] == 10**18 + 7
    instants = [e for e in events if e.kind == Kind.instant]
    assert all(e.parent == s.span for e, s in zip(instants, starts))


def test_flight_recorder_keeps_the_last_events(tmp_path, tracing_core):
    path = tmp_path / "f.n3t"
    write_trace(path, tracing_core, "flight-recorder", n=200, buffer_size=32)
    _, events, report = read_all(path)
    assert report.complete and not report.damaged
    assert 32 <= len(events) < 600 and report.discarded == 600 - len(events)
    assert events[-1].kind == Kind.end or events[-1].kind == Kind.error_end


@pytest.mark.skipif(len(AVAILABLE) < 2, reason="needs both cores")
@pytest.mark.parametrize("policy", ["block", "drop", "flight-recorder"])
def test_cores_write_identical_files(tmp_path, policy):
    # a ring the writer never lets fill: the trailer's block waits measure scheduling
    size = {} if policy == "flight-recorder" else {"buffer_size": 4096}
    write_trace(tmp_path / "c.n3t", "c", policy, **size)
    write_trace(tmp_path / "p.n3t", "python", policy, **size)
    assert (tmp_path / "c.n3t").read_bytes() == (tmp_path / "p.n3t").read_bytes()


@pytest.mark.skipif(len(AVAILABLE) < 2, reason="needs both cores")
def test_reader_cores_agree(tmp_path):
    write_trace(tmp_path / "t.n3t", "c")
    assert read_all(tmp_path / "t.n3t", "c")[1] == read_all(tmp_path / "t.n3t", "python")[1]


def test_batches_are_columnar(tmp_path, tracing_core):
    write_trace(tmp_path / "t.n3t", tracing_core)
    with open_trace(tmp_path / "t.n3t") as trace:
        batches = list(trace.batches())
        with pytest.raises(TraceError):
            list(trace.batches())
    assert sum(len(b) for b in batches) == 120 and len(batches[0]) == 8
    first = batches[0]
    assert first.ts.typecode == "q" and first.kind[0] == KIND_START and first.site[0] == 1
    assert first.payload(0) is None and first.payload(1) == {"i": 0}


def test_file_mode_is_0600(tmp_path, tracing_core):
    old = os.umask(0)
    try:
        write_trace(tmp_path / "t.n3t", tracing_core)
        write_trace(tmp_path / "f.n3t", tracing_core, "flight-recorder")
    finally:
        os.umask(old)
    for name in ("t.n3t", "f.n3t"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_truncation_anywhere_is_reported_not_raised(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = path.read_bytes()
    header_size = read_all(path)[0].size
    full = read_all(path)[2]
    for cut in range(header_size, len(data), 97):
        path.write_bytes(data[:cut])
        _, events, report = read_all(path)
        assert not report.complete and report.events == len(events) <= full.events
        assert report.bytes_read <= cut and "offset" in report.damage
        assert report.dropped is None


def test_flipped_bytes_stop_the_reader_cleanly(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = path.read_bytes()
    header_size = read_all(path)[0].size
    for at in range(header_size, len(data), 61):
        damaged = bytearray(data)
        damaged[at] ^= 0x40
        path.write_bytes(bytes(damaged))
        _, events, report = read_all(path)
        assert report.damaged, at
        assert f"offset {report.bytes_read}" in report.damage or "trailer" in report.damage
        assert report.bytes_read <= at or "trailer" in report.damage


def test_not_a_trace_and_newer_version_raise_format_error(tmp_path, tracing_core):
    junk = tmp_path / "junk.n3t"
    junk.write_bytes(b'{"event_type": "agent_turn_start"}\n')
    with pytest.raises(TraceFormatError, match="not an n3trace file"):
        open_trace(junk)
    empty = tmp_path / "empty.n3t"
    empty.write_bytes(b"")
    with pytest.raises(TraceFormatError):
        open_trace(empty)
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 8, FORMAT_MAJOR + 1)
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFormatError, match="newer") as info:
        open_trace(path)
    assert issubclass(TraceFormatError, TraceError) and str(path) in str(info.value)
    data[HEADER.size + 3] ^= 1
    struct.pack_into("<H", data, 8, FORMAT_MAJOR)
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFormatError, match="damaged header"):
        open_trace(path)


def test_mask_filters_components_and_event_types(tmp_path, tracing_core):
    path = tmp_path / "m.n3t"
    write_trace(path, tracing_core, components=["agent", "tool"])
    sites = {e.site for e in read_all(path)[1]}
    assert sites == {1, 3}
    write_trace(path, tracing_core, event_types=["llm_call"])
    assert {e.site for e in read_all(path)[1]} == {2}
    write_trace(path, tracing_core, event_types=["tool_call_start"], components=["agent"])
    assert read_all(path)[1] == []


def test_spans_nest_and_masked_spans_are_transparent(tmp_path, tracing_core):
    session.start(tmp_path / "n.n3t", SITES, {"components": ["agent", "tool"]},
                  core=tracing_core)
    outer = hooks.enter(1)
    hidden = hooks.enter(2)
    inner = hooks.enter(3)
    hooks.exit(inner)
    hooks.exit(hidden)
    hooks.exit(outer)
    session.stop()
    starts = [e for e in read_all(tmp_path / "n.n3t")[1] if e.kind == Kind.start]
    assert hidden is None and [(e.site, e.parent) for e in starts] == [(1, 0), (3, starts[0].span)]


def test_calls_without_a_tracer_do_nothing(tracing_core):
    assert session.active() is None
    token = hooks.enter(1, {"x": 1})
    assert token is None
    hooks.exit(token)
    session.fail(token, ValueError())
    hooks.instant(1)
    session.flush()
    assert session.dump() is None


def test_second_start_is_refused(tmp_path, tracing_core):
    session.start(tmp_path / "a.n3t", SITES, core=tracing_core)
    with pytest.raises(TraceError, match="already"):
        session.start(tmp_path / "b.n3t", SITES, core=tracing_core)


def test_bad_config_names_the_setting(tmp_path):
    with pytest.raises(TraceError, match="policy='sometimes'"):
        session.start(tmp_path / "a.n3t", SITES, {"policy": "sometimes"})
    with pytest.raises(TraceError, match="unknown tracing setting 'colour'"):
        session.start(tmp_path / "a.n3t", SITES, {"colour": 1})
    assert session.active() is None


# -- hostile headers ------------------------------------------------------------------------

def _with_description(path, body: bytes, minor=None):
    """Rewrite a trace's header around `body`, with every CRC valid (what a crafted file has)."""
    data = path.read_bytes()
    jlen = struct.unpack_from("<I", data, 12)[0]
    head = bytearray(data[:HEADER.size])
    struct.pack_into("<II", head, 12, len(body), zlib.crc32(body))
    if minor is not None:
        struct.pack_into("<H", head, 10, minor)
    struct.pack_into("<I", head, 20, zlib.crc32(head[24:40], zlib.crc32(head[8:20])))
    path.write_bytes(bytes(head) + body + data[HEADER.size + jlen:])


def test_writer_writes_the_current_minor_with_a_fixed_field_crc(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = path.read_bytes()
    assert struct.unpack_from("<HH", data, 8) == (FORMAT_MAJOR, FORMAT_MINOR) == (1, 3)
    assert struct.unpack_from("<I", data, 20)[0] == zlib.crc32(data[24:40], zlib.crc32(data[8:20]))


def test_every_bit_flip_in_the_fixed_fields_is_refused(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    good = path.read_bytes()
    accepted = []
    for bit in range(8 * 8, 8 * HEADER.size):
        data = bytearray(good)
        data[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(data))
        try:
            read_all(path)
        except TraceFormatError:
            continue
        accepted.append(bit)
    # Only a minor version of 0 (1.0 files) skips the fixed-field check, and no single
    # flipped bit turns 1.3 into 1.0, so every flip is caught.
    assert accepted == []


def test_version_1_0_files_stay_readable(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    _, want, _ = read_all(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 10, 0)
    struct.pack_into("<I", data, 20, 0)
    path.write_bytes(bytes(data))
    header, events, report = read_all(path)
    assert header.format_version == (1, 0) and events == want and report.complete


@pytest.mark.parametrize("mono", [1 << 62 | 1000, (1 << 63) - 1, -(1 << 63)])
def test_a_1_0_file_with_absurd_anchors_never_overflows(tmp_path, tracing_core, mono):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 10, 0)
    struct.pack_into("<q", data, 32, mono)
    struct.pack_into("<q", data, 24, -1 if mono < 0 else 10**18)
    path.write_bytes(bytes(data))
    try:
        _, events, report = read_all(path)
    except TraceFormatError as exc:
        assert "clock anchors" in str(exc)
        return
    assert report.damaged or events  # read, or stopped at the first chunk it cannot place


def test_major_version_0_is_refused(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    write_trace(path, tracing_core)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 8, 0)
    struct.pack_into("<I", data, 20, zlib.crc32(data[24:40], zlib.crc32(data[8:20])))
    path.write_bytes(bytes(data))
    with pytest.raises(TraceFormatError, match=f"format 0.{FORMAT_MINOR}"):
        open_trace(path)


GOOD_SITE = {"id": 1, "event_type": "agent_turn", "component": "agent", "name": "a",
             "file": "app.ai", "line": 3, "column": 1, "captures": []}
BAD_DESCRIPTIONS = [
    (b"{not json", "description"),
    (b'{"run_id": "\xff\xfe"}', "description"),
    (b"[1, 2, 3]", "description"),
    (b"[" * 100_000 + b"]" * 100_000, "description"),
    (b'{"sites": {"id": 1}}', "sites"),
    (b'{"sites": [7]}', "sites[0]"),
    (json.dumps({"sites": [{**GOOD_SITE, "id": "1"}]}).encode(), "sites[0].id"),
    (json.dumps({"sites": [{**GOOD_SITE, "id": 1 << 40}]}).encode(), "sites[0].id"),
    (json.dumps({"sites": [{**GOOD_SITE, "event_type": None}]}).encode(), "sites[0].event_type"),
    (json.dumps({"sites": [{**GOOD_SITE, "name": ["a"]}]}).encode(), "sites[0].name"),
    (json.dumps({"sites": [{**GOOD_SITE, "line": "three"}]}).encode(), "sites[0].line"),
    (json.dumps({"sites": [{**GOOD_SITE, "captures": "input"}]}).encode(), "sites[0].captures"),
    (json.dumps({"sites": [{**GOOD_SITE, "captures": ["input", 1]}]}).encode(), "sites[0].captures"),
    (json.dumps({"sites": [GOOD_SITE, {**GOOD_SITE, "column": True}]}).encode(), "sites[1].column"),
    (b'{"metadata": [1]}', "metadata"),
    (b'{"config": "block"}', "config"),
    (b'{"run_id": 12}', "run_id"),
    (b'{"metadata": {"x": NaN}}', "description"),
    (b'{"metadata": {"x": 1e400}}', "description"),
    (b'{"metadata": ' + b'{"a": ' * 100 + b"1" + b"}" * 101, "metadata"),
]


@pytest.mark.parametrize("body,field", BAD_DESCRIPTIONS,
                         ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_DESCRIPTIONS)])
def test_a_malformed_description_is_refused_naming_its_field(tmp_path, body, field):
    path = tmp_path / "t.n3t"
    write_trace(path, "python")
    _with_description(path, body)
    with pytest.raises(TraceFormatError) as info:
        open_trace(path)
    assert f"`{field}`" in str(info.value)
    assert "malformed header" in str(info.value)


# -- damaged lengths: every read is bounded by the file's size --------------------------------

def _run_limited(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a child whose address space is capped at 1 GiB."""
    prelude = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_a_huge_description_length_is_not_preallocated(tmp_path):
    path = tmp_path / "t.n3t"
    write_trace(path, "python")
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 12, 0xFFFFFFF0)
    struct.pack_into("<I", data, 20, zlib.crc32(data[24:40], zlib.crc32(data[8:20])))
    path.write_bytes(bytes(data))
    done = _run_limited(
        "from n3core.tracing.reader import open_trace, TraceFormatError\n"
        f"try:\n    open_trace({str(path)!r})\nexcept TraceFormatError as e:\n    print('refused', e)\n")
    assert done.returncode == 0, done.stderr
    assert "refused" in done.stdout and "cut short" in done.stdout


@pytest.mark.parametrize("field,value", [("n", 1 << 23), ("payload_len", 1 << 31)])
def test_a_huge_chunk_length_is_not_preallocated(tmp_path, field, value):
    path = tmp_path / "t.n3t"
    write_trace(path, "python")
    data = bytearray(path.read_bytes())
    first = HEADER.size + struct.unpack_from("<I", data, 12)[0]
    struct.pack_into("<I", data, first + (8 if field == "n" else 12), value)
    path.write_bytes(bytes(data))
    done = _run_limited(
        "from n3core.tracing.reader import open_trace\n"
        f"t = open_trace({str(path)!r})\nn = sum(1 for _ in t.events())\n"
        "print(n, t.report.damaged, t.report.damage)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 True") and "torn chunk 0" in done.stdout
