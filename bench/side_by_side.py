#!/usr/bin/env python3
"""Notus and notary-server side by side, on this machine, in one run; prints markdown.

    .venv/bin/python bench/side_by_side.py --notus-server target/release/notus-server \
        --notus target/release/notus [--load target/release/notus-bench-load] [--quick]

What it runs (everything on 127.0.0.1, the same clients for both servers):

* notary-server 0.7 with notary-signer (Debian `notary`; memory storage, remote signer over mTLS,
  as in the reference recipe) and `notus-server` (embedded adapters: a durable redb ledger and
  files on disk), fresh processes per section.
* Publish throughput and latency: 1, 4 and 16 collections of 100 targets published to at once,
  each by its own thread posting prepared incremental updates (targets + snapshot; the server
  signs the timestamp) over a kept-alive connection: threads of the load generator in bench/load
  with `--load` (what bench/run uses), Python threads without it. Uploads are crafted before the clock starts
  (tests/notary/tufcraft.py), identical in shape for both servers (each server's own timestamp
  key is in the root). Three rounds alternate the servers; the table gives medians, since single
  runs on a small virtual machine vary by ±30 %.
* Validation at scale: the first publish (root + targets + snapshot) of a collection with 1k, 10k
  and 100k targets, and of one with 1k delegations: wall time of the POST, the server's CPU
  time (notary: server + signer), and its peak RSS (VmHWM; a fresh server per case), each the
  median of three rounds that alternate the servers.
* Client: `notus list` and `notary list` of the 1k and 100k collections, with an empty cache
  (cold) and again (warm): wall time and the client's peak RSS (GNU time).

Ratios are Notus / notary-server from this run. Needs the venv's Python (cryptography).
"""
import argparse
import atexit
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "notary"))
import tufcraft as tc  # noqa: E402

CERTS = r"""
set -e
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=bench-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
for who in signer server; do
  openssl ecparam -name prime256v1 -genkey -noout -out $who.key
  openssl req -new -key $who.key -subj "/CN=notary-$who" -out $who.csr
  printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" > $who.ext
  openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -sha256 -extfile $who.ext -out $who.crt
done
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            u = urllib.parse.urlsplit(url)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            c.request("GET", "/_notary_server/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One server under test: its URL and the processes whose CPU and memory count."""

    def __init__(self, name, url, procs, tmp):
        self.name, self.url, self.procs, self.tmp = name, url, procs, tmp

    def cpu(self):
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def peak_rss(self):
        return sum(proc_status(p.pid, "VmHWM") for p in self.procs)

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            p.wait()
        # Removed when the run ends, not now: on ext4 without a journal, inodes freed in the last
        # minutes make every new file's allocation scan past them, which would charge this
        # server's clean-up to the next one measured.
        LEFT_BEHIND.append(self.tmp)


LEFT_BEHIND = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in LEFT_BEHIND])


def start_notary():
    tmp = tempfile.mkdtemp(prefix="bench-notary-")
    subprocess.run(["sh", "-c", CERTS], cwd=tmp, check=True, capture_output=True)
    grpc, http_port = free_port(), free_port()
    signer = {"server": {"grpc_addr": f"127.0.0.1:{grpc}", "tls_cert_file": f"{tmp}/signer.crt",
                         "tls_key_file": f"{tmp}/signer.key", "client_ca_file": f"{tmp}/ca.crt"},
              "logging": {"level": "error"}, "storage": {"backend": "memory"}}
    server = {"server": {"http_addr": f"127.0.0.1:{http_port}"},
              "trust_service": {"type": "remote", "hostname": "127.0.0.1", "port": str(grpc),
                                "key_algorithm": "ecdsa", "tls_ca_file": f"{tmp}/ca.crt",
                                "tls_client_cert": f"{tmp}/server.crt",
                                "tls_client_key": f"{tmp}/server.key"},
              "storage": {"backend": "memory"}, "logging": {"level": "error"}}
    for name, conf in (("signer.json", signer), ("server.json", server)):
        with open(f"{tmp}/{name}", "w") as f:
            json.dump(conf, f)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = subprocess.Popen(["notary-signer", "-config", f"{tmp}/signer.json"], **quiet)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", grpc), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    n = subprocess.Popen(["notary-server", "-config", f"{tmp}/server.json"], **quiet)
    url = f"http://127.0.0.1:{http_port}"
    wait_http(url)
    return Server("notary-server", url, [n, s], tmp)


def start_notus(binary):
    tmp = tempfile.mkdtemp(prefix="bench-notus-")
    p = subprocess.Popen([binary, "--data-dir", f"{tmp}/data", "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, NOTUS_LOG="warn"))
    line = p.stdout.readline()
    url = next(w for w in line.split() if w.startswith("http://"))
    wait_http(url)
    return Server("notus-server", url, [p], tmp)


class Collection:
    """A Notary-format collection crafted in Python for one server and GUN."""

    def __init__(self, url, gun, n_targets=100, n_delegations=0):
        self.url, self.gun = url, gun
        status, body = tc.http("GET", f"{url}/v2/{gun}/_trust/tuf/timestamp.key")
        assert status == 200, (status, body)
        k = json.loads(body)
        self.ts = tc.Key.from_public(k["keytype"], k["keyval"]["public"])
        self.root_key, self.targets_key, self.snapshot_key = tc.Key(cert_cn=gun), tc.Key(), tc.Key()
        self.targets = {f"t{i}": {"hashes": {"sha256": tc.b64(hashlib.sha256(b"%d" % i).digest())},
                                  "length": i + 1} for i in range(n_targets)}
        self.delegations = {"keys": {}, "roles": []}
        for i in range(n_delegations):
            dk = tc.Key()
            self.delegations["keys"][dk.id] = dk.tuf()
            self.delegations["roles"].append({"name": f"targets/d{i}", "keyids": [dk.id],
                                              "threshold": 1, "paths": [f"d{i}/"]})
        self.version = 0
        self.root = None

    def _targets_and_snapshot(self):
        self.version += 1
        t = tc.sign_meta(tc.targets_signed(self.targets, self.version,
                                           delegations=self.delegations), self.targets_key)
        s = tc.sign_meta(tc.snapshot_signed({"root": self.root, "targets": t}, self.version),
                         self.snapshot_key)
        return t, s

    def first(self):
        self.root = tc.sign_meta(tc.root_signed([self.root_key], [self.targets_key],
                                                [self.snapshot_key], [self.ts]), self.root_key)
        t, s = self._targets_and_snapshot()
        return tc.multipart([("root", self.root), ("targets", t), ("snapshot", s)])

    def update(self):
        n = len(self.targets)
        self.targets[f"t{n}"] = {"hashes": {"sha256": tc.b64(hashlib.sha256(b"%d" % n).digest())},
                                 "length": n + 1}
        t, s = self._targets_and_snapshot()
        return tc.multipart([("targets", t), ("snapshot", s)])


def post(conn, gun, upload):
    ctype, body = upload
    conn.request("POST", f"/v2/{gun}/_trust/tuf/", body=body, headers={"Content-Type": ctype})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"POST {gun}: {r.status} {data[:300]!r}")


def throughput(server, gun_count, per_gun, load=None):
    """(publishes/s, p50 ms, p99 ms) for gun_count collections published to at once, by the
    load generator `load` (bench/load, a binary) or, without one, by Python threads."""
    host = urllib.parse.urlsplit(server.url)
    cols = [Collection(server.url, f"bench.example/{server.name}/g{gun_count}-{i}")
            for i in range(gun_count)]
    for c in cols:
        conn = http.client.HTTPConnection(host.hostname, host.port)
        post(conn, c.gun, c.first())
        conn.close()
    prepared = [[c.update() for _ in range(per_gun)] for c in cols]
    if load:
        return summarise(*load_run(load, host, cols, prepared))
    latencies = []
    lock = threading.Lock()
    start_line = threading.Barrier(gun_count + 1)

    def run(i):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.connect()
        mine = []
        start_line.wait()
        for up in prepared[i]:
            t0 = time.perf_counter()
            post(conn, cols[i].gun, up)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(gun_count)]
    for t in threads:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return summarise(wall, latencies)


def load_run(load, host, cols, prepared):
    """(wall s, latencies s) of the prepared uploads posted by the load generator: each as a
    complete HTTP/1.1 request on its standard input, after a line naming its connection (one per
    collection) and its length. No files: see bench/load's doc on deleted inodes."""
    plan = bytearray()
    for i, (c, uploads) in enumerate(zip(cols, prepared)):
        for ctype, body in uploads:
            head = (f"POST /v2/{c.gun}/_trust/tuf/ HTTP/1.1\r\nHost: {host.netloc}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            plan += f"{i} {len(head) + len(body)}\n".encode() + head + body
    p = subprocess.run([load, f"{host.hostname}:{host.port}"], input=bytes(plan),
                       capture_output=True)
    if p.returncode != 0:
        sys.exit(f"load generator failed: {p.stderr.decode(errors='replace').strip()}")
    wall, *latencies = (float(x) for x in p.stdout.split())
    return wall, latencies


def summarise(wall, latencies):
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / wall, statistics.median(latencies) * 1000, p99 * 1000


def client_lists(server, gun, notus_bin, n):
    """{(client, cache): (seconds, peak MiB)} for listing gun."""
    results = {}
    home = tempfile.mkdtemp(prefix="bench-client-")
    env = dict(os.environ, NOTUS_LOG="warn")
    if server.name == "notary-server":
        base = ["notary", "-s", server.url, "-d", f"{home}/trust", "list", gun]
    else:
        base = [notus_bin, "--home", f"{home}/notus", "-s", server.url, "list", gun, "--tofu"]
    runs = 3 if n <= 10_000 else 1
    for cache in ("cold", "warm"):
        samples = []
        for _ in range(runs):
            if cache == "cold":  # the last cold run leaves the cache the warm runs use
                shutil.rmtree(f"{home}/trust", ignore_errors=True)
                shutil.rmtree(f"{home}/notus", ignore_errors=True)
            samples.append(measure(base, env))
        results[cache] = (statistics.median(w for w, _ in samples), max(r for _, r in samples))
    shutil.rmtree(home, ignore_errors=True)
    return results


def measure(cmd, env):
    """(seconds, peak RSS MiB) of one client run. GNU time reports the peak: the wait4 figure of
    a child of this Python would include the pages it inherited at fork (Linux keeps the larger
    of the pre-exec and post-exec high-water marks)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, env=env,
                           capture_output=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd[:3])}… failed: {p.stderr.decode(errors='replace')[:500]}")
        if len(p.stdout.splitlines()) < 2:
            sys.exit(f"{' '.join(cmd[:3])}… listed nothing: {p.stdout[:200]!r}")
        return wall, int(rss.read().split()[-1]) / 1024


def validation(start, name, n_targets, n_delegations, notus_bin, with_client):
    server = start()
    try:
        gun = f"bench.example/scale-{n_targets}-{n_delegations}"
        c = Collection(server.url, gun, n_targets, n_delegations)
        upload = c.first()
        host = urllib.parse.urlsplit(server.url)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
        cpu0 = server.cpu()
        t0 = time.perf_counter()
        post(conn, gun, upload)
        wall = time.perf_counter() - t0
        cpu = server.cpu() - cpu0
        rss = server.peak_rss()
        clients = client_lists(server, gun, notus_bin, n_targets) if with_client else None
        return {"wall": wall, "cpu": cpu, "rss": rss, "bytes": len(upload[1]), "clients": clients}
    finally:
        server.stop()


def fmt_s(x):
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notus-server", required=True)
    ap.add_argument("--notus", required=True)
    ap.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    ap.add_argument("--load", help="publish throughput: post with this load generator "
                    "(target/release/notus-bench-load) instead of Python threads")
    ap.add_argument("--targets", help="validation: only these target counts (comma-separated)")
    ap.add_argument("--no-lists", action="store_true", help="validation: skip the client lists")
    ap.add_argument("--sections", default="throughput,validation",
                    help="comma-separated: throughput, validation (which includes the client lists)")
    args = ap.parse_args()
    starters = {"notary-server": start_notary, "notus-server": lambda: start_notus(args.notus_server)}

    sections = set(args.sections.split(","))
    if "throughput" in sections:
        publish_table(args, starters)
    if "validation" in sections:
        scale_tables(args, starters)


def publish_table(args, starters):
    rounds = 1 if args.quick else 3
    print("### Publish throughput and latency (100-target collections, incremental updates)\n")
    print(f"Median of {rounds} rounds that alternate the servers (fresh processes each), throughput "
          "range in brackets.\n")
    print("| concurrent collections | notary-server publishes/s | p50 / p99 ms | notus-server publishes/s | p50 / p99 ms | throughput ratio | p50 ratio |")
    print("|---|---|---|---|---|---|---|")
    total = 200 if args.quick else 800
    for g in (1, 4, 16):
        runs = {name: [] for name in starters}
        for _ in range(rounds):
            for name, start in starters.items():
                server = start()
                try:
                    runs[name].append(throughput(server, g, max(10, total // g), args.load))
                finally:
                    server.stop()
        n, u = (medians(runs[name]) for name in ("notary-server", "notus-server"))
        print(f"| {g} | {n[0]:.0f} {n[3]} | {n[1]:.1f} / {n[2]:.1f} | {u[0]:.0f} {u[3]} "
              f"| {u[1]:.1f} / {u[2]:.1f} | {u[0] / n[0]:.2f}× | {u[1] / n[1]:.2f}× |", flush=True)


def medians(runs):
    """(rate, p50, p99, "(min–max rate)") over rounds of throughput()."""
    rates = sorted(r[0] for r in runs)
    spread = f"({rates[0]:.0f}–{rates[-1]:.0f})" if len(rates) > 1 else ""
    return (statistics.median(rates), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs), spread)


def scale_tables(args, starters):
    print("\n### Validation at scale (first publish: root + targets + snapshot)\n")
    if not args.quick:
        print("Median of 3 rounds that alternate the servers (a fresh process each).\n")
    print("| collection | upload | notary-server wall / CPU / peak RSS | notus-server wall / CPU / peak RSS | time ratio | memory ratio |")
    print("|---|---|---|---|---|---|")
    cases = [(1_000, 0), (10_000, 0), (100_000, 0), (0, 1_000)]
    if args.quick:
        cases = [(1_000, 0), (10_000, 0), (0, 1_000)]
    if args.targets:  # e.g. --targets 100000: only these sizes, no delegation case
        cases = [(int(n), 0) for n in args.targets.split(",")]
    lists = {}
    rounds = 1 if args.quick else 3
    for n_targets, n_deleg in cases:
        # A single first publish on a fresh server is one sample of a few milliseconds at the
        # small sizes: rounds alternate the servers, each figure is the median of its rounds, and
        # the client lists (slow at 100k) run in the first round only.
        runs = {name: [] for name in starters}
        for r in range(rounds):
            for name, start in starters.items():
                runs[name].append(validation(
                    start, name, n_targets, n_deleg, args.notus,
                    with_client=r == 0 and n_targets in (1_000, 100_000) and not args.no_lists))
        res = {name: {key: (statistics.median(run[key] for run in samples)
                            if key in ("wall", "cpu", "rss") else samples[0][key])
                      for key in samples[0]}
               for name, samples in runs.items()}
        label = f"{n_targets:,} targets" if n_targets else f"{n_deleg:,} delegations"
        a, b = res["notary-server"], res["notus-server"]
        print(f"| {label} | {a['bytes'] / 1e6:.1f} MB | {fmt_s(a['wall'])} / {fmt_s(a['cpu'])} / {a['rss']:.0f} MiB "
              f"| {fmt_s(b['wall'])} / {fmt_s(b['cpu'])} / {b['rss']:.0f} MiB "
              f"| {b['wall'] / a['wall']:.2f}× | {b['rss'] / a['rss']:.2f}× |", flush=True)
        if a["clients"]:
            lists[n_targets] = (a["clients"], b["clients"])

    print("\n### Client: list a collection (cold = empty cache)\n")
    print("| targets | cache | `notary list` wall / peak RSS | `notus list` wall / peak RSS | time ratio |")
    print("|---|---|---|---|---|")
    for n, (a, b) in sorted(lists.items()):
        for cache in ("cold", "warm"):
            (aw, ar), (bw, br) = a[cache], b[cache]
            print(f"| {n:,} | {cache} | {fmt_s(aw)} / {ar:.0f} MiB | {fmt_s(bw)} / {br:.0f} MiB | {bw / aw:.2f}× |")


if __name__ == "__main__":
    main()
