#!/usr/bin/env python3
"""The AWS API calls one publish makes, counted at the emulator.

    .venv/bin/python bench/aws_calls.py --notus-server target/release/notus-server

Starts a counting forwarder on 127.0.0.1 in front of the LocalStack-API emulator at
$AWS_ENDPOINT_URL and `notus-server --aws` pointed at it (the same S3/DynamoDB/KMS adapters the
Lambda functions use), then makes a first publish (root + targets + snapshot) and an incremental
one (targets + snapshot) of a crafted Notary collection and prints each one's calls by service and
operation, as markdown. The floor a publish can reach: one ledger write, at most two KMS Sign
calls, one PUT per new file.
"""
import argparse
import collections
import http.client
import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import side_by_side as sbs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notus-server", required=True)
    args = ap.parse_args()
    emulator = os.environ.get("AWS_ENDPOINT_URL") or sys.exit("set AWS_ENDPOINT_URL (localstack/start)")
    emu = urllib.parse.urlsplit(emulator)
    calls = collections.Counter()
    lock = threading.Lock()

    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            auth = self.headers.get("authorization", "")
            service = auth.split("Credential=")[1].split("/")[3] if "Credential=" in auth else "?"
            target = self.headers.get("x-amz-target", "")
            op = target.split(".")[-1] if target else f"{self.command} {'list' if 'list-type' in self.path else 'object'}"
            with lock:
                calls[(service, op)] += 1
            conn = http.client.HTTPConnection(emu.hostname, emu.port, timeout=60)
            conn.request(self.command, self.path, body=body or None, headers=dict(self.headers))
            r = conn.getresponse()
            data = r.read()
            self.send_response_only(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    suffix = str(os.getpid())
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.server_address[1]}",
               NOTUS_LOG="warn")
    p = subprocess.Popen([args.notus_server, "--aws", "--create-missing", "--listen", "127.0.0.1:0",
                          "--bucket", f"notus-calls-{suffix}", "--table", f"notus-calls-{suffix}",
                          "--kms-key", f"alias/notus-calls-{suffix}"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        url = next(w for w in p.stdout.readline().split() if w.startswith("http://"))
        sbs.wait_http(url)
        # notus-server's refresh loop runs once at start (16 index queries, twice): let it finish.
        time.sleep(2)
        col = sbs.Collection(url, "bench.example/calls", 100)
        first, update = col.first(), col.update()
        u = urllib.parse.urlsplit(url)
        rows = []
        for label, upload in (("first publish (root, targets, snapshot)", first),
                              ("incremental publish (targets, snapshot)", update)):
            with lock:
                calls.clear()
            conn = http.client.HTTPConnection(u.hostname, u.port)
            sbs.post(conn, col.gun, upload)
            conn.close()
            with lock:
                rows.append((label, dict(calls)))
    finally:
        p.terminate()
        p.wait()
        proxy.shutdown()
    ops = sorted({k for _, c in rows for k in c})
    print("| API call | " + " | ".join(label for label, _ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for op in ops:
        print(f"| {op[0]} {op[1]} | " + " | ".join(str(c.get(op, 0)) for _, c in rows) + " |")
    print("| **total** | " + " | ".join(str(sum(c.values())) for _, c in rows) + " |")


if __name__ == "__main__":
    main()
