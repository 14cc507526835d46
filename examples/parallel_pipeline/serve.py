"""A tiny local market API for the briefing example, on 127.0.0.1 only.

It answers a bounded number of requests (and stops after a time limit) so it never
outlives the example: `python serve.py --port 8765 --requests 5 --seconds 60 &`.
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

QUOTES = {"N3X": {"price": 101.25, "change": 0.4}, "SPX": {"price": 5200.0, "change": -0.1}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        symbol = parse_qs(url.query).get("symbol", ["N3X"])[0]
        status, body = (200, {"symbol": symbol, **QUOTES[symbol]}) if symbol in QUOTES else (
            404, {"error": f"unknown symbol {symbol}"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.served += 1

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.served = 0
    server.timeout = 0.2
    deadline = threading.Timer(args.seconds, lambda: setattr(server, "served", args.requests))
    deadline.daemon = True
    deadline.start()
    while server.served < args.requests:
        server.handle_request()
    server.server_close()


if __name__ == "__main__":
    main()
