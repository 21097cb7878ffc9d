#!/usr/bin/env python3
"""python-tuf's ngclient (the TUF reference client) reading a collection Notus serves.

Metadata is fetched through a local mirror (an untrusted CDN stand-in) that forwards to Notus and
can replay an old timestamp; targets come from a plain static server with hash-prefixed names,
where a file can be swapped for same-length bytes. Prints one JSON report.

usage: ngclient_reads_notus.py NOTUS_METADATA_URL ROOT_FILE TARGETS_DIR STATE_DIR MODE TARGET...
  MODE download   refresh, download each TARGET, check its bytes; keep the timestamp served
  MODE attacks    a tampered target and a replayed (rolled-back) timestamp must be refused
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tuf.api import exceptions
from tuf.ngclient import Updater

upstream, root_file, targets_dir, state_dir, mode, *names = sys.argv[1:]
stale_timestamp = os.path.join(state_dir, "timestamp.v-old.json")
mirror = {"replay_timestamp": False, "tamper": None}


class Mirror(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/metadata/"):
            name = self.path[len("/metadata/"):]
            if name == "timestamp.json" and mirror["replay_timestamp"]:
                with open(stale_timestamp, "rb") as f:
                    return self.reply(f.read())
            try:
                with urllib.request.urlopen(upstream + name) as r:
                    data = r.read()
            except urllib.error.HTTPError as e:
                self.send_error(e.code)
                return
            if name == "timestamp.json" and mode == "download":
                with open(stale_timestamp, "wb") as f:
                    f.write(data)
            return self.reply(data)
        if self.path.startswith("/targets/"):
            rel = urllib.parse.unquote(self.path[len("/targets/"):])
            path = os.path.normpath(os.path.join(targets_dir, rel))
            if not path.startswith(os.path.abspath(targets_dir)) or not os.path.isfile(path):
                self.send_error(404)
                return
            with open(path, "rb") as f:
                data = f.read()
            if mirror["tamper"] and rel.endswith(mirror["tamper"]):
                data = bytes(b ^ 1 for b in data)  # same length, different bytes
            return self.reply(data)
        self.send_error(404)

    def reply(self, data):
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


httpd = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{httpd.server_address[1]}"


def updater(tmp):
    md = os.path.join(tmp, "metadata")
    os.makedirs(md, exist_ok=True)
    out = os.path.join(tmp, "downloads")
    os.makedirs(out, exist_ok=True)
    with open(root_file, "rb") as f:
        pinned = f.read()  # the publisher's root, given out of band
    return Updater(md, f"{base}/metadata/", out, f"{base}/targets/", bootstrap=pinned)


report = {}
work = os.path.join(state_dir, "client")
if mode == "download":
    u = updater(work)
    u.refresh()
    report["timestamp_version"] = u._trusted_set.timestamp.version
    report["downloads"] = {}
    for n in names:
        info = u.get_targetinfo(n)
        if info is None:
            report["downloads"][n] = None
            continue
        path = u.download_target(info)
        with open(path, "rb") as f:
            report["downloads"][n] = f.read().decode()
elif mode == "attacks":
    # 1. A target swapped on the static server (same length): refused by its hashes.
    with tempfile.TemporaryDirectory() as fresh:
        shutil.copytree(os.path.join(work, "metadata"), os.path.join(fresh, "metadata"))
        u = updater(fresh)
        mirror["tamper"] = os.path.basename(names[0])
        try:
            u.download_target(u.get_targetinfo(names[0]))
            report["tampered_target"] = "accepted"
        except exceptions.LengthOrHashMismatchError as e:
            report["tampered_target"] = f"refused: {type(e).__name__}"
        mirror["tamper"] = None
    # 2. The mirror replays an older timestamp to a client that has seen a newer one.
    u = updater(work)
    u.refresh()
    report["timestamp_version"] = u._trusted_set.timestamp.version
    mirror["replay_timestamp"] = True
    try:
        updater(work).refresh()
        report["replayed_timestamp"] = "accepted"
    except exceptions.BadVersionNumberError as e:
        report["replayed_timestamp"] = f"refused: {type(e).__name__}"
print(json.dumps(report))
httpd.shutdown()
