#!/usr/bin/env python3
"""Interleaved A/B of notus-server binaries (and notary-server) on one large first publish;
profile 11 of docs/performance.md was measured with it.

    .venv/bin/python bench/ab_first_publish.py 100000 before=path/to/old/notus-server \\
        after=target/release/notus-server --notary [--rounds 3]

Each round starts every variant in turn (a fresh server each) and posts the first publish
(root + targets + snapshot) of one collection of TARGETS targets, as bench/side_by_side.py's
validation at scale does, printing the POST's wall time, the server's CPU time and its peak RSS.
A variant may be a wrapper script that sets the environment before it execs a binary.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import ab  # noqa: E402
import side_by_side as sb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", type=int, help="targets in the collection's targets role")
    ap.add_argument("variants", nargs="+", metavar="NAME=NOTUS_SERVER")
    ap.add_argument("--notary", action="store_true", help="notary-server as one more variant")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for _ in range(args.rounds):
        for name, start in ab.variant_starters(args.variants, args.notary):
            r = sb.validation(start, name, args.targets, 0, None, with_client=False)
            print(f"{name:12} wall {r['wall'] * 1000:5.0f} ms  CPU {r['cpu'] * 1000:5.0f} ms  "
                  f"peak RSS {r['rss']:4.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
