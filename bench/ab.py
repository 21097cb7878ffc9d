#!/usr/bin/env python3
"""Interleaved A/B of notus-server binaries (and notary-server) in one process; profile 7 of
docs/performance.md was measured with it.

    .venv/bin/python bench/ab.py 16 100 before=path/to/old/notus-server \
        after=target/release/notus-server --notary [--rounds 3]

COLLECTIONS may be a list (`4,16`): each round then runs every variant at each count.

Each round starts every variant in turn (a fresh server each), publishes COLLECTIONS × PER
incremental updates through bench/load, and prints the rate, p50 and the server's CPU per
publish. The data directories are removed only when this process ends, and the load generator
writes no files, so no run's clean-up lands between two others: on ext4 without a journal,
files deleted in the last minutes slow the next server's file creation (profile 7).
`--keep` leaves them for the next runs too (profile 12).
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import server_cpu as sc  # noqa: E402
import side_by_side as sb  # noqa: E402


def variant_starters(variants, notary):
    """(name, start) for each NAME=NOTUS_SERVER, then notary-server if asked for."""
    starters = [(name, lambda b=binary: sb.start_notus(b))
                for name, binary in (v.split("=", 1) for v in variants)]
    if notary:
        starters.append(("notary", sb.start_notary))
    return starters


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("collections", help="number of collections, or a list: 4,16")
    ap.add_argument("per_collection", type=int)
    ap.add_argument("variants", nargs="+", metavar="NAME=NOTUS_SERVER")
    ap.add_argument("--notary", action="store_true", help="notary-server as one more variant")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--load", default="target/release/notus-bench-load")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directories (listed at the end) so that the next run is "
                         "not slowed by their deletion; remove them when measuring is done")
    args = ap.parse_args()
    starters = variant_starters(args.variants, args.notary)
    for _ in range(args.rounds):
        for collections, (name, start) in ((c, s) for c in map(int, args.collections.split(","))
                                           for s in starters):
            total = collections * args.per_collection
            srv = start()
            try:
                u0, s0 = sc.user_system(srv.procs)
                rate, p50, _ = sb.throughput(srv, collections, args.per_collection, args.load)
                u1, s1 = sc.user_system(srv.procs)
                print(f"{name:12} {collections:3}  {rate:6.0f}/s  p50 {p50:5.1f} ms  CPU per publish: user "
                      f"{(u1 - u0) / total * 1000:.2f} ms, system {(s1 - s0) / total * 1000:.2f} ms",
                      flush=True)
            finally:
                srv.stop()
    if args.keep:
        print("kept:", *sb.LEFT_BEHIND, file=sys.stderr)
        sb.LEFT_BEHIND.clear()


if __name__ == "__main__":
    main()
