#!/usr/bin/env python3
"""The client's CPU per publish while posting: Python threads (http.client) against bench/load,
three interleaved rounds against notus-server; profile 7 of docs/performance.md quotes it.

    TMPDIR=/dev/shm .venv/bin/python bench/client_cost.py [--notus-server …] [--load …]

Counts this process and its waited children (the load generator) from the moment the uploads
are crafted until the last response; for the load generator that includes writing its plan.
"""
import argparse
import http.client
import os
import pathlib
import sys
import threading
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import side_by_side as sb  # noqa: E402

COLLECTIONS, PER_COLLECTION = 16, 100


def post_with_threads(host, cols, prepared):
    def run(i):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        for upload in prepared[i]:
            sb.post(conn, cols[i].gun, upload)
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cols))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notus-server", default="target/release/notus-server")
    ap.add_argument("--load", default="target/release/notus-bench-load")
    args = ap.parse_args()
    for rnd in range(3):
        for client in ("python", "bench/load"):
            srv = sb.start_notus(args.notus_server)
            try:
                host = urllib.parse.urlsplit(srv.url)
                cols = [sb.Collection(srv.url, f"bench.example/client-{rnd}-{len(client)}-{i}")
                        for i in range(COLLECTIONS)]
                for c in cols:
                    conn = http.client.HTTPConnection(host.hostname, host.port)
                    sb.post(conn, c.gun, c.first())
                    conn.close()
                prepared = [[c.update() for _ in range(PER_COLLECTION)] for c in cols]
                t0 = os.times()
                if client == "python":
                    post_with_threads(host, cols, prepared)
                else:
                    sb.load_run(args.load, host, cols, prepared)
                cpu = sum(os.times()[:4]) - sum(t0[:4])
                print(f"{client:10} client CPU while posting: "
                      f"{cpu / (COLLECTIONS * PER_COLLECTION) * 1000:.3f} ms per publish", flush=True)
            finally:
                srv.stop()


if __name__ == "__main__":
    main()
