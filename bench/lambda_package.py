#!/usr/bin/env python3
"""Lambda package size and cold start of the Notus functions, as markdown.

    bench/lambda_package.py target/lambda [--runs 20]

For each `<dir>/<function>/bootstrap` (what `cargo lambda build --release` writes, and what
infra/deploy zips): the zipped size (deflate, as `aws cloudformation package` zips it) and the
unzipped size. For notus-api, the cold start: a minimal Lambda Runtime API on 127.0.0.1 hands a
freshly started process one API Gateway v2 event (GET /v2/, which touches no AWS service), and
the time from spawn to the function's response is recorded, with the process's peak RSS
(VmHWM). The function's AWS settings point at 127.0.0.1:9 (nothing is called). Stdlib only.
"""
import argparse
import http.server
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import zipfile

EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/v2/", "rawQueryString": "",
    "headers": {"host": "notus.example"},
    "requestContext": {
        "accountId": "123456789012", "apiId": "api", "domainName": "notus.example",
        "domainPrefix": "notus", "requestId": "r", "routeKey": "$default", "stage": "$default",
        "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": 1795660800000,
        "http": {"method": "GET", "path": "/v2/", "protocol": "HTTP/1.1",
                 "sourceIp": "127.0.0.1", "userAgent": "bench"},
    },
    "isBase64Encoded": False,
}


def zipped_size(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return len(buf.getvalue())


def template_allocator_env():
    """The allocator settings (`MIMALLOC_*`) infra/template.yaml gives every function, so the
    measured process runs as deployed."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infra", "template.yaml")
    with open(path) as f:
        return dict(re.findall(r'^\s+(MIMALLOC_[A-Z_]+): "?([^"\s]+)"?\s*$', f.read(), re.M))


def invoke(bootstrap, events, env_extra=None):
    """Run `bootstrap` under a minimal Runtime API on 127.0.0.1, hand it `events` one by one.
    Returns ([seconds from spawn to each response], [responses], peak RSS in KiB)."""
    answered = threading.Event()
    release = threading.Event()
    pending = list(events)
    responses, times = [], []
    start = time.perf_counter()

    class Runtime(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.endswith("/invocation/next") and pending:
                body = json.dumps(pending.pop(0)).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{len(pending)}")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:notus-api")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:  # nothing more to hand out: hold the poll until the process is stopped
                release.wait(60)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_POST(self):
            n = int(self.headers.get("content-length") or 0)
            payload = self.rfile.read(n)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if "/response" in self.path or "/error" in self.path:
                times.append(time.perf_counter() - start)
                responses.append(json.loads(payload or b"null"))
                if len(responses) == len(events):
                    answered.set()

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the held poll is reset when the process is stopped: expected

    server = Server(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "notus-api", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "NOTUS_LOG": "warn",
    }
    env.update(template_allocator_env())
    env.update(env_extra or {})
    start = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = answered.wait(120)
    # The process's own high-water mark (wait4's would include what it inherited at fork).
    with open(f"/proc/{proc.pid}/status") as f:
        peak_kib = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    proc.terminate()
    release.set()
    proc.wait()
    server.shutdown()
    if not ok:
        sys.exit(f"{bootstrap} did not answer: {proc.stderr.read().decode(errors='replace')}")
    return times, responses, peak_kib


def cold_start(bootstrap):
    """Seconds from spawn to the first response, and peak RSS in KiB."""
    times, responses, peak = invoke(bootstrap, [EVENT])
    if responses[0].get("statusCode") != 200:
        sys.exit(f"{bootstrap} answered {responses[0]}")
    return times[0], peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory holding <function>/bootstrap")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    print("| function | zipped | unzipped | cold start p50 / max (ms) | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for fn in ("notus-api", "notus-refresh"):
        path = os.path.join(args.dir, fn, "bootstrap")
        z, u = zipped_size(path), os.path.getsize(path)
        cold = "–"
        rss = "–"
        if fn == "notus-api":
            runs = [cold_start(path) for _ in range(args.runs)]
            times = [t * 1000 for t, _ in runs]
            cold = f"{statistics.median(times):.1f} / {max(times):.1f}"
            rss = f"{max(r for _, r in runs) / 1024:.1f}"
        print(f"| {fn} | {z / 1e6:.2f} MB | {u / 1e6:.2f} MB | {cold} | {rss} |")


if __name__ == "__main__":
    main()
