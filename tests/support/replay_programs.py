"""Programs, recorders and a guarded replay runner for the replay tests (real subprocesses,
a real loopback HTTP server)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.loopback import send_whole

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

BRIEFING = '''app "Briefing"

llm writer_llm {
  provider: "mock"
  model: "mock-writer-1"
  latency_ms: 30
  responses: [
    { match: "(?i)briefing", reply: "Markets are calm. Have a focused day." }
  ]
}

tool quote {
  type: "http"
  endpoint: env("REPLAY_TEST_API")
  method: "GET"
  timeout: 5
  description: "A quote from the local API"
  parameters: { type: "object", properties: { symbol: { type: "string" } }, required: ["symbol"] }
}

tool stamp {
  type: "python"
  function: "stamptool:stamp"
  description: "Time and a random draw"
  parameters: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }
}

prompt write {
  model: writer_llm
  template: "Write a short briefing. Market: {{market}}. Stamp: {{stamp}}."
  variables: ["market", "stamp"]
}

chain brief {
  steps: [
    { parallel: [
        { name: "market", kind: "tool", target: quote, input: { symbol: "{{input.symbol}}" } }
        { name: "stamp", kind: "tool", target: stamp, input: { text: "{{input.symbol}}" } }
    ] }
    { name: "write", kind: "prompt", target: write, input: { market: "{{steps.market}}", stamp: "{{steps.stamp}}" } }
  ]
}
'''

STAMP_TOOL = '''import random
import time


def stamp(text):
    return {"text": text, "time": time.time(), "draw": random.random()}
'''

# Run inside the replay's process: any network use fails loudly and leaves a marker.
GUARD = '''import os, sys
marker = os.environ["REPLAY_GUARD_MARKER"]
NETWORK = {"socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.sendto"}
def hook(event, args):
    if event in NETWORK:
        with open(marker, "a") as f:
            f.write(event + "\\n")
        raise RuntimeError("replay used the network: " + event)
sys.addaudithook(hook)
from analyzer.cli import main
sys.exit(main(sys.argv[1:]))
'''

SECRET_ENV = ("OPENAI_API_KEY", "REPLAY_TEST_API", "BRIEFING_API_URL")


def env(tmp_path, **extra):
    base = {k: v for k, v in os.environ.items() if not k.startswith("NAMEL3SS_")}
    base["NAMEL3SS_CACHE_DIR"] = str(Path(tmp_path) / "cache")
    base.update(extra)
    return base


def namel3ss(tmp_path, *args, extra_env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=180, cwd=cwd,
                          env=env(tmp_path, **(extra_env or {})))


def n3analyze(tmp_path, *args, guarded=False, extra_env=None, cwd=None):
    """The analyzer CLI in a subprocess; `guarded`: network refused, secrets unset."""
    environment = env(tmp_path, **(extra_env or {}))
    command = [sys.executable, "-m", "analyzer.cli", *map(str, args)]
    if guarded:
        for name in SECRET_ENV:
            environment.pop(name, None)
        environment["REPLAY_GUARD_MARKER"] = str(Path(tmp_path) / "network-used")
        command = [sys.executable, "-c", GUARD, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=cwd,
                          env=environment)


def record(tmp_path, source, out, *args, extra_env=None):
    done = namel3ss(tmp_path, "debug", "trace", source, *args, "-o", out, extra_env=extra_env)
    assert done.returncode == 0, done.stderr
    return Path(out)


class QuoteAPI:
    """A loopback HTTP server answering /quote?symbol=X; counts what it served."""

    def __init__(self):
        api = self
        self.served = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.served += 1
                body = json.dumps({"symbol": "N3X", "price": 101.25, "served": api.served}).encode()
                send_whole(self, 200, "application/json", body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/quote" % self.httpd.server_address[1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def briefing(tmp_path) -> Path:
    folder = Path(tmp_path) / "briefing"
    folder.mkdir(exist_ok=True)
    (folder / "app.ai").write_text(BRIEFING)
    (folder / "stamptool.py").write_text(STAMP_TOOL)
    return folder / "app.ai"


def record_example(tmp_path, example, folder, out, *args, extra_env=None) -> tuple:
    """(source, trace): `examples/<example>` copied to tmp_path/folder and recorded there."""
    import shutil

    where = Path(tmp_path) / folder
    where.mkdir(exist_ok=True)
    for path in (EXAMPLES / example).iterdir():
        if path.is_file():
            shutil.copy(path, where / path.name)
    return where / "app.ai", record(tmp_path, where / "app.ai", out, *args, extra_env=extra_env)


def record_briefing(tmp_path, api) -> tuple:
    """(source, trace): the briefing program recorded against `api`, which served it once."""
    source = briefing(tmp_path)
    trace = record(tmp_path, source, Path(tmp_path) / "brief.n3t", "--input", '{"symbol": "N3X"}',
                   extra_env={"REPLAY_TEST_API": api.url})
    assert api.served == 1
    return source, trace
