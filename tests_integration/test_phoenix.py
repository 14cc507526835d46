"""Arize Phoenix, a real GenAI tracing backend, started on loopback, stores every span of
two exported traces and of one live-streamed run with the parents, kinds and token counts
they were sent with, read back through its REST API.

Run by `make test-integration`, which installs the `integration` extra into its own venv.
When Phoenix cannot be imported the test fails with the reason: it is never skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analyzer import cli
from support.loopback import free_port
from support.otlp import attrs, read_json_lines, spans_of
from support.traced_runs import traced_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RESEARCH = (EXAMPLES / "research_agent" / "app.ai", "--agent", "ResearchAgent", "--input",
            "Research quantum error correction")
REVIEW = (EXAMPLES / "structured_retry" / "app.ai", "--input",
          '{"review": "Great battery life, sharp screen."}')
START_S = 240
STORE_S = 60
PHOENIX_KINDS = {"chat": "LLM", "execute_tool": "TOOL", "invoke_agent": "AGENT"}


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    try:
        import phoenix  # noqa: F401
    except ImportError as exc:
        log = os.environ.get("N3_INTEGRATION_INSTALL_LOG", "")
        tail = Path(log).read_text(errors="replace")[-2000:] if log and Path(log).is_file() else ""
        pytest.fail(f"arize-phoenix cannot be imported ({exc}); `make test-integration` "
                    f"installs it from the integration extra.\n{tail}", pytrace=False)
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(free_port()), "PHOENIX_WORKING_DIR": str(work)}
    log = open(work / "phoenix.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "phoenix.server.main", "serve"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail("Phoenix exited at start:\n"
                            + (work / "phoenix.log").read_text(errors="replace")[-3000:])
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"Phoenix did not answer on {url} within {START_S} s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def stored(url, trace_id: str, want: int) -> tuple[dict, dict]:
    """(OTLP-shaped spans by id, Phoenix's span kind by id) of one trace, once Phoenix has
    stored `want` spans of it (it ingests in the background) or STORE_S has passed."""
    deadline = time.monotonic() + STORE_S
    while True:
        spans, kinds, cursor = {}, {}, None
        while True:
            q = f"?trace_id={trace_id}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = _get(f"{url}/v1/projects/default/spans/otlpv1{q}")
            spans.update({s["span_id"]: s for s in page["data"]})
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(spans) >= want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    page = _get(f"{url}/v1/projects/default/spans?trace_id={trace_id}&limit=1000")
    kinds = {s["context"]["span_id"]: s["span_kind"] for s in page["data"]}
    return spans, kinds


def _value(kv):
    return next((v for v in kv["value"].values() if v is not None), None)


def check_stored(url, sent):
    """Every span sent is stored once, with its parent, kind and token counts."""
    trace_id = sent[0].trace_id.hex()
    spans, kinds = stored(url, trace_id, len(sent))
    assert sorted(spans) == sorted(s.span_id.hex() for s in sent), \
        f"{len(spans)} of {len(sent)} spans of trace {trace_id} stored"
    for s in sent:
        got = spans[s.span_id.hex()]
        assert (got["parent_span_id"] or "") == s.parent_span_id.hex(), s.name
        assert got["name"] == s.name
        operation = attrs(s).get("gen_ai.operation.name")
        if operation in PHOENIX_KINDS:
            assert kinds[s.span_id.hex()] == PHOENIX_KINDS[operation], s.name
        a = {kv["key"]: _value(kv) for kv in got["attributes"] or []}
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
            if key in attrs(s):
                assert int(a[key]) == attrs(s)[key], (s.name, key)


def file_export(trace, out):
    import io

    from rich.console import Console

    assert cli.main(["export", str(trace), "--to", "otlp", "-o", str(out)],
                    console=Console(file=io.StringIO())) == 0
    return spans_of(read_json_lines(out))


def test_phoenix_stores_two_exported_traces_and_a_streamed_run(phoenix, tmp_path):
    sent = []
    for name, run in (("research", RESEARCH), ("review", REVIEW)):
        (tmp_path / name).mkdir()
        done, trace = traced_run(tmp_path / name, *run)
        assert done.returncode == 0, done.stderr
        assert cli.main(["export", str(trace), "--to", "otlp", "--endpoint", phoenix]) == 0
        sent.append(file_export(trace, tmp_path / f"{name}.jsonl"))
    (tmp_path / "live").mkdir()
    done, trace = traced_run(tmp_path / "live", *RESEARCH,
                             env={"NAMEL3SS_DEBUG_OTLP_ENDPOINT": phoenix})
    assert done.returncode == 0 and "n3trace:" not in done.stderr, done.stderr
    sent.append(file_export(trace, tmp_path / "live.jsonl"))

    assert len({spans[0].trace_id for spans in sent}) == 3
    assert all(any(attrs(s).get("gen_ai.usage.input_tokens") for s in spans) for spans in sent)
    for spans in sent:
        check_stored(phoenix, spans)
