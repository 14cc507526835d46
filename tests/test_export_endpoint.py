"""`export --to otlp --endpoint URL` against a real OTLP/HTTP receiver on loopback that
decodes what it gets with opentelemetry-proto, answers 429/503/400 when told to, and
reports partial success."""
import io

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console

from analyzer import cli
from analyzer.export_otlp_http import Pusher, retry_after, traces_url
from n3core.tracing.otlp_spans import KIND_CLIENT, KIND_INTERNAL
from support.loopback import free_port
from support.killed_trace import killed_trace
from support.otlp import attrs, spans_of
from support.otlp_receiver import Receiver
from support.trace_factory import WALL0, research_run


def push(trace, url, *extra):
    code = cli.main(["export", str(trace), "--to", "otlp", "--endpoint", url, *extra],
                    console=Console(file=io.StringIO()))
    return code


def expected(script):
    """Per scripted span: (start offset, site, parent start offset or None, end payload)."""
    ends = {op.key: op.payload for op in script.ops if op.kind in ("exit", "fail")}
    starts = {key: start for _, start, _, _, key, _ in script.spans}
    return {start: (site, starts.get(parent), ends.get(key))
            for site, start, _, _, key, parent in script.spans}


def test_two_traces_arrive_whole_with_parents_kinds_and_tokens(tmp_path, capsys):
    script = research_run(turns=6)
    scripted = script.to_n3t(tmp_path / "run.n3t")
    killed = killed_trace(tmp_path / "killed.n3t")
    with Receiver() as rx:
        assert push(scripted, rx.url, "--max-spans", "10") == 0
        first = len(rx.requests)
        assert push(killed, rx.url) == 0
    assert {path for path, _ in rx.posts} == {"/v1/traces"}
    assert all(h["Content-Type"] == "application/x-protobuf" and h["Content-Encoding"] == "gzip"
               for _, h in rx.posts)
    assert first == -(-len(script.spans) // 10)
    mine = spans_of(rx.requests[:first])
    theirs = spans_of(rx.requests[first:])
    assert not {s.span_id for s in mine} & {s.span_id for s in theirs}
    want = expected(script)
    got = {s.start_time_unix_nano - WALL0: s for s in mine}
    assert set(got) == set(want)
    by_id = {s.span_id: s for s in mine}
    for start, (site, parent_start, end) in want.items():
        span = got[start]
        if parent_start is None:
            assert not span.parent_span_id
        else:
            assert by_id[span.parent_span_id].start_time_unix_nano - WALL0 == parent_start
        assert span.kind == (KIND_CLIENT if site in (4, 8) else KIND_INTERNAL)
        if site in (4, 8):
            a = attrs(span)
            assert a["gen_ai.usage.input_tokens"] == end["usage"]["prompt_tokens"]
            assert a["gen_ai.usage.output_tokens"] == end["usage"]["completion_tokens"]
    ids = {s.span_id for s in theirs}
    assert all(s.parent_span_id in ids for s in theirs if s.parent_span_id)
    out = capsys.readouterr().err
    assert f"sent {len(script.spans)} spans in {first} request(s) to {rx.url}" in out
    assert "still open" in out


def test_429_and_503_are_retried_until_the_receiver_takes_the_spans(tmp_path, capsys):
    script = research_run(turns=2)
    trace = script.to_n3t(tmp_path / "run.n3t")
    with Receiver([(429, {"Retry-After": "0"}), (503, {"Retry-After": "0"})]) as rx:
        assert push(trace, rx.url, "--retries", "2") == 0
    assert len(rx.posts) == 3 and len(spans_of(rx.requests)) == len(script.spans)
    assert "sent" in capsys.readouterr().err


def test_backoff_waits_what_retry_after_asks_or_doubles(tmp_path):
    waits = []
    with Receiver([(429, {"Retry-After": "7"}), (503, {}), (502, {}), (200, {})]) as rx:
        pusher = Pusher(traces_url(rx.url), retries=3, backoff=0.25, sleep=waits.append)
        pusher.send(ExportTraceServiceRequest().SerializeToString())
    assert waits == [7.0, 0.5, 1.0] and pusher.sent == 1
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("soon") is None


def test_an_unreachable_receiver_is_one_paragraph_and_exit_1(tmp_path, capsys):
    trace = research_run(turns=1).to_n3t(tmp_path / "run.n3t")
    url = f"http://127.0.0.1:{free_port()}"
    assert push(trace, url, "--retries", "1") == 1
    err = capsys.readouterr().err
    assert f"cannot send the trace to {url}/v1/traces" in err and "after 2 attempt(s)" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_refusal_that_retrying_cannot_fix_stops_at_once(tmp_path, capsys):
    trace = research_run(turns=1).to_n3t(tmp_path / "run.n3t")
    with Receiver([(400, {})]) as rx:
        assert push(trace, rx.url + "/v1/traces") == 1
    assert len(rx.posts) == 1
    assert "HTTP 400" in capsys.readouterr().err


def test_rejected_spans_are_reported(tmp_path, capsys):
    trace = research_run(turns=1).to_n3t(tmp_path / "run.n3t")
    with Receiver(rejected=3) as rx:
        assert push(trace, rx.url) == 0
    assert "the receiver rejected 3 span(s): span ids already stored" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--endpoint", "ftp://127.0.0.1:1"], "is not an http(s) URL"),
    (["--endpoint", "http://127.0.0.1:1", "-o", "x.jsonl"], "not both"),
    ([], "say where the export goes"),
])
def test_bad_endpoint_options_are_usage_errors(tmp_path, capsys, argv, message):
    trace = research_run(turns=1).to_n3t(tmp_path / "run.n3t")
    code = cli.main(["export", trace, "--to", "otlp", *argv], console=Console(file=io.StringIO()))
    assert code == 2 and message in capsys.readouterr().err
    code = cli.main(["export", trace, "--to", "perfetto", "--protobuf", "-o", "-"],
                    console=Console(file=io.StringIO()))
    assert code == 2 and "only to --to otlp" in capsys.readouterr().err
