"""A payload that does not decode inside a chunk whose CRC-32 is valid degrades, never ends
the command.

The traces are written by the real writer, then chosen payloads are overwritten in place
and the chunk's CRC recomputed, so only the payload decoder can notice. Every command
runs through the real CLI entry point once per reader core and per analysis core;
expectations come from the script that wrote the trace.
"""
from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from rich.console import Console

from analyzer import cli
from n3core.tracing import core as tracing_core
from n3core.tracing.errors import TraceFormatError
from n3core.tracing.format import CHUNK, CHUNK_MAGIC, RECORD, RECORD_SIZE
from n3core.tracing.reader import open_trace
from support.trace_factory import FIXED_METADATA, research_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

# Ways to make a payload undecodable without changing its length.
UNKNOWN_TAG = "unknown tag"
PAST_THE_END = "container past the end"


def _spoil(data: bytearray, start: int, n: int, how: str) -> None:
    if how == UNKNOWN_TAG:
        data[start] = 0xFF
    else:  # a dict announcing 127 entries in fewer bytes
        data[start:start + 2] = b"\x0a\x7f"


def corrupt(path, spoiled: dict) -> None:
    """Overwrite the payloads of events {index: how} and give each chunk a valid CRC."""
    with open_trace(path) as trace:
        offset = trace.header.size
    data = bytearray(open(path, "rb").read())
    index = 0
    while data[offset:offset + 4] == CHUNK_MAGIC:
        _, _, n, pay, *_ = CHUNK.unpack_from(data, offset)
        body = offset + CHUNK.size
        pos = body + n * RECORD_SIZE
        for i in range(n):
            length = RECORD.unpack_from(data, body + i * RECORD_SIZE)[5]
            if index + i in spoiled:
                assert length >= 2, "pick events that carry a payload"
                _spoil(data, pos, length, spoiled[index + i])
            pos += length
        end = body + n * RECORD_SIZE + pay
        crc = zlib.crc32(bytes(data[body:end]), zlib.crc32(bytes(data[offset + 8:body])))
        struct.pack_into("<I", data, offset + 4, crc)
        index += n
        offset = end
    open(path, "wb").write(data)


def llm_ends(script) -> list:
    """(event index, total tokens) of every llm call's end in the script, in order."""
    sites, out = {}, []
    for index, op in enumerate(script.ops):
        if op.kind == "enter":
            sites[op.key] = op.site
        elif op.kind == "exit" and sites[op.key] in (4, 8):
            out.append((index, op.payload["usage"]["total_tokens"]))
    return out


@pytest.fixture(params=["c", "python"])
def reader_core(request, monkeypatch):
    """The reader core the analyzer's commands decode with."""
    if request.param not in tracing_core.available():
        pytest.skip(f"the {request.param} tracing core is not built on this machine")
    monkeypatch.setattr(tracing_core, "reader", tracing_core.reader_module(request.param))
    return request.param


@pytest.fixture
def spoiled_trace(tmp_path):
    script = research_run()
    path = script.to_n3t(tmp_path / "t.n3t", metadata=FIXED_METADATA)
    ends = llm_ends(script)
    spoiled = {ends[0][0]: UNKNOWN_TAG, ends[-1][0]: PAST_THE_END}
    corrupt(path, spoiled)
    intact_tokens = sum(tokens for index, tokens in ends if index not in spoiled)
    return path, script, spoiled, intact_tokens


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], console=Console(file=out, width=200),
                    err_console=Console(file=err, width=200))
    return code, out.getvalue(), err.getvalue()


def _warned(text: str, count: int) -> bool:
    return f"{count} payload(s) could not be decoded" in " ".join(text.split())


pytestmark = pytest.mark.usefixtures("analyzer_core", "reader_core")


def test_analyze_counts_the_damage_and_shows_the_rest(spoiled_trace):
    path, script, spoiled, intact_tokens = spoiled_trace
    code, out, err = run(["analyze", path, "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    trace = doc["trace"]
    assert trace["events"] == len(script.ops)
    assert trace["damaged"] and trace["lossy"] and trace["complete"]
    assert "undecodable" in trace["damage"]
    assert any(_warned(w, len(spoiled)) for w in trace["warnings"])
    assert doc["summary"]["llm_calls"] == len(llm_ends(script))
    assert doc["summary"]["total_tokens"] == intact_tokens
    code, out, err = run(["analyze", path, "--performance", "--errors"])
    assert code == 0, err
    assert _warned(err, len(spoiled)) and not _warned(out, len(spoiled))  # once, on stderr


def test_inspect_shows_the_undecodable_payload_and_says_so(spoiled_trace):
    path, script, spoiled, _ = spoiled_trace
    index = min(spoiled)
    code, out, err = run(["inspect", path, "--event", index, "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    assert "undecodable payload" in doc["payload"]["undecodable_payload"]
    assert doc["health"]["damaged"] and _warned(doc["health"]["warnings"][0], 1)
    code, out, err = run(["inspect", path, "--tree"])
    assert code == 0, err
    assert out.count("llm_call") == len(llm_ends(script))


@pytest.mark.parametrize("target", ["jsonl", "perfetto", "otlp"])
def test_export_writes_every_event_and_warns(spoiled_trace, tmp_path, target, capsys):
    path, script, spoiled, _ = spoiled_trace
    out_file = tmp_path / f"out.{target}"
    code, _, err = run(["export", path, "--to", target, "-o", out_file])
    err += capsys.readouterr().err  # export's closing lines go through click.echo
    assert code == 0, err
    assert _warned(err, len(spoiled))
    text = out_file.read_text()
    if target == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == len(script.ops)
        assert sum("undecodable_payload" in json.dumps(line) for line in lines) == len(spoiled)
    elif target == "perfetto":
        assert text.count("undecodable payload") == len(spoiled)
    else:  # OTLP keeps the attributes it knows; every span is there
        spans = [span for line in text.splitlines() for rs in json.loads(line)["resourceSpans"]
                 for ss in rs["scopeSpans"] for span in ss["spans"]]
        assert len(spans) == len(script.spans)


def test_the_reader_raises_unless_asked_to_count(spoiled_trace, reader_core):
    path, script, spoiled, _ = spoiled_trace
    with open_trace(path, core=reader_core) as trace:
        with pytest.raises(TraceFormatError, match="undecodable payload"):
            for batch in trace.batches():
                for i in range(len(batch)):
                    batch.payload(i)
    with open_trace(path, core=reader_core, count_bad_payloads=True) as trace:
        payloads = [batch.payload(i) for batch in trace.batches() for i in range(len(batch))]
        report = trace.report
    assert len(payloads) == len(script.ops)
    assert [i for i, p in enumerate(payloads)
            if isinstance(p, dict) and "undecodable_payload" in p] == sorted(spoiled)
    assert report.bad_payloads == len(spoiled) and report.lossy and not report.damaged
    with open_trace(path, core=reader_core, count_bad_payloads=True) as trace:
        usage = [batch.payload_get(i, ("usage",)) for batch in trace.batches()
                 for i in range(len(batch))]
        assert trace.report.bad_payloads == len(spoiled)
    assert [usage[i] for i in sorted(spoiled)] == [{}] * len(spoiled)
    assert sum(bool(u) for u in usage) == len(llm_ends(script)) - len(spoiled)
