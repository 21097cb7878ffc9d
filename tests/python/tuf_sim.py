"""A TUF 1.0 repository built with python-tuf and served on 127.0.0.1, plus a driver for a client
that speaks the TUF conformance client protocol (init / refresh / download).

Each published version of every role is kept, so tests can serve old versions (rollback), change
what is served without re-signing (tampering), and read back the exact list of requests the
client made (the order matters: the protocol forbids speculative or duplicate fetches).
"""
import hashlib
import json
import os
import subprocess
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib import parse

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (DelegatedRole, Delegations, Metadata, MetaFile, Root, Snapshot,
                              TargetFile, Targets, Timestamp)
from tuf.api.serialization.json import JSONSerializer

TOP = ("root", "timestamp", "snapshot", "targets")
GENERATORS = {
    "ecdsa": CryptoSigner.generate_ecdsa,
    "ed25519": CryptoSigner.generate_ed25519,
    "rsa": CryptoSigner.generate_rsa,
}


class Repo:
    """Metadata being edited (`md`), the signed bytes of every published version (`published`),
    the artifacts served, and the log of requests (`requests`: (role, version|None) for metadata,
    ("artifact", path) for targets)."""

    def __init__(self, keytype="ecdsa"):
        self.keytype = keytype
        self.expiry = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
        self.md = {}
        self.signers = {}
        self.published = {}
        self.artifacts = {}
        self.requests = []
        self.metafile_hashes = False  # record length+hashes in snapshot/timestamp meta
        self.overrides = {}  # (role, version) -> bytes served instead of the published file
        self.md["root"] = Metadata(Root(expires=self.expiry, consistent_snapshot=True))
        self.md["targets"] = Metadata(Targets(expires=self.expiry))
        self.md["snapshot"] = Metadata(Snapshot(expires=self.expiry))
        self.md["timestamp"] = Metadata(Timestamp(expires=self.expiry))
        for role in TOP:
            s = self.new_signer()
            self.root.add_key(s.public_key, role)
            self.signers[role] = {s.public_key.keyid: s}
        for role in ("targets", "snapshot", "timestamp", "root"):
            self.publish(role)

    # --- editing -------------------------------------------------------------------------------
    @property
    def root(self):
        return self.md["root"].signed

    @property
    def timestamp(self):
        return self.md["timestamp"].signed

    @property
    def snapshot(self):
        return self.md["snapshot"].signed

    def targets(self, role="targets"):
        return self.md[role].signed

    def new_signer(self, keytype=None):
        return GENERATORS[keytype or self.keytype]()

    def sign_bytes(self, role, signers=None):
        md = self.md[role]
        md.signatures.clear()
        for s in (signers if signers is not None else self.signers[role].values()):
            md.sign(s, append=True)
        return md.to_bytes(JSONSerializer())

    def publish(self, role, bump=None, signers=None):
        """Sign `role` and serve it as its next version; a targets role is recorded in snapshot,
        snapshot in timestamp (without republishing them: call `update_snapshot`)."""
        signed = self.md[role].signed
        if bump is None:
            bump = role in self.published
        if bump:
            signed.version += 1
        data = self.sign_bytes(role, signers)
        self.published.setdefault(role, []).append(data)
        length, hashes = None, None
        if self.metafile_hashes:
            length = len(data)
            hashes = {"sha256": hashlib.sha256(data).hexdigest()}
        if role not in ("root", "timestamp", "snapshot"):
            self.snapshot.meta[f"{role}.json"] = MetaFile(signed.version, length, hashes)
        if role == "snapshot":
            self.timestamp.snapshot_meta = MetaFile(signed.version, length, hashes)
        return data

    def update_timestamp(self):
        self.publish("timestamp")

    def update_snapshot(self):
        self.publish("snapshot")
        self.publish("timestamp")

    def publish_targets(self, role="targets"):
        self.publish(role)
        self.update_snapshot()

    def add_artifact(self, path, data, role="targets", algorithms=("sha256",)):
        tf = TargetFile.from_data(path, data, list(algorithms))
        self.targets(role).targets[path] = tf
        self.artifacts[path] = [data, tf]
        return tf

    def delegate(self, delegator, name, paths=("*",), terminating=False, threshold=1,
                 keytype=None):
        """Delegate `name` from `delegator` with one new key; creates the role's metadata."""
        d = self.targets(delegator)
        if d.delegations is None:
            d.delegations = Delegations({}, roles={})
        d.delegations.roles[name] = DelegatedRole(name, [], threshold, terminating,
                                                  list(paths) if paths is not None else None)
        s = self.new_signer(keytype)
        d.add_key(s.public_key, name)
        self.signers.setdefault(name, {})[s.public_key.keyid] = s
        if name not in self.md:
            self.md[name] = Metadata(Targets(expires=self.expiry))

    def rotate_root(self, add=(), remove=(), threshold=None, sign_with=None):
        """Publish root N+1: add/remove root signers, change the threshold, and sign with the old
        and new root keys (or exactly `sign_with`)."""
        old = list(self.signers["root"].values())
        for s in add:
            self.root.add_key(s.public_key, "root")
            self.signers["root"][s.public_key.keyid] = s
        for s in remove:
            self.root.revoke_key(s.public_key.keyid, "root")
            del self.signers["root"][s.public_key.keyid]
        if threshold is not None:
            self.root.roles["root"].threshold = threshold
        signers = sign_with
        if signers is None:
            signers = {s.public_key.keyid: s for s in old + list(self.signers["root"].values())}
            signers = list(signers.values())
        return self.publish("root", signers=signers)

    def rotate_role_key(self, role):
        """Replace `role`'s key in root with a new one (root N+1)."""
        for keyid in list(self.root.roles[role].keyids):
            self.root.revoke_key(keyid, role)
        s = self.new_signer()
        self.root.add_key(s.public_key, role)
        self.signers[role] = {s.public_key.keyid: s}
        self.publish("root")

    # --- serving -------------------------------------------------------------------------------
    def serve_metadata(self, name):
        """Bytes for a metadata file name (`N.root.json`, `timestamp.json`, `V.role.json`)."""
        stem = name[: -len(".json")]
        if stem == "timestamp":
            role, version = "timestamp", None
        else:
            v, _, role = stem.partition(".")
            role = parse.unquote(role)
            version = int(v) if v.isdigit() else None
            if version is None:
                role = parse.unquote(stem)
        self.requests.append((role, version))
        if (role, version) in self.overrides:
            return self.overrides[(role, version)]
        versions = self.published.get(role, [])
        if not versions:
            return None
        if version is None:
            return versions[-1]
        for data in reversed(versions):
            if json.loads(data)["signed"]["version"] == version:
                return data
        return None

    def serve_artifact(self, path):
        self.requests.append(("artifact", path))
        directory, sep, base = path.rpartition("/")
        prefix, _, base = base.partition(".")
        entry = self.artifacts.get(f"{directory}{sep}{base}")
        if entry is None or prefix not in entry[1].hashes.values():
            return None
        return entry[0]

    def metadata_requests(self):
        return [r for r in self.requests if r[0] != "artifact"]


class Server:
    """One HTTP server on 127.0.0.1 for a test's repository, at `/<name>/metadata/` and
    `/<name>/targets/` (the test name quoted, as the conformance suite does)."""

    def __init__(self, repo, name="repo[1]"):
        self.repo = repo
        quoted = parse.quote(name, safe="")
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path
                data = None
                prefix = f"/{quoted}/"
                if path.startswith(prefix + "metadata/"):
                    data = srv.repo.serve_metadata(path[len(prefix + "metadata/"):])
                elif path.startswith(prefix + "targets/"):
                    data = srv.repo.serve_artifact(parse.unquote(path[len(prefix + "targets/"):]))
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.httpd.server_address[1]
        self.metadata_url = f"http://127.0.0.1:{port}/{quoted}/metadata/"
        self.targets_url = f"http://127.0.0.1:{port}/{quoted}/targets/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Client:
    """Runs the client under test (`cmd`, split on spaces as the conformance suite does)."""

    def __init__(self, cmd, server):
        self.cmd = cmd.split(" ")
        self.server = server
        self.tmp = tempfile.TemporaryDirectory()
        self.metadata_dir = os.path.join(self.tmp.name, "metadata")
        self.artifact_dir = os.path.join(self.tmp.name, "targets")
        os.mkdir(self.metadata_dir)
        os.mkdir(self.artifact_dir)
        self.last_stderr = ""

    def _run(self, args, fake_time=None):
        cmd = [*self.cmd, *args]
        if fake_time is not None:
            cmd = ["faketime", fake_time.strftime("%Y-%m-%d %H:%M:%S"), *cmd]
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        self.last_stderr = p.stderr.decode(errors="replace")
        return p.returncode

    def init(self, root_bytes=None):
        path = os.path.join(self.tmp.name, "initial_root.json")
        with open(path, "wb") as f:
            f.write(root_bytes if root_bytes is not None else self.server.repo.published["root"][0])
        return self._run(["--metadata-dir", self.metadata_dir, "init", path])

    def refresh(self, fake_time=None):
        return self._run(["--metadata-url", self.server.metadata_url,
                          "--metadata-dir", self.metadata_dir, "refresh"], fake_time)

    def download(self, *names, fake_time=None):
        args = ["--metadata-url", self.server.metadata_url, "--metadata-dir", self.metadata_dir]
        for n in names:
            args += ["--target-name", n]
        args += ["--target-dir", self.artifact_dir, "--target-base-url", self.server.targets_url,
                 "download"]
        return self._run(args, fake_time)

    def version(self, role):
        path = os.path.join(self.metadata_dir, f"{parse.quote(role, safe='')}.json")
        if not os.path.exists(path):
            return None
        return Metadata.from_file(path).signed.version

    def stored_bytes(self, role):
        with open(os.path.join(self.metadata_dir, f"{parse.quote(role, safe='')}.json"), "rb") as f:
            return f.read()

    def json_files(self):
        return sorted(f for f in os.listdir(self.metadata_dir) if f.endswith(".json"))

    def downloaded(self):
        """Contents of downloaded artifacts, oldest first."""
        files = []
        for base, _, names in os.walk(self.artifact_dir):
            files += [os.path.join(base, n) for n in names]
        out = []
        for f in sorted(files, key=os.path.getmtime):
            with open(f, "rb") as fh:
                out.append(fh.read())
        return out
