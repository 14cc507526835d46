"""Faults in real processes: tracing never changes the program's output or exit code.

Each test runs the same program untraced and traced and compares stdout, stderr (less
the tracer's own warning lines) and the exit code, then reads back the trace. Unwritable
folders are made without privileges, because the suite runs as root, for whom a 0500
folder is still writable: a regular file in the path, /proc and /sys. A full disk is
/dev/full (ENOSPC on the first write) and, for a write that fails mid-run, a file size
limit (RLIMIT_FSIZE: EFBIG once the trace outgrows it, the first write cut short).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from n3core.tracing.format import Kind
from n3core.tracing.reader import open_trace

from support.fault_runs import (API_KEY, assert_same_run, cli, spawn, trace_bytes, warnings,
                                write_program)
from support.loopback import send_whole

MAIN = ("--chain", "main", "--input")


@pytest.fixture
def program(tmp_path):
    return write_program(tmp_path / "app")


def both(tmp_path, *args, env=None, preexec_fn=None):
    untraced = cli(tmp_path, "run", *args, traced=False, env=env)
    traced = cli(tmp_path, "run", *args, traced=True, env=env, preexec_fn=preexec_fn)
    return untraced, traced


def read(path):
    with open_trace(str(path)) as trace:
        events = list(trace.events())
    return trace, events


@pytest.mark.parametrize("where", ["file-in-path", "proc", "sys"])
def test_an_unwritable_trace_folder_runs_untraced_with_one_warning(tmp_path, program, where):
    (tmp_path / "plain-file").write_text("not a folder")
    folder = {"file-in-path": str(tmp_path / "plain-file" / "traces"),
              "proc": "/proc/n3trace-none/traces", "sys": "/sys/n3trace-none"}[where]
    env = {"NAMEL3SS_DEBUG_OUTPUT_DIR": folder}
    untraced, traced = both(tmp_path, program, *MAIN, '{"mode": "ok"}', env=env)
    assert untraced.returncode == 0 and untraced.stdout == "result: fine\n"
    assert_same_run(untraced, traced)
    [warning] = warnings(traced.stderr)
    assert folder in warning and "untraced" in warning


def test_a_full_disk_at_open_runs_untraced(tmp_path, program):
    """`debug trace -o /dev/full`: the header's write fails with ENOSPC."""
    mode = os.stat("/dev/full").st_mode
    untraced = cli(tmp_path, "run", program, *MAIN, '{"mode": "ok"}', traced=False)
    traced = cli(tmp_path, "debug", "trace", program, *MAIN, '{"mode": "ok"}', "-o",
                 "/dev/full", traced=False)
    assert_same_run(untraced, traced)
    [warning] = warnings(traced.stderr)
    assert "ENOSPC" in warning and "/dev/full" in warning
    assert os.stat("/dev/full").st_mode == mode, "a device is never chmod-ed"


def _limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_failing_mid_run_stops_tracing_and_the_trailer_counts_the_loss(tmp_path, program):
    env = {"NAMEL3SS_DEBUG_BUFFER_SIZE": "16"}  # 8-event chunks, written while it runs
    whole = cli(tmp_path, "run", program, *MAIN, '{"mode": "ok"}', traced=True, env=env)
    trace, events = read(tmp_path / "traces" / "trace_latest")
    assert whole.returncode == 0 and trace.report.complete and len(events) > 8
    for old in (tmp_path / "traces").glob("*.n3t"):
        old.unlink()
    limit = trace.header.size + 200  # the header fits, the first chunk does not
    untraced, traced = both(tmp_path, program, *MAIN, '{"mode": "ok"}', env=env,
                            preexec_fn=_limit_file_size(limit))
    assert_same_run(untraced, traced)
    [warning] = warnings(traced.stderr)
    assert "EFBIG" in warning and "untraced" in warning
    cut, kept = read(tmp_path / "traces" / "trace_latest")
    report = cut.report
    assert report.complete and not report.damaged, report.damage
    assert kept == [] and report.dropped >= 8, "the events recorded before the failure are counted"
    assert report.file_size <= limit


def test_a_raising_tool_fails_the_same_way_traced(tmp_path, program):
    untraced, traced = both(tmp_path, program, *MAIN, '{"mode": "raise"}')
    assert untraced.returncode == 1 and "the tool broke" in untraced.stderr
    assert_same_run(untraced, traced)
    trace, events = read(tmp_path / "traces" / "trace_latest")
    assert trace.report.complete and not trace.report.damaged
    sites = {s.id: s for s in trace.header.sites}
    errors = [e for e in events if sites[e.site].event_type == "error_occurred"]
    assert len(errors) == 1 and "the tool broke" in errors[0].payload["message"]


class Misbehaving(BaseHTTPRequestHandler):
    """Chat Completions that go wrong in the way the path's first part names."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 - the http.server protocol
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        mode = self.path.split("/")[1]
        if mode == "close":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(3)  # the llm's timeout is 1 s
        status, body = {"500": (500, b'{"error": {"message": "server on fire"}}'),
                        "malformed": (200, b'{"choices": [{"message": '),
                        }.get(mode, (200, json.dumps({"choices": [{"message": {
                            "role": "assistant", "content": "fine"}}]}).encode()))
        try:
            send_whole(self, status, "application/json", body)
        except OSError:
            pass


@pytest.fixture
def misbehaving():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.parametrize("mode", ["slow", "500", "malformed", "close", "ok"])
def test_provider_faults_end_the_same_way_traced(tmp_path, program, misbehaving, mode):
    env = {"FAULT_BASE_URL": f"{misbehaving}/{mode}/v1"}
    untraced, traced = both(tmp_path, program, "--chain", "remote_call", "--input",
                            '{"topic": "tides"}', env=env)
    assert untraced.returncode == (0 if mode == "ok" else 1), untraced.stderr
    assert_same_run(untraced, traced)
    assert warnings(traced.stderr) == []
    trace, events = read(tmp_path / "traces" / "trace_latest")
    assert trace.report.complete and not trace.report.damaged and events
    assert API_KEY.encode() not in trace_bytes(tmp_path / "traces")


def _until_ready(proc):
    line = proc.stdout.readline()
    assert line == "ready\n", proc.stderr.read()


def _signalled(tmp_path, program, traced, sig):
    proc = spawn(tmp_path, "run", program, *MAIN, '{"mode": "wait"}', traced=traced)
    try:
        _until_ready(proc)
        time.sleep(0.2)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "ready\n" + out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_signalled_run_ends_the_same_way_traced(tmp_path, program, sig):
    cli(tmp_path, "run", program, *MAIN, '{"mode": "ok"}', traced=True)  # builds ahead
    untraced = _signalled(tmp_path, program, False, sig)
    traced = _signalled(tmp_path, program, True, sig)
    assert untraced[0] == traced[0] == -sig
    assert untraced[1] == traced[1] == "ready\n"
    assert warnings(traced[2]) == []
    trace, events = read(tmp_path / "traces" / "trace_latest")
    assert not trace.report.damaged, trace.report.damage
    assert trace.report.complete == (sig == signal.SIGTERM)
    if sig == signal.SIGTERM:
        kinds = [e.kind for e in events]
        assert kinds.count(Kind.start) >= 3, "the spans open at the signal were recorded"
