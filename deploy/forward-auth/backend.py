#!/usr/bin/env python3
"""A service behind wxauth with no JWT code at all: it trusts the X-Auth-*
headers the gateway (nginx auth_request, Caddy forward_auth) sets after
asking wxauth's GET /auth/verify, and answers with what it received as JSON
(method, path, every header as received, the body).

    python3 backend.py 127.0.0.1 9000

Run it where only the gateway can reach it (loopback, a private network):
anyone who reaches it directly can send any X-Auth-* header they like.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        seen = {
            "method": self.command,
            "path": self.path,
            "user": self.headers.get("X-Auth-Subject"),
            "headers": [[name, value] for name, value in self.headers.items()],
            "body": body,
        }
        data = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, fmt, *args):
        # One line a request on stderr: method and path, no headers.
        sys.stderr.write("%s %s\n" % (self.command, self.path.split("?")[0]))


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
    ThreadingHTTPServer((host, port), Echo).serve_forever()
