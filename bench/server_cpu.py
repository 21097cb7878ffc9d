#!/usr/bin/env python3
"""Server CPU per publish under concurrent load: starts one server (as bench/side_by_side.py
does), publishes to N collections at once, and prints the rate, p50, and the server's CPU time
(user + system, from /proc) per publish, first publishes included. Profile 4 in
docs/performance.md was measured with it.

    python3 bench/server_cpu.py notus  16 50 [--notus-server target/release/notus-server]
    python3 bench/server_cpu.py notary 16 50

Set TMPDIR=/dev/shm to put notus-server's data directory on tmpfs (no disk cost).
"""
import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import side_by_side as sb  # noqa: E402


def user_system(procs):
    """(user, system) CPU seconds of the server's processes, from /proc."""
    user = system = 0.0
    for p in procs:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user += int(fields[11]) / os.sysconf("SC_CLK_TCK")
        system += int(fields[12]) / os.sysconf("SC_CLK_TCK")
    return user, system


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("server", choices=["notus", "notary"])
    ap.add_argument("collections", type=int)
    ap.add_argument("per_collection", type=int)
    ap.add_argument("--notus-server", default="target/release/notus-server")
    ap.add_argument("--load", help="post with this load generator (target/release/notus-bench-load)"
                    " instead of Python threads")
    args = ap.parse_args()
    srv = sb.start_notus(args.notus_server) if args.server == "notus" else sb.start_notary()
    try:
        total = args.collections * args.per_collection
        (u0, s0), me0 = user_system(srv.procs), os.times()
        t0 = time.perf_counter()
        rate, p50, _ = sb.throughput(srv, args.collections, args.per_collection, args.load)
        wall = time.perf_counter() - t0
        me1 = os.times()
        u1, s1 = user_system(srv.procs)
        client = sum(me1[:4]) - sum(me0[:4])  # this Python and its waited children (the load generator)
        print(f"{args.server} at {args.collections} collections: {rate:.0f} publishes/s, p50 "
              f"{p50:.1f} ms; server CPU {((u1 - u0) + (s1 - s0)) / total * 1000:.2f} ms per "
              f"publish (user {(u1 - u0) / total * 1000:.2f}, system {(s1 - s0) / total * 1000:.2f}), "
              f"client CPU {client / total * 1000:.2f} ms ({wall:.1f} s in all)")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
