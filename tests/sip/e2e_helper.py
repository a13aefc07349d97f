#!/usr/bin/env python3
"""Small helpers for tests/sip/run_e2e.sh (standard library only).

  ports N                      N ports free for UDP and TCP on 127.0.0.1, one a line
  receiver PORT LOGFILE        HTTP receiver: answers 200 to anything, logs each request as JSON
  wait-http URL SECONDS        until URL answers 200 (exit 1 on timeout)
  sip-ping HOST PORT SECONDS   until a SIP OPTIONS gets any answer over UDP (exit 1 on timeout)
  api METHOD URL TOKEN [JSON]  one API request; prints the body; exit 1 unless 2xx
  json EXPR                    reads JSON on stdin, prints eval(EXPR) with `j` bound to it
  wait-call URL TOKEN UUID SECONDS EXPR
                               polls GET URL/api/v1/calls/UUID until eval(EXPR) with `c` bound to
                               the call is true; prints the call; exit 1 on timeout
"""
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ports(n):
    held, out = [], []
    while len(out) < n:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            u.close()
            t.close()
            continue
        held += [u, t]
        out.append(port)
    for s in held:
        s.close()
    print("\n".join(map(str, out)))


def receiver(port, logfile):
    log = open(logfile, "a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
            with lock:
                log.write(json.dumps({"method": self.command, "path": self.path,
                                      "body": body, "at": time.time()}) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = do_HEAD = handle_any

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def request(method, url, token=None, body=None, timeout=5):
    data = body.encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait_http(url, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        if request("GET", url, timeout=1)[0] == 200:
            return 0
        time.sleep(0.05)
    return 1


def sip_ping(host, port, seconds):
    end = time.time() + float(seconds)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    s.settimeout(0.2)
    n = 0
    while time.time() < end:
        n += 1
        msg = (f"OPTIONS sip:ping@{host}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-e2e-{n}-{time.time_ns()}\r\n"
               f"From: <sip:e2e@127.0.0.1:{me}>;tag=e2e{n}\r\nTo: <sip:ping@{host}:{port}>\r\n"
               f"Call-ID: e2e-ping-{n}-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               "Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), (host, int(port)))
        try:
            data = s.recv(4096)
            if data.startswith(b"SIP/2.0 "):
                return 0
        except socket.timeout:
            pass
    return 1


def main(argv):
    cmd = argv[1]
    if cmd == "ports":
        ports(int(argv[2]))
    elif cmd == "receiver":
        receiver(argv[2], argv[3])
    elif cmd == "wait-http":
        return wait_http(argv[2], argv[3])
    elif cmd == "sip-ping":
        return sip_ping(argv[2], argv[3], argv[4])
    elif cmd == "api":
        status, body = request(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else None)
        print(body)
        if not 200 <= status < 300:
            print(f"{argv[2]} {argv[3]} -> {status}", file=sys.stderr)
            return 1
    elif cmd == "json":
        j = json.load(sys.stdin)
        print(eval(argv[2], {"j": j, "json": json}))
    elif cmd == "wait-call":
        base, token, uuid, seconds, expr = argv[2:7]
        end, call = time.time() + float(seconds), None
        while time.time() < end:
            status, body = request("GET", f"{base}/api/v1/calls/{uuid}", token)
            if status == 200:
                call = json.loads(body)
                try:
                    if eval(expr, {"c": call}):
                        print(json.dumps(call))
                        return 0
                except (KeyError, TypeError, IndexError):
                    pass
            time.sleep(0.1)
        print(json.dumps(call))
        return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
