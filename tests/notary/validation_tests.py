#!/usr/bin/env python3
"""Negative/positive upload tests against notary-server. Prints one block per case and
writes the results as JSON (argv[3], default logs/validation_results.json).

usage: validation_tests.py SERVER_URL GUN [OUT.json]"""
import json, sys, hashlib, copy
import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tufcraft import *
SERVER = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4443"
GUN = sys.argv[2] if len(sys.argv) > 2 else "example.com/val"
results = []
def rec(name, st, body, note=""):
    b = body.decode("utf-8", "replace")
    results.append({"case": name, "status": st, "body": b, "note": note})
    print(f"--- {name}\n{st} {b}\n")

def tfile(name=b"x"):
    return {"hashes": {"sha256": b64(hashlib.sha256(name).digest())}, "length": len(name)}

U = f"{SERVER}/v2/{GUN}/_trust/tuf/"
# transport-level errors
rec("POST with application/json body (not multipart)", *http("POST", U, b"{}", "application/json"))
ct, body = multipart([("root", b"{}")]); body = body.replace(b'; filename="root"', b'')
rec("multipart part without filename", *http("POST", U, body, ct))
rec("multipart filename 'bogus'", *post(SERVER, GUN, [("bogus", b"{}")]))
rec("multipart filename 'targets/../x'", *post(SERVER, GUN, [("targets/../x", b"{}")]))
rec("multipart filename 'root.json' (suffix trimmed) with non-JSON body", *post(SERVER, GUN, [("root.json", b"not json")]))
rec("empty multipart (zero parts) on new GUN", *post(SERVER, GUN, []))

st, body = http("GET", f"{SERVER}/v2/{GUN}/_trust/tuf/timestamp.key")
tk = json.loads(body); ts = Key.from_public(tk["keytype"], tk["keyval"]["public"])
rootk = Key(cert_cn=GUN); tgtk = Key(); snapk = Key(); other = Key()

def mkroot(version=1, rk=None, signers=None, ts_keys=None, snap_keys=None, days=3650):
    rk = rk or [rootk]
    s = root_signed(rk, [tgtk], snap_keys or [snapk], ts_keys or [ts], version=version, days=days)
    return sign_meta(s, *(signers or rk))

root1 = mkroot()
tg1 = sign_meta(targets_signed({"a": tfile()}), tgtk)
sn1 = sign_meta(snapshot_signed({"root": root1, "targets": tg1}), snapk)

rec("targets only on new GUN (no root anywhere)", *post(SERVER, GUN, [("targets", tg1)]))
rk_v2 = Key(cert_cn=GUN + "-v2"); r_v2 = mkroot(version=2, rk=[rk_v2], ts_keys=[Key.from_public(**(lambda k: {"keytype": k["keytype"], "public_b64": k["keyval"]["public"]})(json.loads(http("GET", f"{SERVER}/v2/{GUN}-v2/_trust/tuf/timestamp.key")[1])))]); rec("root version 2 on new GUN (consistent snapshot)", *post(SERVER, GUN + "-v2", [("root", r_v2), ("targets", tg1), ("snapshot", sign_meta(snapshot_signed({"root": r_v2, "targets": tg1}), snapk))]), note="uses GUN-v2; root v2 accepted on a new GUN?")
r_v3 = mkroot(version=3); rec("root version 3 on new GUN", *post(SERVER, GUN, [("root", r_v3), ("targets", tg1), ("snapshot", sign_meta(snapshot_signed({"root": r_v3, "targets": tg1}), snapk))]))
bad = json.loads(root1); bad["signatures"][0]["sig"] = b64(b"\x01" * 64)
rec("root with corrupted signature", *post(SERVER, GUN, [("root", canonical(bad)), ("targets", tg1), ("snapshot", sn1)]))
wrongcn = Key(cert_cn="example.com/other")
rec("root cert CN != GUN", *post(SERVER, GUN, [("root", mkroot(rk=[wrongcn])), ("targets", tg1), ("snapshot", sn1)]))
plain = Key()
rec("root key is plain ecdsa (not x509 cert)", *post(SERVER, GUN, [("root", mkroot(rk=[plain])), ("targets", tg1), ("snapshot", sn1)]))
expcert = Key(cert_cn=GUN, not_after_days=-1)
rec("root cert expired", *post(SERVER, GUN, [("root", mkroot(rk=[expcert])), ("targets", tg1), ("snapshot", sn1)]))
r_exp = mkroot(days=-1); sn_exp = sign_meta(snapshot_signed({"root": r_exp, "targets": tg1}), snapk)
rec("root metadata expired", *post(SERVER, GUN, [("root", r_exp), ("targets", tg1), ("snapshot", sn_exp)]))
r_ts = mkroot(ts_keys=[other]); sn_ts = sign_meta(snapshot_signed({"root": r_ts, "targets": tg1}), snapk)
rec("root lists a timestamp key the server does not hold", *post(SERVER, GUN, [("root", r_ts), ("targets", tg1), ("snapshot", sn_ts)]))
rec("root+targets, no snapshot, server has no snapshot key", *post(SERVER, GUN, [("root", root1), ("targets", tg1)]))
tg_bad = sign_meta(targets_signed({"a": tfile()}), other)
sn_b = sign_meta(snapshot_signed({"root": root1, "targets": tg_bad}), snapk)
rec("targets signed by wrong key", *post(SERVER, GUN, [("root", root1), ("targets", tg_bad), ("snapshot", sn_b)]))
tg_exp = sign_meta(targets_signed({"a": tfile()}, days=-1), tgtk)
sn_e = sign_meta(snapshot_signed({"root": root1, "targets": tg_exp}), snapk)
rec("targets expired", *post(SERVER, GUN, [("root", root1), ("targets", tg_exp), ("snapshot", sn_e)]))
tg_type = sign_meta(dict(targets_signed(), _type="Root"), tgtk)
rec("targets with _type Root", *post(SERVER, GUN, [("root", root1), ("targets", tg_type), ("snapshot", sign_meta(snapshot_signed({"root": root1, "targets": tg_type}), snapk))]))
tg_v0 = sign_meta(targets_signed(version=0), tgtk)
rec("targets version 0", *post(SERVER, GUN, [("root", root1), ("targets", tg_v0), ("snapshot", sign_meta(snapshot_signed({"root": root1, "targets": tg_v0}), snapk))]))
other_tg = sign_meta(targets_signed({"zzz": tfile()}), tgtk)
sn_mis = sign_meta(snapshot_signed({"root": root1, "targets": other_tg}), snapk)
rec("snapshot hash for targets does not match uploaded targets", *post(SERVER, GUN, [("root", root1), ("targets", tg1), ("snapshot", sn_mis)]))
sn_noroot = sign_meta(snapshot_signed({"targets": tg1}), snapk)
rec("snapshot without root meta", *post(SERVER, GUN, [("root", root1), ("targets", tg1), ("snapshot", sn_noroot)]))
sn_wk = sign_meta(snapshot_signed({"root": root1, "targets": tg1}), other)
rec("snapshot signed by wrong key", *post(SERVER, GUN, [("root", root1), ("targets", tg1), ("snapshot", sn_wk)]))
rec("root+snapshot only (targets missing)", *post(SERVER, GUN, [("root", root1), ("snapshot", sign_meta(snapshot_signed({"root": root1}), snapk))]))

# success
rec("VALID initial upload root v1 + targets v1 + snapshot v1", *post(SERVER, GUN, [("root", root1), ("targets", tg1), ("snapshot", sn1)]))
rec("re-upload identical files (same versions)", *post(SERVER, GUN, [("root", root1), ("targets", tg1), ("snapshot", sn1)]))
tg2 = sign_meta(targets_signed({"a": tfile(), "b": tfile(b"b")}, version=2), tgtk)
sn1b = sign_meta(snapshot_signed({"root": root1, "targets": tg2}, version=1), snapk)
rec("targets v2 + snapshot with stale version 1", *post(SERVER, GUN, [("targets", tg2), ("snapshot", sn1b)]))
sn2 = sign_meta(snapshot_signed({"root": root1, "targets": tg2}, version=2), snapk)
rec("VALID targets v2 + snapshot v2 (no root)", *post(SERVER, GUN, [("targets", tg2), ("snapshot", sn2)]))
sn3 = sign_meta(snapshot_signed({"root": root1, "targets": tg2}, version=3), snapk)
rec("VALID snapshot v3 alone", *post(SERVER, GUN, [("snapshot", sn3)]))
tg3_skip = sign_meta(targets_signed({}, version=10), tgtk)
sn4 = sign_meta(snapshot_signed({"root": root1, "targets": tg3_skip}, version=4), snapk)
rec("VALID targets version jump 2 -> 10", *post(SERVER, GUN, [("targets", tg3_skip), ("snapshot", sn4)]))
# delegations
dk = Key(cert_cn="delegate")
tg_del = sign_meta(targets_signed({}, version=11, delegations={"keys": {dk.id: dk.tuf()}, "roles": [
    {"keyids": [dk.id], "name": "targets/rel", "paths": ["rel/"], "threshold": 1}]}), tgtk)
d1 = sign_meta(targets_signed({"rel/x": tfile()}), dk)
d_outside = sign_meta(targets_signed({"other/x": tfile()}, version=2), dk)
rec("delegation targets/nope uploaded, parent does not delegate it", *post(SERVER, GUN, [("targets/nope", d1), ("snapshot", sign_meta(snapshot_signed({"root": root1, "targets": tg3_skip, "targets/nope": d1}, version=5), snapk))]))
sn5 = sign_meta(snapshot_signed({"root": root1, "targets": tg_del, "targets/rel": d1}, version=5), snapk)
rec("VALID targets v11 delegating targets/rel + targets/rel v1", *post(SERVER, GUN, [("targets", tg_del), ("targets/rel", d1), ("snapshot", sn5)]))
sn6 = sign_meta(snapshot_signed({"root": root1, "targets": tg_del, "targets/rel": d_outside}, version=6), snapk)
rec("delegation with target outside its paths (server view)", *post(SERVER, GUN, [("targets/rel", d_outside), ("snapshot", sn6)]))
# notary-server stores that file; a server that enforces delegation paths (Notus) refuses it. Later
# snapshots record the targets/rel the server actually holds, so the cases below test what they
# name rather than the earlier refusal.
if results[-1]["status"] != 200:
    d_outside = d1
d_badsig = sign_meta(targets_signed({"rel/y": tfile()}, version=3), other)
sn7 = sign_meta(snapshot_signed({"root": root1, "targets": tg_del, "targets/rel": d_badsig}, version=7), snapk)
rec("delegation signed by non-delegated key", *post(SERVER, GUN, [("targets/rel", d_badsig), ("snapshot", sn7)]))
# root rotation
newroot = Key(cert_cn=GUN)
r2 = mkroot(version=2, rk=[newroot], signers=[newroot, rootk])
sn8 = sign_meta(snapshot_signed({"root": r2, "targets": tg_del, "targets/rel": d_outside}, version=8), snapk)
rec("VALID root v2 rotated to new key, signed by old+new", *post(SERVER, GUN, [("root", r2), ("snapshot", sn8)]))
r3 = mkroot(version=3, rk=[Key(cert_cn=GUN)], signers=None)
rec("root v3 signed only by its own new key (old key not signing)", *post(SERVER, GUN, [("root", r3)]))
rec("root rollback to v1", *post(SERVER, GUN, [("root", root1)]))
rec("root v4 (skipping v3)", *post(SERVER, GUN, [("root", mkroot(version=4, rk=[newroot]))]))
rec("root v2 re-upload (same version as current), no snapshot", *post(SERVER, GUN, [("root", r2)]))
sn9 = sign_meta(snapshot_signed({"root": r2, "targets": tg_del, "targets/rel": d_outside}, version=9), snapk)
rec("root v2 re-upload (same version as current) + snapshot v9", *post(SERVER, GUN, [("root", r2), ("snapshot", sn9)]))
rec("duplicate 'snapshot' parts (v10 then v11) in one upload", *post(SERVER, GUN, [("snapshot", sign_meta(snapshot_signed({"root": r2, "targets": tg_del, "targets/rel": d_outside}, version=10), snapk)), ("snapshot", sign_meta(snapshot_signed({"root": r2, "targets": tg_del, "targets/rel": d_outside}, version=11), snapk))]))
rec("upload timestamp.json part only (server holds no snapshot key)", *post(SERVER, GUN, [("timestamp", b'{"signed":{"_type":"Timestamp","version":99},"signatures":[]}')]))
out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "logs", "validation_results.json")
json.dump(results, open(out, "w"), indent=1)
