"""Writing and reading `.n3t` files: every policy, both cores, damaged files, bad input."""
from __future__ import annotations

import os
import stat
import struct

import pytest

from n3core.tracing import session
from n3core.tracing.errors import TraceError, TraceFormatError
from n3core.tracing.format import FORMAT_MAJOR, HEADER, Kind
from n3core.tracing.reader import open_trace

from support.tracing_cores import AVAILABLE, SITES, fake_clock, tracing_core  # noqa: F401

PAYLOADS = [None, {"prompt": "hi", "n": 3}, [1, 2.5, "x"], b"raw", 2**80, "s" * 300, (1, None)]


def write_trace(path, core, policy="block", n=40, **config):
    # drop mode gets a ring big enough that its writer thread never falls behind here
    size = 4096 if policy == "drop" else 64
    tracer = session.start(path, SITES, {"policy": policy, "chunk_events": 8,
                                         "buffer_size": size, **config},
                           core=core, clock=fake_clock(), wall_clock=lambda: 10**18,
                           run_id="run-1", metadata={"pid": 1, "argv": ["app"], "python": "3"})
    for i in range(n):
        token = session.enter(1 + i % 3, PAYLOADS[i % len(PAYLOADS)])
        session.instant(2, {"i": i})
        if i % 5 == 4:
            session.fail(token, ValueError(f"boom {i}"))
        else:
            session.exit(token, PAYLOADS[(i + 1) % len(PAYLOADS)])
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
    write_trace(tmp_path / "c.n3t", "c", policy)
    write_trace(tmp_path / "p.n3t", "python", policy)
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
    assert first.ts.typecode == "q" and first.kind[0] == 0 and first.site[0] == 1
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
    outer = session.enter(1)
    hidden = session.enter(2)
    inner = session.enter(3)
    session.exit(inner)
    session.exit(hidden)
    session.exit(outer)
    session.stop()
    starts = [e for e in read_all(tmp_path / "n.n3t")[1] if e.kind == Kind.start]
    assert hidden is None and [(e.site, e.parent) for e in starts] == [(1, 0), (3, starts[0].span)]


def test_calls_without_a_tracer_do_nothing(tracing_core):
    assert session.active() is None
    token = session.enter(1, {"x": 1})
    assert token is None
    session.exit(token)
    session.fail(token, ValueError())
    session.instant(1)
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
