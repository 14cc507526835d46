"""A traced run streams its spans to an OTLP/HTTP receiver while it runs
(NAMEL3SS_DEBUG_OTLP_ENDPOINT or otlp_endpoint in debug.json), and a receiver that is not
there changes nothing the program prints or returns."""
import io
import json
import socket
from pathlib import Path

import pytest
from rich.console import Console

from analyzer import cli
from n3core.tracing.format import CHUNK
from n3core.tracing.live_otlp import LiveExporter
from n3core.tracing.reader import open_trace
from support.loopback import free_port
from support.otlp import attrs, read_json_lines, spans_of
from support.otlp_receiver import Receiver
from support.trace_factory import research_run
from support.traced_runs import traced_run

EXAMPLES = Path(__file__).parent.parent / "examples"
RESEARCH = (EXAMPLES / "research_agent" / "app.ai", "--agent", "ResearchAgent", "--input",
            "Research quantum error correction")


def file_spans(trace, tmp_path):
    out = tmp_path / "file.jsonl"
    assert cli.main(["export", str(trace), "--to", "otlp", "-o", str(out)],
                    console=Console(file=io.StringIO())) == 0
    return spans_of(read_json_lines(out))


@pytest.mark.parametrize("core", ["c", "python"])
def test_a_run_streams_every_span_with_its_parent(tmp_path, core):
    with Receiver() as receiver:
        done, trace = traced_run(tmp_path, *RESEARCH, env={
            "NAMEL3SS_DEBUG_OTLP_ENDPOINT": receiver.url, "N3TRACE_CORE": core})
    assert done.returncode == 0, done.stderr
    assert "n3trace:" not in done.stderr
    streamed = spans_of(receiver.requests)
    expected = file_spans(trace, tmp_path)
    assert len(streamed) == len(expected) >= 10
    key = lambda s: (s.span_id, s.parent_span_id, s.name, s.start_time_unix_nano,
                     s.end_time_unix_nano, s.kind)
    assert sorted(map(key, streamed)) == sorted(map(key, expected))
    ids = {s.span_id for s in streamed}
    roots = sorted(s.name.split()[0] for s in streamed if not s.parent_span_id)
    assert roots == ["app_load", "invoke_agent"]
    assert all(s.parent_span_id in ids for s in streamed if s.parent_span_id)
    chats = [attrs(s) for s in streamed if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert chats and all(a["gen_ai.usage.input_tokens"] > 0 for a in chats)
    assert {p for p, _ in receiver.posts} == {"/v1/traces"}


def test_debug_json_names_the_endpoint(tmp_path):
    with Receiver() as receiver:
        (tmp_path / ".namel3ss").mkdir()
        (tmp_path / ".namel3ss" / "debug.json").write_text(
            json.dumps({"otlp_endpoint": receiver.url + "/v1/traces"}))
        done, trace = traced_run(tmp_path, *RESEARCH, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(spans_of(receiver.requests)) == len(file_spans(trace, tmp_path))


def test_an_unreachable_endpoint_changes_nothing_but_one_warning(tmp_path):
    for sub in ("plain", "live"):
        (tmp_path / sub).mkdir()
    plain, plain_trace = traced_run(tmp_path / "plain", *RESEARCH)
    url = f"http://127.0.0.1:{free_port()}"
    done, trace = traced_run(tmp_path / "live", *RESEARCH,
                             env={"NAMEL3SS_DEBUG_OTLP_ENDPOINT": url})
    assert (done.returncode, done.stdout) == (plain.returncode, plain.stdout) == (0, plain.stdout)
    assert done.stderr.count("cannot stream spans to") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(file_spans(trace, tmp_path)) == len(file_spans(plain_trace, tmp_path / "plain"))


def test_an_endpoint_that_is_not_a_url_is_refused_by_name(tmp_path):
    done, _ = traced_run(tmp_path, *RESEARCH, env={"NAMEL3SS_DEBUG_OTLP_ENDPOINT": "localhost:4318"})
    assert done.returncode == 2
    assert "NAMEL3SS_DEBUG_OTLP_ENDPOINT='localhost:4318'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_receiver_that_never_answers_costs_one_warning(tmp_path, capfd):
    trace = research_run(turns=3).to_n3t(tmp_path / "run.n3t")
    with open_trace(str(trace)) as t:
        header = t.header
    with socket.socket() as silent:  # listens, never reads: every POST waits for its timeout
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        exporter = LiveExporter(f"http://127.0.0.1:{silent.getsockname()[1]}/v1/traces",
                                path=str(trace), run_id=header.run_id, metadata=header.metadata,
                                sites=header.sites, offset=header.size,
                                ts_shift=header.wall_anchor_ns - header.mono_anchor_ns)
        exporter.close()
    assert exporter.sent_spans == 0 and exporter.failure
    err = capfd.readouterr().err
    assert err.count("n3trace:") == 1 and "cannot stream spans to" in err


def test_the_stream_follows_the_file_and_waits_for_a_chunk_being_written(tmp_path):
    trace = research_run(turns=3).to_n3t(tmp_path / "run.n3t")
    with open_trace(str(trace)) as t:
        header = t.header
        expected = sum(1 for e in t.events() if e.kind.name == "start")
    data = Path(trace).read_bytes()
    growing = tmp_path / "growing.n3t"
    cut = header.size + CHUNK.size + 7  # the header and a piece of the first chunk
    growing.write_bytes(data[:cut])
    with Receiver() as receiver:
        exporter = LiveExporter(receiver.url + "/v1/traces", path=str(growing),
                                run_id=header.run_id, metadata=header.metadata,
                                sites=header.sites, offset=header.size,
                                ts_shift=header.wall_anchor_ns - header.mono_anchor_ns)
        with open(growing, "ab") as f:
            f.write(data[cut:])
        exporter.close()
    assert exporter.failure is None
    assert len(spans_of(receiver.requests)) == exporter.sent_spans == expected
