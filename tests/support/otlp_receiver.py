"""An OTLP/HTTP traces receiver on loopback that decodes what it gets with
opentelemetry-proto, answers 429/503/400 when told to, and reports partial success."""
from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

from tests.support.loopback import send_whole


class Receiver:
    """An OTLP/HTTP traces receiver; `answers` are (status, headers) for the first POSTs."""

    def __init__(self, answers=(), rejected=0):
        self.answers = list(answers)
        self.rejected = rejected
        self.posts, self.requests = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((self.path, dict(self.headers)))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                if status == 200:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    req = ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    receiver.requests.append(req)
                    resp = ExportTraceServiceResponse()
                    if receiver.rejected:
                        resp.partial_success.rejected_spans = receiver.rejected
                        resp.partial_success.error_message = "span ids already stored"
                    data = resp.SerializeToString()
                else:
                    data = b"not now"
                send_whole(self, status, "application/x-protobuf", data, headers)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
