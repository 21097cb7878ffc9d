#!/usr/bin/env python3
"""Builds a TUF 1.0 repository with python-tuf (the reference implementation) for Notus's
interoperability tests: consistent snapshots, a root rotation that changes keys and threshold,
ed25519 / ecdsa-sha2-nistp256 / rsassa-pss-sha256 keys, delegations with glob paths,
path_hash_prefixes, terminating, and succinct hash bins (TAP 15).

usage: make_tuf_repo.py OUTDIR   (writes metadata/ and manifest.json)
"""
import json, os, sys
from datetime import datetime, timedelta, timezone
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (Metadata, Root, Targets, Snapshot, Timestamp, MetaFile, TargetFile,
                              DelegatedRole, Delegations, SuccinctRoles, Key)

out = sys.argv[1]
md = os.path.join(out, "metadata")
os.makedirs(md, exist_ok=True)
# Relative to the real clock, which the test verifies against (python_tuf.rs `now()`): a fixed
# date would make the test fail once it passed.
EXP = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3650)

def signer(kind):
    return {"ed25519": CryptoSigner.generate_ed25519, "ecdsa": CryptoSigner.generate_ecdsa,
            "rsa": CryptoSigner.generate_rsa}[kind]()

root_a, root_b, root_c = signer("ed25519"), signer("ecdsa"), signer("rsa")
tgt, snap, ts = signer("rsa"), signer("ecdsa"), signer("ed25519")
role1_k, hashed_k, bin_k = signer("ecdsa"), signer("ed25519"), signer("ecdsa")

def save(md_obj, name, signers):
    md_obj.signatures.clear()
    for s in signers:
        md_obj.sign(s, append=True)
    with open(os.path.join(md, name), "wb") as f:
        f.write(md_obj.to_bytes())

# Root v1: one root key (ed25519), threshold 1.
root = Metadata(Root(expires=EXP, consistent_snapshot=True))
for role, s in (("root", root_a), ("targets", tgt), ("snapshot", snap), ("timestamp", ts)):
    root.signed.add_key(s.public_key, role)
save(root, "1.root.json", [root_a])
# Root v2: two of three root keys (ed25519, ecdsa, rsa), signed by v1's key and two new ones.
root.signed.version = 2
root.signed.add_key(root_b.public_key, "root")
root.signed.add_key(root_c.public_key, "root")
root.signed.roles["root"].threshold = 2
save(root, "2.root.json", [root_a, root_b, root_c])

def tf(path, data, custom=None):
    t = TargetFile.from_data(path, data, ["sha256", "sha512"])
    if custom:
        t.unrecognized_fields["custom"] = custom
    return t

manifest = {"targets": {}}
targets = Metadata(Targets(expires=EXP))
targets.signed.targets["top.txt"] = tf("top.txt", b"top")
manifest["targets"]["top.txt"] = "targets"
d = Delegations(keys={}, roles={})
for s in (role1_k, hashed_k):
    d.keys[s.public_key.keyid] = s.public_key
r1 = DelegatedRole(name="role1", keyids=[role1_k.public_key.keyid], threshold=1, terminating=True, paths=["files/*"])
import hashlib
hp = hashlib.sha256(b"hashed/a.bin").hexdigest()[:2]
hr = DelegatedRole(name="hashed", keyids=[hashed_k.public_key.keyid], threshold=1, terminating=False, path_hash_prefixes=[hp])
d.roles = {"role1": r1, "hashed": hr}
targets.signed.delegations = d

role1 = Metadata(Targets(expires=EXP))
role1.signed.targets["files/app.tgz"] = tf("files/app.tgz", b"app", {"note": "custom data"})
manifest["targets"]["files/app.tgz"] = "role1"
succ = SuccinctRoles(keyids=[bin_k.public_key.keyid], threshold=1, bit_length=2, name_prefix="bin")
role1.signed.delegations = Delegations(keys={bin_k.public_key.keyid: bin_k.public_key}, roles=None, succinct_roles=succ)
hashed = Metadata(Targets(expires=EXP))
hashed.signed.targets["hashed/a.bin"] = tf("hashed/a.bin", b"bin")
manifest["targets"]["hashed/a.bin"] = "hashed"

bins = {}
for name in succ.get_roles():
    bins[name] = Metadata(Targets(expires=EXP))
deep = "files/deep.txt"
bin_name = succ.get_role_for_target(deep)
bins[bin_name].signed.targets[deep] = tf(deep, b"deep")
# `files/deep.txt` is delegated to role1 (terminating) and, from role1, to its bin.
manifest["targets"][deep] = bin_name
manifest["bin_for_deep"] = bin_name

snapshot = Metadata(Snapshot(expires=EXP))
def add(md_obj, name, signers):
    save(md_obj, f"{md_obj.signed.version}.{name}.json", signers)
    snapshot.signed.meta[f"{name}.json"] = MetaFile(version=md_obj.signed.version)
add(targets, "targets", [tgt])
add(role1, "role1", [role1_k])
add(hashed, "hashed", [hashed_k])
for name, m in bins.items():
    add(m, name, [bin_k])
save(snapshot, "1.snapshot.json", [snap])
timestamp = Metadata(Timestamp(expires=EXP))
timestamp.signed.snapshot_meta = MetaFile(version=1)
save(timestamp, "timestamp.json", [ts])
manifest["delegations"] = {"role1": "targets", "hashed": "targets", **{b: "role1" for b in bins}}
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
print("ok", out)
