//! One contract for each port, run against both of its adapters: the embedded ones and the AWS
//! ones on the emulator. The operations rely on exactly these properties.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{Duration, Utc};
use common::*;
use notus_service::layout::CachePolicy;
use notus_service::layout::NameKind;
use notus_service::ops::Config;
use notus_service::ports::*;

#[tokio::test]
async fn object_store_contract() {
    for b in backends(Config::default()).await {
        let s = &b.svc.store;
        let h = CachePolicy::default().headers(NameKind::Immutable);
        let key = "v2/example.com/c/_trust/tuf/targets/x.json";
        assert_eq!(s.get(key).await.unwrap(), None, "{}", b.name);
        let put = |bytes: &'static [u8], c| s.put(key, Bytes::from_static(bytes), c, &h);
        assert_eq!(
            put(b"one", PutCondition::IfAbsent).await.unwrap(),
            PutOutcome::Written
        );
        assert_eq!(
            put(b"two", PutCondition::IfAbsent).await.unwrap(),
            PutOutcome::PreconditionFailed,
            "{}: IfAbsent must not overwrite",
            b.name
        );
        let got = s.get(key).await.unwrap().unwrap();
        assert_eq!(&got.bytes[..], b"one");
        if s.etag_is_sha256() {
            let sha = hex::encode(notus_tuf::metadata::sha256(b"one"));
            assert_eq!(got.etag, sha, "{}: the etag it claims", b.name);
        }
        assert!((Utc::now() - got.last_modified).num_minutes().abs() < 10);
        assert_eq!(
            put(b"two", PutCondition::IfMatch("\"not-the-etag\"".into()))
                .await
                .unwrap(),
            PutOutcome::PreconditionFailed,
            "{}",
            b.name
        );
        assert_eq!(
            put(b"two", PutCondition::IfMatch(got.etag.clone()))
                .await
                .unwrap(),
            PutOutcome::Written
        );
        let got2 = s.get(key).await.unwrap().unwrap();
        assert_eq!(&got2.bytes[..], b"two");
        assert_ne!(got2.etag, got.etag);
        assert_eq!(
            put(b"three", PutCondition::IfMatch(got.etag.clone()))
                .await
                .unwrap(),
            PutOutcome::PreconditionFailed,
            "{}: a stale etag must not win",
            b.name
        );
        // A batch: each put decided on its own, outcomes in the order given.
        let [fresh, taken, moving] =
            ["1", "2", "3"].map(|v| format!("v2/example.com/c/_trust/tuf/{v}.root.json"));
        for k in [&taken, &moving] {
            s.put(k, Bytes::from_static(b"kept"), PutCondition::IfAbsent, &h)
                .await
                .unwrap();
        }
        let moving_etag = s.get(&moving).await.unwrap().unwrap().etag;
        let req = |key: &str, bytes: &'static [u8], condition| {
            PutRequest::new(key, Bytes::from_static(bytes), condition)
        };
        let outcomes = s
            .put_all(
                vec![
                    req(&fresh, b"new", PutCondition::IfAbsent),
                    req(&taken, b"not kept", PutCondition::IfAbsent),
                    req(key, b"stale", PutCondition::IfMatch(got.etag)),
                    req(&moving, b"moved", PutCondition::IfMatch(moving_etag)),
                ],
                &h,
            )
            .await
            .unwrap();
        use PutOutcome::{PreconditionFailed as Failed, Written};
        assert_eq!(outcomes, [Written, Failed, Failed, Written], "{}", b.name);
        let holds = |wants: Vec<(String, &'static [u8])>| async move {
            for (k, want) in wants {
                let got = s.get(&k).await.unwrap().unwrap().bytes;
                assert_eq!(&got[..], want, "{}: {k}", b.name);
            }
        };
        holds(vec![
            (fresh.clone(), b"new"),
            (taken.clone(), b"kept"),
            (key.to_owned(), b"two"),
            (moving.clone(), b"moved"),
        ])
        .await;
        // In order: one after another, stopping at the first condition that fails (a timestamp
        // never moves over a snapshot that did not).
        let moved = s.get(&moving).await.unwrap().unwrap().etag;
        let fresh_etag = s.get(&fresh).await.unwrap().unwrap().etag;
        let outcomes = s
            .put_in_order(
                vec![
                    req(&moving, b"again", PutCondition::IfMatch(moved.clone())),
                    req(&taken, b"not kept", PutCondition::IfAbsent),
                    req(
                        &fresh,
                        b"not moved",
                        PutCondition::IfMatch(fresh_etag.clone()),
                    ),
                ],
                &h,
            )
            .await
            .unwrap();
        assert_eq!(outcomes, [Written, Failed, Failed], "{}", b.name);
        holds(vec![(moving.clone(), b"again"), (fresh.clone(), b"new")]).await;
        // A batch then names in order: a failure in the batch does not stop the names.
        let moved = s.get(&moving).await.unwrap().unwrap().etag;
        let fourth = "v2/example.com/c/_trust/tuf/4.root.json".to_owned();
        let (first, then) = s
            .put_all_then_in_order(
                (
                    vec![
                        req(&taken, b"not kept", PutCondition::IfAbsent),
                        req(&fourth, b"fourth", PutCondition::IfAbsent),
                    ],
                    &h,
                ),
                (
                    vec![
                        req(&fresh, b"newer", PutCondition::IfMatch(fresh_etag)),
                        req(&moving, b"third", PutCondition::IfMatch(moved.clone())),
                    ],
                    &h,
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            (&first[..], &then[..]),
            (&[Failed, Written][..], &[Written, Written][..]),
            "{}",
            b.name
        );
        // ... and a failed name stops the ones after it, whose own conditions hold.
        let newer = s.get(&fresh).await.unwrap().unwrap().etag;
        let (first, then) = s
            .put_all_then_in_order(
                (vec![req(&fourth, b"not kept", PutCondition::IfAbsent)], &h),
                (
                    vec![
                        req(&moving, b"not moved", PutCondition::IfMatch(moved)),
                        req(&fresh, b"not moved", PutCondition::IfMatch(newer)),
                    ],
                    &h,
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            (&first[..], &then[..]),
            (&[Failed][..], &[Failed, Failed][..]),
            "{}",
            b.name
        );
        holds(vec![
            (fourth.clone(), b"fourth"),
            (taken.clone(), b"kept"),
            (fresh.clone(), b"newer"),
            (moving.clone(), b"third"),
        ])
        .await;
        // Several gets: in the order asked, a missing key as `None`.
        let missing = "v2/example.com/c/_trust/tuf/9.root.json".to_owned();
        let all = s
            .get_all(vec![moving.clone(), missing, fresh.clone()])
            .await
            .unwrap();
        let bytes: Vec<Option<&[u8]>> = all
            .iter()
            .map(|o| o.as_ref().map(|o| &o.bytes[..]))
            .collect();
        assert_eq!(
            bytes,
            [Some(&b"third"[..]), None, Some(b"newer")],
            "{}",
            b.name
        );
        assert_eq!(all[2], s.get(&fresh).await.unwrap(), "{}", b.name);
        s.delete(&[fresh, taken, moving, fourth]).await.unwrap();
        // A key that is a "directory" of others is not an object; listing is by prefix only.
        let other = "v2/example.com/cc/_trust/tuf/root.json";
        s.put(other, Bytes::from_static(b"x"), PutCondition::IfAbsent, &h)
            .await
            .unwrap();
        assert_eq!(
            s.get("v2/example.com/c/_trust/tuf/targets").await.unwrap(),
            None,
            "{}: the prefix of a key (a directory on disk) is not an object",
            b.name
        );
        assert_eq!(
            s.list("v2/example.com/c/").await.unwrap(),
            vec![key.to_owned()],
            "{}",
            b.name
        );
        s.delete(&[
            key.to_owned(),
            "v2/example.com/c/_trust/tuf/missing.json".into(),
        ])
        .await
        .unwrap();
        assert_eq!(s.get(key).await.unwrap(), None);
        assert_eq!(
            s.list("v2/example.com/c/").await.unwrap(),
            Vec::<String>::new()
        );
        assert!(s.get(other).await.unwrap().is_some());
    }
}

fn head(seq: u64, due_in_hours: i64) -> Head {
    Head {
        seq,
        dialect: "tuf".into(),
        roles: [(
            "timestamp".to_owned(),
            RoleRecord {
                version: seq,
                sha256: "ab".repeat(32),
                length: 10,
            },
        )]
        .into(),
        refresh_due: Utc::now() + Duration::hours(due_in_hours),
        deleting: false,
    }
}

fn change(v: u64) -> NewChange {
    NewChange {
        category: Category::Update,
        version: v,
        sha256: "cd".repeat(32),
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn ledger_contract() {
    for b in backends(Config::default()).await {
        let l = &b.svc.ledger;
        assert_eq!(l.head("g/a").await.unwrap(), None);
        let c1 = l
            .commit("g/a", None, &head(1, 48), &change(1))
            .await
            .unwrap();
        let Commit::Committed(id1) = c1 else {
            panic!("{}: first commit", b.name)
        };
        assert_eq!(
            l.commit("g/a", None, &head(1, 48), &change(1))
                .await
                .unwrap(),
            Commit::Conflict,
            "{}: a second creator must lose",
            b.name
        );
        let Commit::Committed(id2) = l
            .commit("g/a", Some(1), &head(2, 1), &change(2))
            .await
            .unwrap()
        else {
            panic!("{}: second commit", b.name)
        };
        assert!(id2 > id1);
        assert_eq!(
            l.commit("g/a", Some(1), &head(2, 48), &change(2))
                .await
                .unwrap(),
            Commit::Conflict
        );
        assert_eq!(l.head("g/a").await.unwrap().unwrap().seq, 2);
        let Commit::Committed(id3) = l
            .commit("g/b", None, &head(1, 48), &change(1))
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(id3 > id2);

        let q = |gun: Option<&str>, after, limit, backward| ChangeQuery {
            gun: gun.map(str::to_owned),
            after,
            limit,
            backward,
        };
        let ids = |v: Vec<Change>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(l.changes(&q(None, None, 10, false)).await.unwrap()),
            vec![id1, id2, id3],
            "{}",
            b.name
        );
        assert_eq!(
            ids(l.changes(&q(Some("g/a"), None, 10, false)).await.unwrap()),
            vec![id1, id2]
        );
        assert_eq!(
            ids(l.changes(&q(None, Some(id1), 1, false)).await.unwrap()),
            vec![id2]
        );
        assert_eq!(
            ids(l.changes(&q(None, None, 2, true)).await.unwrap()),
            vec![id2, id3],
            "{}",
            b.name
        );
        assert_eq!(
            ids(l.changes(&q(None, Some(id3), 5, true)).await.unwrap()),
            vec![id1, id2]
        );
        assert_eq!(
            ids(l
                .changes(&q(Some("g/b"), Some(id3), 5, true))
                .await
                .unwrap()),
            Vec::<u64>::new()
        );
        let c = &l.changes(&q(Some("g/b"), None, 1, false)).await.unwrap()[0];
        assert_eq!(
            (c.gun.as_str(), c.change.version, c.change.category),
            ("g/b", 1, Category::Update)
        );

        // Refresh index: g/a is due within 2 hours, g/b is not.
        assert_eq!(
            l.due(Utc::now() + Duration::hours(2)).await.unwrap(),
            vec!["g/a".to_owned()],
            "{}",
            b.name
        );
        let mut gone = head(3, 48);
        gone.deleting = true;
        assert!(matches!(
            l.commit("g/b", Some(1), &gone, &change(0)).await.unwrap(),
            Commit::Committed(_)
        ));
        let mut due = l.due(Utc::now()).await.unwrap();
        due.sort();
        assert_eq!(
            due,
            vec!["g/b".to_owned()],
            "{}: deleting heads are due",
            b.name
        );
        assert!(
            !l.remove_head("g/b", 1).await.unwrap(),
            "{}: stale remove",
            b.name
        );
        assert!(l.remove_head("g/b", 3).await.unwrap());
        assert_eq!(l.head("g/b").await.unwrap(), None);

        // Key assignments: revision-checked.
        let none = l.keys("g/a").await.unwrap();
        assert_eq!(none, KeyAssignments::default());
        let k = ServerKey {
            key_ref: "k1".into(),
            public_der: vec![1, 2, 3],
        };
        let first = KeyAssignments {
            rev: 1,
            timestamp: vec![k.clone()],
            snapshot: vec![],
        };
        assert!(l.put_keys("g/a", &first).await.unwrap());
        assert!(
            !l.put_keys("g/a", &first).await.unwrap(),
            "{}: same revision twice",
            b.name
        );
        let second = KeyAssignments {
            rev: 2,
            snapshot: vec![k],
            ..first.clone()
        };
        assert!(l.put_keys("g/a", &second).await.unwrap());
        assert_eq!(l.keys("g/a").await.unwrap(), second);
    }
}

/// Many commits at once (the embedded ledger batches them into shared transactions): for each
/// GUN exactly one of the racing creators wins, every other collection's commit lands, and the
/// change feed gives every winner its own ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_one_winner_per_gun() {
    for b in backends(Config::default()).await {
        let ledger = b.svc.ledger.clone();
        let mut tasks = Vec::new();
        for g in 0..8 {
            for racer in 0..4 {
                let ledger = ledger.clone();
                tasks.push(tokio::spawn(async move {
                    let gun = format!("race/{g}");
                    let outcome = ledger
                        .commit(&gun, None, &head(1, 48), &change(racer))
                        .await
                        .unwrap();
                    (gun, outcome)
                }));
            }
        }
        let mut winners: BTreeMap<String, u32> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for t in tasks {
            let (gun, outcome) = t.await.unwrap();
            if let Commit::Committed(id) = outcome {
                *winners.entry(gun).or_default() += 1;
                assert!(ids.insert(id), "{}: change ID {id} given twice", b.name);
            }
        }
        assert_eq!(winners.len(), 8, "{}: every GUN has a winner", b.name);
        assert!(
            winners.values().all(|n| *n == 1),
            "{}: exactly one winner per GUN: {winners:?}",
            b.name
        );
        for g in 0..8 {
            assert_eq!(
                ledger
                    .head(&format!("race/{g}"))
                    .await
                    .unwrap()
                    .unwrap()
                    .seq,
                1
            );
        }
    }
}

#[tokio::test]
async fn key_service_contract() {
    use notus_tuf::keys::{PublicKey, Scheme, verify_signature};
    use p256::pkcs8::DecodePublicKey as _;
    for b in backends(Config::default()).await {
        let k = &b.svc.keys;
        let d1 = k.default_key().await.unwrap();
        assert_eq!(
            k.default_key().await.unwrap(),
            d1,
            "{}: the default key is stable",
            b.name
        );
        let n1 = k.create_key().await.unwrap();
        let n2 = k.create_key().await.unwrap();
        assert_ne!(n1.public_der, n2.public_der);
        assert_ne!(n1.public_der, d1.public_der);
        for key in [&d1, &n1] {
            let sig = k.sign(key, b"payload").await.unwrap();
            assert_eq!(sig.len(), 64, "{}: fixed-width r||s", b.name);
            let pk = PublicKey::EcdsaP256(
                p256::ecdsa::VerifyingKey::from_public_key_der(&key.public_der).unwrap(),
            );
            assert!(
                verify_signature(&pk, Scheme::EcdsaP256Fixed, b"payload", &sig),
                "{}",
                b.name
            );
            assert!(!verify_signature(
                &pk,
                Scheme::EcdsaP256Fixed,
                b"other",
                &sig
            ));
        }
        let unknown = ServerKey {
            key_ref: "not-a-key".into(),
            public_der: d1.public_der.clone(),
        };
        assert!(k.sign(&unknown, b"payload").await.is_err());
        // A key whose public half is not the one recorded for it (a key file or KMS alias
        // changed behind the ledger's back) does not sign.
        let swapped = ServerKey {
            key_ref: d1.key_ref.clone(),
            public_der: n1.public_der.clone(),
        };
        let refused = k.sign(&swapped, b"payload").await;
        assert!(refused.is_err(), "{}: signed for the wrong key", b.name);
    }
}

/// A deployment's functions may use only KMS keys tagged with the deployment (the template's IAM
/// policy), so every key the KMS adapter creates for a collection carries the configured tag.
#[tokio::test]
async fn kms_keys_created_for_collections_carry_the_deployment_tag() {
    use notus_service::ports::KeyService as _;
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"));
        return;
    }
    let conf = notus_service::aws::sdk_config().await;
    let tag = ("notus-deployment".to_owned(), "contract-test".to_owned());
    let keys = notus_service::aws::KmsKeys::new(&conf, "alias/unused").tagged(Some(tag.clone()));
    let found = tags_of(&keys, &keys.create_key().await.unwrap().key_ref).await;
    assert_eq!(found, vec![tag]);
    // Untagged adapters (notus-server, the CLI) create keys without tags.
    let plain = notus_service::aws::KmsKeys::new(&conf, "alias/unused");
    let created = plain.create_key().await.unwrap();
    assert!(tags_of(&plain, &created.key_ref).await.is_empty());
}

async fn tags_of(keys: &notus_service::aws::KmsKeys, key_id: &str) -> Vec<(String, String)> {
    let tags = keys
        .client()
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .unwrap();
    tags.tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect()
}
