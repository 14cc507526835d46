"""Loopback servers the tests start: a free port, a whole reply, and the parallel example's
quote API."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send_whole(handler, status: int, content_type: str, body: bytes, headers=None) -> None:
    """Answer a `BaseHTTPRequestHandler` request with one complete, sized reply."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def briefing_api():
    """The parallel_pipeline example's quote server, on loopback, for three requests."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "parallel_pipeline" / "serve.py"),
                               "--port", str(port), "--requests", "3", "--seconds", "60"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/quote"
    finally:
        server.kill()
        server.wait(timeout=10)
