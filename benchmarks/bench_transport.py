"""The runtime's HTTP transport against what it was and against httpx, side by side.

- before: urllib in a worker thread of the default executor, a new connection per call
  and at most cpu count + 4 calls in flight;
- now: the runtime's transport, http.client keep-alive connections pooled per host, in
  its own 32 worker threads;
- httpx: one pooled `httpx.AsyncClient` (the alternative that was considered).
All three send the same small JSON POSTs to one loopback keep-alive server (in its own
process, so it does not share the clients' GIL), in alternating rounds so they see the
same machine load:
- plain HTTP, one call after another: the per-call overhead;
- HTTPS, one after another (an agent's turns): a TLS handshake per call, or one in all;
- 20 calls at once, each answered after 50 ms (parallel steps): how many overlap.
Loopback has no network round trips, which is most of what a pooled connection saves on
a real network (two round trips a call for TCP and TLS), so the HTTPS gain is a floor.
Ratios are the other client's median time over the transport's: above 1, the transport
is faster. Needs httpx (`pip install -e '.[bench]'`).
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from n3core.runtime import transport

ROUNDS = 5
HEADERS = {"Content-Type": "application/json"}
BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
REPLY = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as real servers do: headers and body are two writes

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/slow":
            time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops simultaneous connects (1 s SYN retry)


def serve(cert=None):
    """The server, in its own process; HTTPS when given a certificate."""
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, cert)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    sys.stdin.read()  # until the benchmark closes the pipe


def start_server(cert=None):
    process = subprocess.Popen([sys.executable, __file__, "serve", *([cert] if cert else [])],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def self_signed(folder):
    path = os.path.join(folder, "loopback.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path, "-out",
                    path + ".crt", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with open(path, "a") as pem, open(path + ".crt") as crt:
        pem.write(crt.read())
    return path


def before(tls):
    def call(url):
        handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)]
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, data=BODY, method="POST", headers=HEADERS)
        with opener.open(request, timeout=10) as reply:
            return reply.read()

    return lambda shape, url: shape(lambda u: asyncio.to_thread(call, u), url)


def now(tls):
    transport._pool.tls = tls  # the pool trusts the benchmark's own certificate

    async def call(url):
        return (await transport.request("POST", url, body=BODY, timeout=10,
                                        headers=HEADERS)).body

    return lambda shape, url: shape(call, url)


def with_httpx(tls):
    import httpx

    async def run(shape, url):
        async with httpx.AsyncClient(verify=tls) as client:
            await shape(lambda u: client.post(u, content=BODY, headers=HEADERS), url)

    return run


def one_after_another(count):
    async def run(call, url):
        for _ in range(count):
            await call(url)
    return run


def at_once(count):
    async def run(call, url):
        await asyncio.gather(*(call(url) for _ in range(count)))
    return run


def compare(label, shape, clients, url, rounds):
    """A results row: our transport ("now") beside the others, in interleaved rounds."""
    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row

    samples = interleaved({name: (lambda run=run: asyncio.run(run(shape, url)))
                           for name, run in clients.items()}, rounds, clock=time.perf_counter_ns)
    ms = {name: Stat.of(v / 1e6 for v in values) for name, values in samples.items()}
    peers = {"urllib in a worker thread (before)": ms["before"], "httpx": ms["httpx"]}
    return Row("HTTP transport (loopback)", label, "ms wall", ms["now"], peers)


def collect(quick: bool) -> list:
    rounds = 2 if quick else ROUNDS
    with tempfile.TemporaryDirectory() as folder:
        cert = self_signed(folder)
        tls = ssl.create_default_context(cafile=cert)
        clients = {"before": before(tls), "now": now(tls), "httpx": with_httpx(tls)}
        plain, plain_port = start_server()
        secure, secure_port = start_server(cert)
        try:
            return [compare("HTTP, 100 calls one after another", one_after_another(100),
                            clients, f"http://127.0.0.1:{plain_port}/v1", rounds),
                    compare("HTTPS, 50 calls one after another", one_after_another(50), clients,
                            f"https://127.0.0.1:{secure_port}/v1", rounds),
                    compare("20 calls at once, 50 ms each", at_once(20), clients,
                            f"http://127.0.0.1:{plain_port}/slow", rounds)]
        finally:
            for process in (plain, secure):
                process.stdin.close()
                process.wait(timeout=10)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(*sys.argv[2:])
