"""Protocol tests for a TUF conformance client (`notus tuf-client`), one class per attack class
or behaviour the conformance protocol lists: request order, trusted data on disk, expiry,
downloads and caching, keys and thresholds, role-name quoting, rollback and fast-forward
recovery, delegation graphs, and key rotations.

Run: NOTUS_CLIENT="/path/to/notus tuf-client" python -m unittest test_tuf_client
"""
import json
import os
import unittest
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import Signature, SSlibKey

from tuf_sim import Client, Repo, Server

CLIENT = os.environ.get("NOTUS_CLIENT", "notus tuf-client")
TOP_REQUESTS = [("root", 2), ("timestamp", None), ("snapshot", 1), ("targets", 1)]


class Case(unittest.TestCase):
    keytype = "ecdsa"

    def setUp(self):
        self.repo = Repo(self.keytype)
        self.server = Server(self.repo, name=f"{self.id()}[x]")
        self.client = Client(CLIENT, self.server)

    def tearDown(self):
        self.server.close()

    def ok(self, code):
        self.assertEqual(code, 0, self.client.last_stderr)

    def fails(self, code):
        self.assertEqual(code, 1, "expected exit status 1")


class Basic(Case):
    def test_init_then_refresh_requests_exactly_the_top_level_roles(self):
        self.ok(self.client.init())
        self.assertEqual(self.repo.requests, [], "init must not touch the network")
        self.ok(self.client.refresh())
        self.assertEqual(self.repo.requests, TOP_REQUESTS)
        for role in ("root", "timestamp", "snapshot", "targets"):
            self.assertEqual(self.client.version(role), 1)
        self.assertEqual(self.client.json_files(),
                         ["root.json", "snapshot.json", "targets.json", "timestamp.json"])

    def test_second_refresh_uses_cached_snapshot_and_targets(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.repo.requests.clear()
        self.ok(self.client.refresh())
        self.assertEqual(self.repo.requests, [("root", 2), ("timestamp", None)])

    def test_download_refreshes_implicitly_and_missing_target_fails(self):
        self.ok(self.client.init())
        self.fails(self.client.download("nonexistent artifact"))
        self.assertEqual(self.repo.requests, TOP_REQUESTS)
        self.assertEqual(self.client.version("targets"), 1)

    def test_invalid_initial_root_makes_no_request(self):
        root = json.loads(self.repo.published["root"][0])
        del root["signed"]["version"]
        self.client.init(json.dumps(root).encode())
        self.fails(self.client.refresh())
        self.assertEqual(self.repo.requests, [])

    def test_unsigned_initial_root_makes_no_request(self):
        root = json.loads(self.repo.published["root"][0])
        root["signatures"][0]["sig"] = "30450221" + "00" * 66
        self.client.init(json.dumps(root).encode())
        self.fails(self.client.refresh())
        self.assertEqual(self.repo.requests, [])

    def test_unsigned_metadata_is_refused(self):
        for role in ("root", "timestamp", "snapshot", "targets"):
            with self.subTest(role=role):
                repo = Repo(self.keytype)
                server = Server(repo, name=f"unsigned-{role}")
                try:
                    client = Client(CLIENT, server)
                    self.assertEqual(client.init(), 0)
                    self.assertEqual(client.refresh(), 0)
                    repo.publish(role, signers=[])
                    if role == "targets":
                        repo.update_snapshot()
                    elif role == "snapshot":
                        repo.update_timestamp()
                    self.assertEqual(client.refresh(), 1)
                    self.assertEqual(client.version(role), 1)
                finally:
                    server.close()

    def test_served_version_must_match_url_version(self):
        for role in ("root", "snapshot", "targets"):
            with self.subTest(role=role):
                repo = Repo(self.keytype)
                server = Server(repo, name=f"url-version-{role}")
                try:
                    client = Client(CLIENT, server)
                    self.assertEqual(client.init(), 0)
                    # N.role.json holds version N+1, correctly signed.
                    repo.md[role].signed.version += 2
                    repo.overrides[(role, 2)] = repo.sign_bytes(role)
                    repo.md[role].signed.version -= 2
                    repo.publish(role)
                    if role == "targets":
                        repo.update_snapshot()
                    elif role == "snapshot":
                        repo.update_timestamp()
                    self.assertEqual(client.refresh(), 1)
                    self.assertNotEqual(client.version(role), 3)
                finally:
                    server.close()

    def test_timestamp_with_same_version_and_new_content_is_not_stored(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        before = self.client.stored_bytes("timestamp")
        self.repo.timestamp.snapshot_meta.version = 100
        self.repo.published["timestamp"].append(self.repo.sign_bytes("timestamp"))
        self.client.refresh()
        self.assertEqual(self.client.stored_bytes("timestamp"), before)

    def test_snapshot_and_targets_hash_mismatch_is_refused(self):
        self.repo.metafile_hashes = True
        self.repo.update_snapshot()
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        # targets v2 served while snapshot records v2 with the hashes of other bytes.
        self.repo.publish("targets")
        self.repo.published["targets"][-1] = self.repo.published["targets"][-1] + b" "
        self.repo.update_snapshot()
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("targets"), 1)
        # A snapshot whose bytes differ from the timestamp's record.
        self.repo.published["snapshot"][-1] = self.repo.published["snapshot"][-1] + b" "
        self.fails(self.client.refresh())
        self.assertNotEqual(self.client.stored_bytes("snapshot"), self.repo.published["snapshot"][-1])

    def test_metadata_is_stored_byte_for_byte(self):
        self.ok(self.client.init())
        self.repo.update_timestamp()
        self.repo.published["timestamp"][-1] += b" "
        self.ok(self.client.refresh())
        self.assertEqual(self.client.stored_bytes("timestamp"), self.repo.published["timestamp"][-1])

    def test_unknown_fields_count_in_signatures(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.repo.root.unrecognized_fields["custom-field"] = "value"
        keyid = self.repo.root.roles["root"].keyids[0]
        self.repo.root.keys[keyid].unrecognized_fields["extra-field"] = {"a": 1, "b": 2}
        self.repo.root.roles["root"].unrecognized_fields["another-field"] = "value"
        self.repo.publish("root")
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("root"), 2)

    def test_deprecated_keyid_hash_algorithms_is_tolerated(self):
        for key in self.repo.root.keys.values():
            key.unrecognized_fields["keyid_hash_algorithms"] = ["sha256", "sha512"]
        self.repo.publish("root")
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("root"), 2)

    def test_missing_files_fail_the_refresh(self):
        for role in ("timestamp", "snapshot", "targets"):
            with self.subTest(role=role):
                repo = Repo()
                server = Server(repo, name=f"missing-{role}")
                try:
                    client = Client(CLIENT, server)
                    self.assertEqual(client.init(), 0)
                    repo.published[role] = []
                    self.assertEqual(client.refresh(), 1)
                finally:
                    server.close()

    def test_wrong_type_is_refused(self):
        self.ok(self.client.init())
        # Serve the snapshot's bytes as the timestamp, signed by the timestamp key.
        snap = self.repo.md["snapshot"]
        snap.signatures.clear()
        snap.sign(next(iter(self.repo.signers["timestamp"].values())))
        self.repo.published["timestamp"].append(snap.to_bytes())
        self.fails(self.client.refresh())
        self.assertIsNone(self.client.version("timestamp"))

    def test_clock_is_read_through_libc(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        future = datetime.now(timezone.utc) + timedelta(days=60)
        self.fails(self.client.refresh(fake_time=future))

    def test_usage_errors_exit_1(self):
        self.fails(self.client._run(["--metadata-dir", self.client.metadata_dir, "bogus"]))
        self.fails(self.client._run(["refresh"]))


class Expiry(Case):
    def expire(self, role):
        self.repo.md[role].signed.expires = datetime.now(timezone.utc).replace(microsecond=0) - \
            timedelta(days=1)

    def test_expired_roles_are_refused(self):
        for role in ("root", "timestamp", "snapshot", "targets"):
            with self.subTest(role=role):
                repo = Repo()
                server = Server(repo, name=f"expired-{role}")
                try:
                    client = Client(CLIENT, server)
                    self.assertEqual(client.init(), 0)
                    repo.md[role].signed.expires = datetime.now(timezone.utc).replace(
                        microsecond=0) - timedelta(days=1)
                    if role == "targets":
                        repo.publish_targets()
                    elif role == "snapshot":
                        repo.update_snapshot()
                    else:
                        repo.publish(role)
                    self.assertEqual(client.refresh(), 1)
                finally:
                    server.close()

    def test_expired_local_timestamp_is_replaced(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        later = datetime.now(timezone.utc) + timedelta(days=40)
        self.repo.timestamp.expires = later + timedelta(days=10)
        self.repo.snapshot.expires = later + timedelta(days=10)
        self.repo.targets().expires = later + timedelta(days=10)
        self.repo.root.expires = later + timedelta(days=10)
        self.repo.publish("root")
        self.repo.publish_targets()
        self.ok(self.client.refresh(fake_time=later))
        self.assertEqual(self.client.version("timestamp"), 2)

    def test_expired_local_root_is_replaced_by_a_valid_new_root(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        later = datetime.now(timezone.utc) + timedelta(days=40)
        self.repo.root.expires = later + timedelta(days=10)
        self.repo.publish("root")
        for role in ("targets", "snapshot", "timestamp"):
            self.repo.md[role].signed.expires = later + timedelta(days=10)
        self.repo.publish_targets()
        self.ok(self.client.refresh(fake_time=later))
        self.assertEqual(self.client.version("root"), 2)


class Downloads(Case):
    def test_download_and_subdirectories(self):
        self.repo.add_artifact("target_file.txt", b"target file contents")
        self.repo.add_artifact("path/to/a/target_file.txt", b"nested contents")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.assertEqual(self.client.downloaded(), [])
        self.ok(self.client.download("target_file.txt", "path/to/a/target_file.txt"))
        self.assertEqual(self.client.downloaded(), [b"target file contents", b"nested contents"])
        # Hash-prefixed name on the basename, not the directory.
        tf = self.repo.artifacts["path/to/a/target_file.txt"][1]
        self.assertIn(("artifact", f"path/to/a/{tf.hashes['sha256']}.target_file.txt"),
                      self.repo.requests)

    def test_substituted_artifact_is_never_stored(self):
        self.repo.add_artifact("one", b"first")
        self.repo.add_artifact("two", b"second")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.download("one"))
        # Same lengths as the real files, so only the hashes can tell.
        self.repo.artifacts["one"][0] = b"FIRST"
        self.repo.artifacts["two"][0] = b"SECOND"
        self.client.download("one")
        self.fails(self.client.download("two"))
        self.assertEqual(self.client.downloaded(), [b"first"])

    def test_cached_artifact_is_not_fetched_again(self):
        self.repo.add_artifact("one", b"first")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.download("one"))
        self.repo.requests.clear()
        self.ok(self.client.download("one"))
        self.assertNotIn("artifact", [r[0] for r in self.repo.requests])

    def test_changed_artifact_replaces_the_old_copy(self):
        self.repo.add_artifact("one", b"v1")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.download("one"))
        self.repo.add_artifact("one", b"v2")
        self.repo.publish_targets()
        self.ok(self.client.download("one"))
        self.assertEqual(self.client.downloaded(), [b"v2"])

    def test_hash_algorithms(self):
        for algs in (("sha256",), ("sha512",), ("sha256", "sha512")):
            with self.subTest(algorithms=algs):
                self.repo.add_artifact(f"file-{'-'.join(algs)}", b"data " + ",".join(algs).encode(),
                                       algorithms=algs)
        self.repo.publish_targets()
        self.ok(self.client.init())
        for algs in (("sha256",), ("sha512",), ("sha256", "sha512")):
            self.ok(self.client.download(f"file-{'-'.join(algs)}"))
        self.assertEqual(len(self.client.downloaded()), 3)

    def test_unknown_hash_algorithm_is_a_failure(self):
        tf = self.repo.add_artifact("odd", b"data")
        tf.hashes["made-up-hash"] = "00" * 32
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.fails(self.client.download("odd"))
        self.assertEqual(self.client.downloaded(), [])

    def test_artifact_longer_than_recorded_is_refused(self):
        self.repo.add_artifact("big", b"short")
        self.repo.publish_targets()
        self.repo.artifacts["big"][0] = b"short" + b"x" * 100000
        self.ok(self.client.init())
        self.fails(self.client.download("big"))
        self.assertEqual(self.client.downloaded(), [])


class Keys(Case):
    def test_threshold_not_met(self):
        s = self.repo.new_signer()
        self.repo.root.add_key(s.public_key, "snapshot")
        self.repo.root.roles["snapshot"].threshold = 2
        self.repo.publish("root")
        self.repo.update_snapshot()  # signed by one of the two snapshot keys
        self.ok(self.client.init())
        self.fails(self.client.refresh())
        self.assertIsNone(self.client.version("snapshot"))
        self.repo.signers["snapshot"][s.public_key.keyid] = s
        self.repo.update_snapshot()
        self.ok(self.client.refresh())

    def test_duplicate_signatures_count_once(self):
        self.repo.root.roles["timestamp"].threshold = 2
        s = self.repo.new_signer()
        self.repo.root.add_key(s.public_key, "timestamp")
        self.repo.publish("root")
        one = next(iter(self.repo.signers["timestamp"].values()))
        self.repo.publish("timestamp", signers=[one, one])
        self.ok(self.client.init())
        self.fails(self.client.refresh())
        self.assertIsNone(self.client.version("timestamp"))

    def test_same_key_under_two_keyids_counts_once(self):
        s = next(iter(self.repo.signers["timestamp"].values()))
        pub = s.public_key
        clone = SSlibKey("0" * 64 if pub.keyid != "0" * 64 else "1" * 64, pub.keytype, pub.scheme,
                    dict(pub.keyval))
        self.repo.root.add_key(clone, "timestamp")
        self.repo.root.roles["timestamp"].threshold = 2
        self.repo.publish("root")
        md = self.repo.md["timestamp"]
        self.repo.timestamp.version += 1
        md.signatures.clear()
        sig = md.sign(s, append=True)
        md.signatures[clone.keyid] = Signature(clone.keyid, sig.signature)
        self.repo.published["timestamp"].append(md.to_bytes())
        self.ok(self.client.init())
        self.fails(self.client.refresh())

    def test_invalid_extra_signature_is_ignored(self):
        md = self.repo.md["timestamp"]
        self.repo.timestamp.version += 1
        md.signatures.clear()
        for s in self.repo.signers["timestamp"].values():
            md.sign(s, append=True)
        other = self.repo.new_signer()
        md.sign(other, append=True)  # a signature by a key root does not list
        self.repo.published["timestamp"].append(md.to_bytes())
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 2)


    def test_empty_signature_of_a_listed_key_is_ignored(self):
        # Real repositories (sigstore root-signing, tuf-on-ci) carry "" for keys yet to sign.
        other = self.repo.new_signer()
        self.repo.root.add_key(other.public_key, "timestamp")
        self.repo.publish("root")
        md = self.repo.md["timestamp"]
        self.repo.timestamp.version += 1
        md.signatures.clear()
        for s in self.repo.signers["timestamp"].values():
            md.sign(s, append=True)
        md.signatures[other.public_key.keyid] = Signature(other.public_key.keyid, "")
        self.repo.published["timestamp"].append(md.to_bytes())
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 2)


class Ed25519Keys(Basic):
    keytype = "ed25519"


class RsaKeys(Keys):
    keytype = "rsa"


class Quoting(Case):
    def test_role_names_are_quoted_in_urls_and_file_names(self):
        names = ["?", "#", "/delegatedrole", "../delegatedrole"]
        for n in names:
            self.repo.delegate("targets", n, paths=["*"])
        for n in names:
            self.repo.publish(n)
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.fails(self.client.download("missing"))
        visited = [r for r in self.repo.requests[4:]]
        self.assertEqual(visited, [(n, 1) for n in names])
        self.assertEqual(len(self.client.json_files()), 8)
        self.assertEqual(self.client.version("../delegatedrole"), 1)
        # Nothing escaped the metadata directory.
        parent = os.path.dirname(self.client.metadata_dir)
        self.assertEqual(sorted(os.listdir(parent)), ["initial_root.json", "metadata", "targets"])


class Rollback(Case):
    def test_timestamp_rollback_is_refused(self):
        self.ok(self.client.init())
        self.repo.update_timestamp()
        self.ok(self.client.refresh())
        self.repo.published["timestamp"].append(self.repo.published["timestamp"][0])
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 2)

    def test_snapshot_rollback_is_refused(self):
        self.ok(self.client.init())
        self.repo.update_snapshot()
        self.ok(self.client.refresh())
        self.repo.timestamp.snapshot_meta.version = 1
        self.repo.publish("timestamp")
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("snapshot"), 2)

    def test_targets_rollback_is_refused(self):
        self.ok(self.client.init())
        self.repo.publish_targets()
        self.ok(self.client.refresh())
        self.repo.snapshot.meta["targets.json"].version = 1
        self.repo.update_snapshot()
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("targets"), 2)

    def test_role_removed_from_snapshot_is_refused(self):
        self.repo.delegate("targets", "role1")
        self.repo.publish("role1")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        del self.repo.snapshot.meta["role1.json"]
        self.repo.update_snapshot()
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("snapshot"), 1 + 1)

    def test_fast_forward_recovery_after_timestamp_key_rotation(self):
        self.ok(self.client.init())
        self.repo.timestamp.version = 99
        self.repo.publish("timestamp", bump=False)
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 99)
        self.repo.rotate_role_key("timestamp")
        self.repo.timestamp.version = 1
        self.repo.publish("timestamp", bump=False)
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 1)

    def test_fast_forward_recovery_after_snapshot_key_rotation(self):
        self.ok(self.client.init())
        self.repo.snapshot.version = 99
        self.repo.publish("snapshot", bump=False)
        self.repo.publish("timestamp")
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("snapshot"), 99)
        self.repo.rotate_role_key("snapshot")
        self.repo.rotate_role_key("timestamp")
        self.repo.snapshot.version = 1
        self.repo.published["snapshot"] = []
        self.repo.publish("snapshot", bump=False)
        self.repo.timestamp.version = 1
        self.repo.published["timestamp"] = []
        self.repo.publish("timestamp", bump=False)
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("snapshot"), 1)


class Delegations(Case):
    def graph(self, edges, artifacts=()):
        for delegator, name, kw in edges:
            self.repo.delegate(delegator, name, **kw)
        for role, data, path in artifacts:
            self.repo.add_artifact(path, data, role=role)
        for name in dict.fromkeys(n for _, n, _ in edges):
            self.repo.publish(name)
        self.repo.publish_targets()

    def visited(self):
        return [r[0] for r in self.repo.metadata_requests()[4:]]

    def test_search_order_is_preorder_depth_first(self):
        cases = {
            "dfs": ([("targets", "A", {}), ("targets", "B", {}), ("A", "C", {}), ("A", "D", {})],
                    ["A", "C", "D", "B"]),
            "terminating": ([("targets", "A", {}), ("targets", "B", {}),
                             ("A", "C", {"terminating": True}), ("A", "D", {})], ["A", "C"]),
            "pruned": ([("targets", "A", {"paths": ["*.py"]}), ("targets", "B", {}),
                        ("A", "C", {})], ["B"]),
            "cycle": ([("targets", "A", {}), ("targets", "B", {}), ("B", "C", {}),
                       ("C", "D", {}), ("D", "B", {})], ["A", "B", "C", "D"]),
            "shared child": ([("targets", "A", {}), ("targets", "B", {}), ("B", "C", {}),
                              ("A", "C", {})], ["A", "C", "B"]),
            "shared child, other paths": ([("targets", "A", {}), ("targets", "B", {}),
                                           ("B", "C", {}), ("A", "C", {"paths": ["*.py"]})],
                                          ["A", "B", "C"]),
        }
        for label, (edges, order) in cases.items():
            with self.subTest(graph=label):
                self.repo = Repo()
                self.server.close()
                self.server = Server(self.repo, name=label)
                self.client = Client(CLIENT, self.server)
                self.graph(edges)
                self.ok(self.client.init())
                self.fails(self.client.download("missingpath"))
                self.assertEqual(self.visited(), order)

    def test_target_search_through_paths(self):
        self.graph(
            [("targets", "A", {"paths": ["*.doc", "*.md"]}),
             ("targets", "B", {"paths": ["releases/*/*"]}),
             ("B", "C", {"paths": ["releases/x/*"]}),
             ("B", "D", {"paths": ["releases/y/*.zip"]})],
            [("targets", b"top", "targetfile"), ("A", b"readme", "README.md"),
             ("C", b"x", "releases/x/x_v1"), ("D", b"y", "releases/y/y_v1.zip"),
             ("D", b"z", "releases/z/z_v1.zip")])
        for path, ok, order in [("targetfile", True, []), ("README.md", True, ["A"]),
                                ("releases/x/x_v1", True, ["B", "C"]),
                                ("releases/y/y_v1.zip", True, ["B", "D"]),
                                ("releases/z/z_v1.zip", False, ["B"])]:
            with self.subTest(path=path):
                client = Client(CLIENT, self.server)
                self.assertEqual(client.init(), 0)
                self.repo.requests.clear()
                self.assertEqual(client.download(path), 0 if ok else 1, client.last_stderr)
                self.assertEqual(self.visited(), order)
                expected = [self.repo.artifacts[path][0]] if ok else []
                self.assertEqual(client.downloaded(), expected)

    def test_target_outside_delegated_paths_is_not_found(self):
        self.graph([("targets", "A", {"paths": ["allowed/*"]})],
                   [("A", b"evil", "elsewhere/file")])
        self.ok(self.client.init())
        self.fails(self.client.download("elsewhere/file"))
        self.assertEqual(self.client.downloaded(), [])

    def test_delegated_role_signed_by_wrong_key_is_refused(self):
        self.graph([("targets", "A", {})], [("A", b"data", "file")])
        self.repo.publish("A", signers=[self.repo.new_signer()])
        self.repo.update_snapshot()
        self.ok(self.client.init())
        self.fails(self.client.download("file"))

    def test_delegation_missing_from_snapshot_fails(self):
        self.graph([("targets", "A", {})])
        del self.repo.snapshot.meta["A.json"]
        self.repo.update_snapshot()
        self.ok(self.client.init())
        self.fails(self.client.download("missingpath"))

    def test_cached_role_is_verified_against_its_current_delegator(self):
        # A first delegates to C; later A stops and B (with another key) delegates to C.
        self.graph([("targets", "A", {}), ("A", "C", {})], [("C", b"one", "file")])
        self.ok(self.client.init())
        self.ok(self.client.download("file"))
        self.repo.targets("A").delegations = None
        self.repo.delegate("targets", "B")
        self.repo.delegate("B", "C")  # a new key for C, held by the B chain
        del self.repo.signers["C"]
        self.repo.signers["C"] = {}
        self.repo.delegate("B", "C")
        self.repo.publish("A")
        self.repo.publish("B")
        self.repo.update_snapshot()
        # C is not re-signed: its cached copy (signed by A's key for C) must not be trusted via B.
        self.fails(self.client.download("file"))


class Rotations(Case):
    def test_root_rotation_to_a_new_key(self):
        self.ok(self.client.init())
        old = next(iter(self.repo.signers["root"].values()))
        new = self.repo.new_signer()
        self.repo.rotate_root(add=[new], remove=[old])
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("root"), 2)

    def test_root_rotation_not_signed_by_the_old_keys_is_refused(self):
        self.ok(self.client.init())
        old = next(iter(self.repo.signers["root"].values()))
        new = self.repo.new_signer()
        self.repo.rotate_root(add=[new], remove=[old], sign_with=[new])
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("root"), 1)

    def test_root_rotation_not_signed_by_the_new_keys_is_refused(self):
        self.ok(self.client.init())
        old = next(iter(self.repo.signers["root"].values()))
        new = self.repo.new_signer()
        self.repo.rotate_root(add=[new], remove=[old], sign_with=[old])
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("root"), 1)

    def test_threshold_increase_then_decrease_across_a_chain(self):
        self.ok(self.client.init())
        a, b, c = (self.repo.new_signer() for _ in range(3))
        self.repo.rotate_root(add=[a, b, c], threshold=3)   # v2: 3 of 4
        first = next(iter(self.repo.published["root"][:1]))
        del first
        self.repo.rotate_root(threshold=1)                  # v3: 1 of 4, signed by all
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("root"), 3)

    def test_threshold_increase_without_enough_signatures_is_refused(self):
        self.ok(self.client.init())
        a, b = self.repo.new_signer(), self.repo.new_signer()
        old = next(iter(self.repo.signers["root"].values()))
        self.repo.rotate_root(add=[a, b], threshold=3, sign_with=[old, a])
        self.fails(self.client.refresh())
        self.assertEqual(self.client.version("root"), 1)

    def test_old_client_walks_several_root_versions(self):
        self.ok(self.client.init())
        for _ in range(4):
            old = next(iter(self.repo.signers["root"].values()))
            self.repo.rotate_root(add=[self.repo.new_signer()], remove=[old])
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("root"), 5)
        self.assertEqual([r for r in self.repo.requests if r[0] == "root"],
                         [("root", v) for v in range(2, 7)])

    def test_timestamp_key_rotation(self):
        self.ok(self.client.init())
        self.ok(self.client.refresh())
        old_signers = dict(self.repo.signers["timestamp"])
        self.repo.rotate_role_key("timestamp")
        self.repo.publish("timestamp", signers=list(old_signers.values()))
        self.fails(self.client.refresh())  # signed by the retired key
        self.repo.publish("timestamp")
        self.ok(self.client.refresh())
        self.assertEqual(self.client.version("timestamp"), 3)

    def test_targets_key_rotation(self):
        self.repo.add_artifact("f", b"data")
        self.repo.publish_targets()
        self.ok(self.client.init())
        self.ok(self.client.download("f"))
        self.repo.rotate_role_key("targets")
        self.repo.add_artifact("g", b"more")
        self.repo.publish_targets()
        self.ok(self.client.download("g"))


if __name__ == "__main__":
    unittest.main()
