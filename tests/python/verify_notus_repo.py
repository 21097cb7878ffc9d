#!/usr/bin/env python3
"""Reads a TUF repository that Notus signed, with python-tuf: every file must parse with
`Metadata.from_bytes`, every signature must verify with `verify_delegate`, and python-tuf's own
trusted-metadata state machine must accept the whole set.

usage: verify_notus_repo.py DIR   (files: root.json, timestamp.json, snapshot.json, targets.json,
                                   and <role>.json for each delegated role named in roles.txt)
"""
import os, sys
from datetime import datetime, timezone
from tuf.api.metadata import Metadata
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

d = sys.argv[1]
read = lambda n: open(os.path.join(d, n), "rb").read()
root = Metadata.from_bytes(read("root.json"))
root.verify_delegate("root", root)
targets = Metadata.from_bytes(read("targets.json"))
root.verify_delegate("targets", targets)
for role in ("snapshot", "timestamp"):
    root.verify_delegate(role, Metadata.from_bytes(read(f"{role}.json")))
delegated = [l.strip() for l in open(os.path.join(d, "roles.txt")) if l.strip()]
for role in delegated:
    targets.verify_delegate(role, Metadata.from_bytes(read(f"{role}.json")))

tms = TrustedMetadataSet(read("root.json"), EnvelopeType.METADATA)
tms.update_timestamp(read("timestamp.json"))
tms.update_snapshot(read("snapshot.json"))
tms.update_targets(read("targets.json"))
for role in delegated:
    tms.update_delegated_targets(read(f"{role}.json"), role, "targets")
print("python-tuf accepted", len(delegated) + 4, "files")
