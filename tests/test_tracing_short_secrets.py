"""A secret too short to scrub is not scrubbed, and a traced run says so once, at start.

A value under MIN_LEARNED characters is part of ordinary words and numbers, so replacing it
everywhere would garble what the trace records (docs/tracepoints.md, Secrets). Real
traced runs in subprocesses: the warning names the variable and never its value, the
run's output is the untraced run's, and a long secret in the same text is scrubbed.
"""
from __future__ import annotations

import json
import os

from n3core.tracing.payload import MIN_LEARNED
from n3core.tracing.redaction import too_short_to_scrub
from support.fault_runs import assert_same_run, cli, warnings, write_program
from support.traced_runs import read_events

SHORT = "q7x2"
LONG = "long-secret-value-8c1f"


def _run(tmp_path, traced, env):
    source = write_program(tmp_path / "app")
    note = f"pin {SHORT}, key {LONG}"
    return cli(tmp_path, "run", source, "--chain", "main", "--input",
               json.dumps({"mode": "ok", "note": note}), traced=traced, env=env)


def test_a_short_secret_is_named_once_at_start_and_the_run_is_unchanged(tmp_path):
    env = {"SHORT_PIN_TOKEN": SHORT, "DEPLOY_SECRET": LONG}
    plain = _run(tmp_path, False, env)
    traced = _run(tmp_path, True, env)
    assert plain.returncode == 0, plain.stderr
    assert_same_run(plain, traced)
    (line,) = [w for w in warnings(traced.stderr) if "SHORT_PIN_TOKEN" in w]
    assert SHORT not in line and f"shorter than {MIN_LEARNED} characters" in line
    assert "DEPLOY_SECRET" not in traced.stderr
    _, events = read_events(tmp_path / "traces" / "trace_latest")
    recorded = json.dumps([payload for *_, payload in events], default=repr)
    assert LONG not in recorded and "[REDACTED]" in recorded
    assert SHORT in recorded, "kept: scrubbing four characters everywhere would garble text"


def test_no_warning_when_every_secret_is_long_enough(tmp_path):
    traced = _run(tmp_path, True, {"DEPLOY_SECRET": LONG})
    assert traced.returncode == 0, traced.stderr
    ambient = too_short_to_scrub(os.environ)  # whatever this machine's environment holds
    named = [w for w in warnings(traced.stderr) if "named like a secret" in w]
    assert len(named) == (1 if ambient else 0)
    assert "DEPLOY_SECRET" not in traced.stderr


def test_too_short_to_scrub_names_secret_looking_variables_only():
    environ = {"A_TOKEN": "x" * (MIN_LEARNED - 1), "B_TOKEN": "x" * MIN_LEARNED,
               "EMPTY_SECRET": "", "SHORT_NAME": "abc", "MY_PASSWORD": "pw"}
    assert too_short_to_scrub(environ) == ["A_TOKEN", "MY_PASSWORD"]
