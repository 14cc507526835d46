"""Secrets stay out of traces: argv, values learned from secret-named keys, private folders.

The end-to-end test runs a real program whose tool returns a token that a template then
renders into the next llm request, with a password and an api key on the command line,
and searches the trace's bytes and every analyzer output and export for the values.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

from n3core.tracing import core, hooks, session
from n3core.tracing.payload import REDACTED, Redaction, decode, learn, scrub_argv
from n3core.tracing.pyencode import encode as py_encode
from n3core.tracing.reader import open_trace

from support.tracing_cores import AVAILABLE, SITES, tracing_core  # noqa: F401

RULE = re.compile(r"(?i)^(.*[_-])?(api[_-]?key|authorization|password|token|secret)$")
TOKEN = "tok-returned-by-the-tool-4711"
HEADER_KEY = "hdr-api-key-0815-abcdef"
PASSWORD = "pw-from-argv-31337"
ARGV_KEY = "sk-argv-key-271828"


def rules(secrets=()):
    return Redaction({}, lambda key: RULE.search(key) is not None, list(secrets))


def encoder(name):
    return core.ring_module(name).encode if name == "c" else py_encode


RUN = [
    {"result": {"token": TOKEN, "headers": {"X-Api-Key": HEADER_KEY}}},
    {"messages": [{"role": "user", "content": f"call with {TOKEN} and {HEADER_KEY}"}]},
    {"before": f"{ARGV_KEY} first", "later": {"api_key": ARGV_KEY}},
    {"short": {"token": "abc"}, "text": "abc stays: too short to scrub everywhere"},
    [f"{TOKEN}{HEADER_KEY}", (TOKEN,), {TOKEN: "as a key"}],
]


def test_a_value_redacted_by_key_is_scrubbed_for_the_rest_of_the_run(tracing_core):
    red = rules()
    encoded = [encoder(tracing_core)(value, redaction=red) for value in RUN]
    for secret in (TOKEN, HEADER_KEY, ARGV_KEY):
        assert not any(secret.encode() in data for data in encoded), secret
    assert decode(encoded[1])["messages"][0]["content"] == f"call with {REDACTED} and {REDACTED}"
    assert decode(encoded[2]) == {"before": f"{REDACTED} first", "later": {"api_key": REDACTED}}
    assert decode(encoded[3])["text"].startswith("abc stays")
    assert red.secrets == sorted(red.secrets, key=len, reverse=True)
    assert set(red.secrets) == {TOKEN, HEADER_KEY, ARGV_KEY}


def test_both_cores_learn_to_identical_bytes():
    if "c" not in AVAILABLE:
        pytest.skip("the compiled core is not built")
    c_red, py_red = rules(["env-secret-value"]), rules(["env-secret-value"])
    for value in RUN * 2:
        for limits in ({}, {"max_bytes": 80}, {"max_depth": 2}):
            assert core.ring_module("c").encode(value, redaction=c_red, **limits) == \
                py_encode(value, redaction=py_red, **limits)
    assert c_red.secrets == py_red.secrets


def test_a_fixed_tuple_of_secrets_learns_nothing(tracing_core):
    red = Redaction({}, lambda key: key == "token", (HEADER_KEY,))
    data = encoder(tracing_core)([{"token": TOKEN}, TOKEN], redaction=red)
    assert decode(data) == [{"token": REDACTED}, TOKEN] and red.secrets == (HEADER_KEY,)
    assert learn((), TOKEN) is False


def test_argv_is_scrubbed_by_key_and_by_value():
    red = rules(["env-secret-123456"])
    argv = ["prog", "--input", json.dumps({"password": PASSWORD, "api_key": ARGV_KEY,
                                           "nested": [{"token": TOKEN}], "q": "tides"}),
            "--api-key", "sk-flag-value-1", "--token=tok-flag-value-2", "password=plain-pw-3",
            f"--note=mentions {PASSWORD}", "--json", "env-secret-123456", "--input={\"a\": 1}"]
    out = scrub_argv(argv, red)
    text = json.dumps(out)
    for secret in (PASSWORD, ARGV_KEY, TOKEN, "sk-flag-value-1", "tok-flag-value-2",
                   "plain-pw-3", "env-secret-123456"):
        assert secret not in text, secret
    assert json.loads(out[2]) == {"password": REDACTED, "api_key": REDACTED,
                                  "nested": [{"token": REDACTED}], "q": "tides"}
    assert out[3:7] == ["--api-key", REDACTED, f"--token={REDACTED}", f"password={REDACTED}"]
    assert out[7] == f"--note=mentions {REDACTED}" and out[8] == "--json"
    assert out[10] == '--input={"a": 1}', "an argument without secrets is kept verbatim"
    assert PASSWORD in red.secrets and TOKEN in red.secrets


def test_the_header_argv_is_scrubbed_and_its_values_learned(tmp_path, tracing_core, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app", "--input", json.dumps({"password": PASSWORD})])
    path = tmp_path / "argv.n3t"
    session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core,
                  redaction=rules())
    hooks.instant(2, {"prompt": f"the user typed {PASSWORD}"})
    session.stop()
    assert PASSWORD.encode() not in path.read_bytes()
    with open_trace(str(path)) as trace:
        assert json.loads(trace.header.metadata["argv"][2]) == {"password": REDACTED}


def test_folders_the_tracer_creates_are_private(tmp_path, tracing_core):
    existing = tmp_path / "a"
    existing.mkdir()
    existing.chmod(0o755)
    path = existing / "b" / "c" / "t.n3t"
    saved = os.umask(0o022)
    try:
        session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core)
        session.stop()
    finally:
        os.umask(saved)
    for folder in (existing / "b", existing / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755, "an existing folder is left alone"


APP = """\
app "Secrets"

llm echo_llm {
  provider: "mock"
  model: "mock-1"
}

prompt use_token {
  model: echo_llm
  template: "Call the api with {{token}} and {{key}} as {{user}} ({{pw}})"
  variables: ["token", "key", "user", "pw"]
  retries: 0
}

tool login {
  type: "python"
  function: "secrettools:login"
}

chain main {
  steps: [
    { name: "auth", kind: "tool", target: login, input: { user: "{{input.user}}" } }
    { name: "ask", kind: "prompt", target: use_token, input: { token: "{{steps.auth.token}}", key: "{{steps.auth.headers.X-Api-Key}}", user: "{{input.user}}", pw: "{{input.password}}" } }
  ]
}
"""

TOOLS = f"""\
def login(user):
    return {{"token": {TOKEN!r}, "headers": {{"X-Api-Key": {HEADER_KEY!r}}}, "user": user}}
"""


def test_no_secret_reaches_the_trace_or_any_analyzer_output(tmp_path):
    (tmp_path / "secrettools.py").write_text(TOOLS)
    (tmp_path / "app.ai").write_text(APP)
    traces = tmp_path / "traces"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMEL3SS_")}
    env.update(NAMEL3SS_DEBUG_ENABLED="true", NAMEL3SS_DEBUG_OUTPUT_DIR=str(traces),
               NAMEL3SS_CACHE_DIR=str(tmp_path / "cache"))
    args = json.dumps({"user": "ada", "password": PASSWORD, "api_key": ARGV_KEY})
    run = subprocess.run([sys.executable, "-m", "n3instrument.cli", "run", "app.ai",
                          "--chain", "main", "--input", args], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    [trace] = traces.glob("*.n3t")
    assert stat.S_IMODE(traces.stat().st_mode) == 0o700
    with open_trace(str(trace)) as opened:
        events = list(opened.events())
    llm = [e for e in events if e.payload and "messages" in json.dumps(e.payload, default=str)]
    assert llm and any("Call the api with" in json.dumps(e.payload, default=str) for e in llm)
    outputs = [trace.read_bytes()]
    analyzer = [sys.executable, "-m", "analyzer.cli"]
    commands = [["analyze", str(trace), "--performance", "--errors", "--format", "json"],
                ["analyze", str(trace)], ["inspect", str(trace), "--format", "json"],
                ["inspect", str(trace), "--tree"], ["inspect", str(trace), "--errors-only"]]
    commands += [["inspect", str(trace), "--event", str(i), "--format", "json"]
                 for i in range(len(events))]
    for fmt in ("perfetto", "otlp", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        commands.append(["export", str(trace), "--to", fmt, "-o", str(out)])
    for command in commands:
        done = subprocess.run(analyzer + command, capture_output=True, env=env, timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        outputs += [done.stdout, done.stderr]
    outputs += [(tmp_path / f"export.{fmt}").read_bytes() for fmt in ("perfetto", "otlp", "jsonl")]
    for secret in (TOKEN, HEADER_KEY, PASSWORD, ARGV_KEY):
        leaks = [i for i, data in enumerate(outputs) if secret.encode() in data]
        assert leaks == [], (secret, leaks)
