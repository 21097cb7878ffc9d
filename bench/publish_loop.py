#!/usr/bin/env python3
"""Sequential incremental publishes to one notus-server, for profiling it.

    .venv/bin/python bench/publish_loop.py --notus-server target/release/notus-server [-n 400] &
    perf record -g -p "$(head -1 publish_loop.pid)" -- sleep 2

Starts notus-server (embedded adapters in a temporary directory), publishes a 100-target
collection, prepares N incremental updates, writes the server's PID to `publish_loop.pid`, waits
2 s (time to attach a profiler), posts the updates one after another over one connection, and
prints the wall time and the server's CPU time per publish. The figures of docs/performance.md's
profiles come from this loop.
"""
import argparse
import http.client
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notus-server", required=True)
    ap.add_argument("-n", type=int, default=400, help="incremental publishes")
    args = ap.parse_args()
    server = sbs.start_notus(args.notus_server)
    try:
        col = sbs.Collection(server.url, "bench.example/loop", 100)
        u = urllib.parse.urlsplit(server.url)
        conn = http.client.HTTPConnection(u.hostname, u.port)
        sbs.post(conn, col.gun, col.first())
        updates = [col.update() for _ in range(args.n)]
        with open("publish_loop.pid", "w") as f:
            f.write(f"{server.procs[0].pid}\n")
        time.sleep(2)
        cpu0, t0 = server.cpu(), time.perf_counter()
        for up in updates:
            sbs.post(conn, col.gun, up)
        wall = time.perf_counter() - t0
        cpu = server.cpu() - cpu0
        print(f"{args.n} publishes: {wall / args.n * 1000:.1f} ms wall, "
              f"{cpu / args.n * 1000:.1f} ms server CPU per publish")
    finally:
        server.stop()
        if os.path.exists("publish_loop.pid"):
            os.remove("publish_loop.pid")


if __name__ == "__main__":
    main()
