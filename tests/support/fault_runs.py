"""A small program run for real, traced and untraced, to compare what the user sees.

The program has a python tool that returns, raises or waits for a signal, and a prompt
on the openai provider whose `base_url` picks how the loopback server misbehaves.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = """\
app "Faults"

llm remote {
  provider: "openai"
  model: "gpt-test"
  base_url: env("FAULT_BASE_URL")
  api_key: env("FAULT_API_KEY")
  timeout: 1
}

prompt ask {
  model: remote
  template: "Say something about {{topic}}"
  variables: ["topic"]
  retries: 0
}

tool fetch {
  type: "python"
  function: "faulttools:fetch"
}

chain main {
  steps: [
    { name: "got", kind: "tool", target: fetch, input: { mode: "{{input.mode}}" } }
    { name: "report", kind: "template", template: "result: {{steps.got.value}}" }
  ]
}

chain remote_call {
  steps: [
    { name: "answer", kind: "prompt", target: ask, input: { topic: "{{input.topic}}" } }
  ]
}
"""

TOOLS = """\
import time


def fetch(mode="ok"):
    if mode == "raise":
        raise ValueError("the tool broke")
    if mode == "wait":
        print("ready", flush=True)
        time.sleep(60)
    if mode == "big":
        return {"value": "x" * 6000}
    return {"value": "fine"}
"""

API_KEY = "sk-fault-key-0123456789abcdef"


def write_program(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faulttools.py").write_text(TOOLS)
    source = folder / "app.ai"
    source.write_text(APP)
    return source


def cli_env(tmp_path: Path, traced: bool, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NAMEL3SS_")}
    env.update({"NAMEL3SS_CACHE_DIR": str(tmp_path / "cache"), "FAULT_API_KEY": API_KEY,
                "FAULT_BASE_URL": "http://127.0.0.1:9/v1",
                "NAMEL3SS_DEBUG_ENABLED": "true" if traced else "false",
                "NAMEL3SS_DEBUG_OUTPUT_DIR": str(tmp_path / "traces")})
    env.update(extra)
    return env


def cli(tmp_path: Path, *args, traced: bool, env=None, preexec_fn=None,
        timeout=120) -> subprocess.CompletedProcess:
    """`namel3ss ARGS` in a fresh interpreter, its output captured."""
    return subprocess.run([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=cli_env(tmp_path, traced, **(env or {})), cwd=tmp_path,
                          preexec_fn=preexec_fn)


def spawn(tmp_path: Path, *args, traced: bool, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(tmp_path, traced, **(env or {})), cwd=tmp_path)


def warnings(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("n3trace:")]


def assert_same_run(untraced, traced) -> None:
    """Tracing changed nothing the user sees but its own warning lines."""
    assert traced.returncode == untraced.returncode, (untraced.stderr, traced.stderr)
    assert traced.stdout == untraced.stdout
    rest = [line for line in traced.stderr.splitlines() if not line.startswith("n3trace:")]
    assert rest == untraced.stderr.splitlines()
    assert "Traceback" not in traced.stderr or "Traceback" in untraced.stderr


def trace_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("*.n3t")))
