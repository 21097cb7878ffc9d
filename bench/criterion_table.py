#!/usr/bin/env python3
"""Print the in-process criterion figures (functions/benches/inprocess.rs) as a markdown table.

Reads target/criterion/**/new/{benchmark,estimates}.json, which `cargo bench` writes; run after
`cargo bench -p notus-service --bench inprocess` (bench/run does both).

    python3 bench/criterion_table.py [target/criterion]
"""
import json
import pathlib
import sys


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    rows = []
    for meta_file in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(meta_file.read_text())
        est = json.loads((meta_file.parent / "estimates.json").read_text())["median"]
        median = est["point_estimate"]
        lo, hi = est["confidence_interval"]["lower_bound"], est["confidence_interval"]["upper_bound"]
        rate = ""
        tp = meta.get("throughput") or {}
        if "Elements" in tp:
            rate = f"{tp['Elements'] / (median / 1e9) / 1e3:,.0f} k targets/s"
        elif "Bytes" in tp:
            rate = f"{tp['Bytes'] / (median / 1e9) / 2**20:,.0f} MiB/s"
        rows.append((meta["full_id"], fmt_time(median), f"{fmt_time(lo)} – {fmt_time(hi)}", rate))
    if not rows:
        sys.exit(f"no criterion results under {root}: run cargo bench first")
    print("| benchmark | median | 95 % interval | rate |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
