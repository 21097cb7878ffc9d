//! The service's behaviour and the publish invariants I1–I5 (DESIGN §4), each on every backend:
//! the embedded adapters, and S3/DynamoDB/KMS on the emulator when it runs.

mod common;

use chrono::Duration;
use common::*;
use notus_service::ops::{Config, refresh};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use notus_service::Service;
use notus_service::ports::{
    ChangeQuery, Object, ObjectHeaders, ObjectStore, PortResult, PutCondition, PutOutcome,
};

fn config() -> Config {
    Config::default()
}

#[tokio::test]
async fn publish_then_read_verifies_with_cache_headers() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/app", 1).await;
        let first = p.initial();
        let r = p.post(svc, &first).await;
        assert_eq!(r.status(), 200, "{}: {:?}", b.name, r.body());
        assert!(r.body().is_empty());
        let (v, targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap();
        assert_eq!((v, targets), (1, vec!["app-1.0".to_owned()]), "{}", b.name);

        let r = p.publish_next(svc, "app-2.0", b"second").await;
        assert_eq!(r.status(), 200, "{}", b.name);
        let (v, targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap();
        assert_eq!(v, 2);
        assert_eq!(targets, vec!["app-1.0", "app-2.0"]);

        let ts = get(svc, "/v2/example.com/app/_trust/tuf/timestamp.json").await;
        assert_eq!(
            ts.headers()["cache-control"],
            "public, max-age=300, s-maxage=300, must-revalidate"
        );
        assert_eq!(ts.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(
            ts.headers()["last-modified"]
                .to_str()
                .unwrap()
                .ends_with(" UTC")
        );
        let old = get(svc, "/v2/example.com/app/_trust/tuf/1.targets.json").await;
        assert_eq!(old.status(), 200);
        assert_eq!(
            old.headers()["cache-control"],
            "public, max-age=2592000, s-maxage=2592000"
        );
        // Versioned names are served with leading zeros normalised, as notary-server does.
        let padded = get(svc, "/v2/example.com/app/_trust/tuf/01.root.json").await;
        assert_eq!(padded.body(), &p.root[..]);
        // TUF collections have no current name for targets (see layout.rs).
        let missing = get(svc, "/v2/example.com/app/_trust/tuf/targets.json").await;
        assert_eq!(missing.status(), 404);
        assert_eq!(error_code(&missing), "METADATA_NOT_FOUND");
    }
}

#[tokio::test]
async fn concurrent_publishers_exactly_one_wins_per_round() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/race", 2).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);
        let mut expected_targets = vec!["app-1.0".to_owned()];
        for round in 0..3 {
            // Eight publishers build on the same state; each adds a different target.
            let base = (p.targets.clone(), p.targets_version, p.snapshot_version);
            let mut uploads = Vec::new();
            for i in 0..8 {
                (p.targets, p.targets_version, p.snapshot_version) = base.clone();
                uploads.push((
                    format!("r{round}-w{i}"),
                    p.next(&format!("r{round}-w{i}"), b"x"),
                ));
            }
            let results = futures_join(svc, &p, &uploads).await;
            let winners: Vec<&String> = results
                .iter()
                .filter(|(_, status, _)| *status == 200)
                .map(|(n, _, _)| n)
                .collect();
            assert_eq!(winners.len(), 1, "{} round {round}: {results:?}", b.name);
            for (_, status, code) in &results {
                assert!(
                    *status == 200 || (*status == 400 && code == "VERSION"),
                    "{} round {round}: loser must get VERSION: {results:?}",
                    b.name
                );
            }
            // Readers see exactly the winner's state; nothing of a loser is referenced.
            expected_targets.push(winners[0].clone());
            expected_targets.sort();
            let (_, targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap();
            assert_eq!(targets, expected_targets, "{} round {round}", b.name);
            // The next round builds on the winner.
            let won = &uploads.iter().find(|(n, _)| n == winners[0]).unwrap().1;
            p.targets_bytes = won[0].1.clone();
            let t: serde_json::Value = serde_json::from_slice(&p.targets_bytes).unwrap();
            p.targets = serde_json::from_value(t["signed"]["targets"].clone()).unwrap();
            p.targets_version = base.1 + 1;
            p.snapshot_version = base.2 + 1;
        }
        let head = svc.ledger.head(&p.gun).await.unwrap().unwrap();
        assert_eq!(head.roles["targets"].version, 4, "{}", b.name);
    }
}

/// Post every upload at once; (name, status, error code) per upload.
async fn futures_join(
    svc: &notus_service::Service,
    p: &Publisher,
    uploads: &[(String, Parts)],
) -> Vec<(String, u16, String)> {
    let mut set = tokio::task::JoinSet::new();
    for (name, parts) in uploads {
        let (svc, name, parts, gun) = (svc.clone(), name.clone(), parts.clone(), p.gun.clone());
        set.spawn(async move {
            let refs: Vec<(&str, &[u8])> = parts
                .iter()
                .map(|(r, b)| (r.as_str(), b.as_slice()))
                .collect();
            let (ct, body) = multipart(&refs);
            let r = request(
                &svc,
                "POST",
                &format!("/v2/{gun}/_trust/tuf/"),
                Some(&ct),
                body,
            )
            .await;
            (name, r.status().as_u16(), error_code(&r))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out.sort();
    out
}

/// A publish validates against the head's files as the publish before it staged them, kept in
/// memory: the store is not read for them. Another service on the same ports (another Lambda
/// instance, a restarted server) starts with none and reads them, and refuses to go on without
/// one the ledger names.
#[tokio::test]
async fn the_head_s_files_come_from_the_cache_of_contents_or_the_store() {
    use notus_service::ops::Service;
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/cached", 4).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200, "{}", b.name);
        let head = svc.ledger.head(&p.gun).await.unwrap().unwrap();
        let root_key = format!(
            "v2/{}/_trust/tuf/root.{}.json",
            p.gun, head.roles["root"].sha256
        );
        svc.store
            .delete(std::slice::from_ref(&root_key))
            .await
            .unwrap();

        let r = p.publish_next(svc, "app-2.0", b"second").await;
        assert_eq!(r.status(), 200, "{}: {:?}", b.name, r.body());

        let fresh = Service::new(
            svc.store.clone(),
            svc.ledger.clone(),
            svc.keys.clone(),
            svc.config.clone(),
            svc.clock.clone(),
        );
        let before = svc.ledger.head(&p.gun).await.unwrap();
        let r = p.publish_next(&fresh, "app-3.0", b"third").await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r).as_str()),
            (500, "UPDATING"),
            "{}: {:?}",
            b.name,
            r.body()
        );
        assert_eq!(svc.ledger.head(&p.gun).await.unwrap(), before, "{}", b.name);
    }
}

#[tokio::test]
async fn refused_upload_changes_nothing() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/refuse", 3).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);
        let before_head = svc.ledger.head(&p.gun).await.unwrap();
        let before_objects = svc.store.list("v2/example.com/refuse/").await.unwrap();

        // A targets file signed by the wrong key (the snapshot key signs it): bad signature.
        let mut parts = p.next("evil", b"payload");
        let mut tampered: serde_json::Value = serde_json::from_slice(&parts[0].1).unwrap();
        tampered["signed"]["targets"]["evil"]["length"] = 999.into();
        parts[0].1 = serde_json::to_vec(&tampered).unwrap();
        let r = p.post(svc, &parts).await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r).as_str()),
            (400, "INVALID_UPDATE"),
            "{}",
            b.name
        );

        // Rollback: a targets version not above the stored one.
        p.targets_version = 0;
        p.snapshot_version = 0;
        let r = p.publish_next(svc, "old", b"old").await;
        assert_eq!(r.status(), 400, "{}", b.name);

        // Not multipart at all.
        let r = request(
            svc,
            "POST",
            "/v2/example.com/refuse/_trust/tuf/",
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(error_code(&r), "MALFORMED_UPLOAD");

        assert_eq!(
            svc.ledger.head(&p.gun).await.unwrap(),
            before_head,
            "{}",
            b.name
        );
        assert_eq!(
            svc.store.list("v2/example.com/refuse/").await.unwrap(),
            before_objects,
            "{}: a refused upload wrote objects",
            b.name
        );
    }
}

#[tokio::test]
async fn refresh_keeps_timestamps_valid_and_is_idempotent() {
    let config = Config {
        timestamp_lifetime: Duration::hours(24),
        refresh_window: Duration::hours(8),
        ..Config::default()
    };
    for b in backends(config).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/fresh", 4).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);

        // Nothing is due right after a publish.
        let r = refresh::refresh_all(svc).await.unwrap();
        assert_eq!((r.due, r.refreshed), (0, 0), "{}", b.name);
        let feed_len = svc.ledger.changes(&all_changes()).await.unwrap().len();

        // 20 hours on, the timestamp expires within the window: refreshed once, by two
        // concurrent runs.
        b.clock.advance(Duration::hours(20));
        let (r1, r2) = tokio::join!(refresh::refresh_all(svc), refresh::refresh_all(svc));
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        assert_eq!(r1.refreshed + r2.refreshed, 1, "{}: {r1:?} {r2:?}", b.name);
        assert_eq!(r1.failed + r2.failed, 0);
        let (v, _) = read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap();
        assert_eq!(v, 2, "{}", b.name);
        assert_eq!(
            svc.ledger.changes(&all_changes()).await.unwrap().len(),
            feed_len + 1
        );

        // A week on (refresh running as scheduled), every read still verifies.
        for _ in 0..7 {
            b.clock.advance(Duration::hours(20));
            let r = refresh::refresh_all(svc).await.unwrap();
            assert_eq!((r.refreshed, r.failed), (1, 0), "{}", b.name);
            assert_eq!(r.expiring, 0, "{}: nothing left close to expiry", b.name);
            read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap();
        }
        // And without refresh the timestamp does expire (the check above can fail).
        b.clock.advance(Duration::hours(30));
        let err = read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap_err();
        assert!(err.contains("timestamp"), "{}: {err}", b.name);

        // A run that cannot sign (the KMS key disabled) fails the collection and counts it as
        // expiring, which is what the deployment's near-expiry alarm watches; enabled again,
        // the next run re-signs it and the count is back to zero.
        if b.name == "aws-emulator" {
            let kms = aws_sdk_kms::Client::new(&notus_service::aws::sdk_config().await);
            let key = svc.keys.default_key().await.unwrap().key_ref;
            kms.disable_key().key_id(&key).send().await.unwrap();
            let r = refresh::refresh_all(svc).await.unwrap();
            kms.enable_key().key_id(&key).send().await.unwrap();
            assert_eq!((r.failed, r.expiring), (1, 1), "{r:?}");
            let r = refresh::refresh_all(svc).await.unwrap();
            assert_eq!((r.refreshed, r.failed, r.expiring), (1, 0, 0), "{r:?}");
            read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap();
        }
    }
}

fn all_changes() -> ChangeQuery {
    ChangeQuery {
        gun: None,
        after: None,
        limit: 1000,
        backward: false,
    }
}

#[tokio::test]
async fn server_held_snapshot_is_generated_and_refreshed() {
    let config = Config {
        snapshot_lifetime: Duration::hours(30),
        ..Config::default()
    };
    for b in backends(config).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/srvsnap", 5).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);
        // Without a server snapshot key, a publish without snapshot is refused.
        let t = p.add_target("two", b"2");
        let r = p.post(svc, &[("targets".into(), t.clone())]).await;
        assert_eq!(r.status(), 400, "{}", b.name);
        let key = request(
            svc,
            "POST",
            "/v2/example.com/srvsnap/_trust/tuf/snapshot.key",
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(key.status(), 200);
        // Root v2 moves the snapshot role to the server's key.
        let root2 = p.root_with_server_snapshot(key.body());
        let r = p
            .post(
                svc,
                &[("root".into(), root2.clone()), ("targets".into(), t)],
            )
            .await;
        assert_eq!(r.status(), 200, "{}: {:?}", b.name, r.body());
        let (_, targets) = read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap();
        assert_eq!(targets, vec!["app-1.0", "two"]);
        b.clock.advance(Duration::hours(23));
        let r = refresh::refresh_all(svc).await.unwrap();
        assert_eq!(r.refreshed, 1, "{}", b.name);
        let head = svc.ledger.head(&p.gun).await.unwrap().unwrap();
        assert_eq!(
            head.roles["snapshot"].version, 3,
            "{}: snapshot re-signed",
            b.name
        );
        read_verified(svc, &p.gun, &p.root, b.clock.now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn key_get_is_stable_and_post_rotates() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let path = "/v2/example.com/keys/_trust/tuf/timestamp.key";
        let a = get(svc, path).await;
        let c = get(svc, path).await;
        assert_eq!(a.status(), 200);
        assert_eq!(
            a.body(),
            c.body(),
            "{}: a GET must not mint a new key",
            b.name
        );
        let v: serde_json::Value = serde_json::from_slice(a.body()).unwrap();
        assert_eq!(v["keytype"], "ecdsa");
        assert!(v["keyval"]["private"].is_null());
        let rotated = request(svc, "POST", path, None, Vec::new()).await;
        assert_eq!(rotated.status(), 200);
        assert_ne!(rotated.body(), a.body(), "{}", b.name);
        // No root yet: GET now answers the newest key.
        assert_eq!(get(svc, path).await.body(), rotated.body());
        let s1 = get(svc, "/v2/example.com/keys/_trust/tuf/snapshot.key").await;
        let s2 = get(svc, "/v2/example.com/keys/_trust/tuf/snapshot.key").await;
        assert_eq!(s1.body(), s2.body());
        assert_eq!(
            get(svc, "/v2/example.com/keys/_trust/tuf/targets.key")
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn delete_removes_exactly_one_gun_and_records_it() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut del = Publisher::new(svc, "example.com/del", 6).await;
        let mut delta = Publisher::new(svc, "example.com/delta", 7).await;
        let mut nested = Publisher::new(svc, "example.com/del/sub", 8).await;
        for p in [&mut del, &mut delta, &mut nested] {
            let parts = p.initial();
            assert_eq!(p.post(svc, &parts).await.status(), 200);
        }
        let r = request(
            svc,
            "DELETE",
            "/v2/example.com/del/_trust/tuf/",
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", b.name);
        assert_eq!(
            get(svc, "/v2/example.com/del/_trust/tuf/timestamp.json")
                .await
                .status(),
            404
        );
        assert!(
            svc.store
                .list("v2/example.com/del/_trust/")
                .await
                .unwrap()
                .is_empty()
        );
        for p in [&delta, &nested] {
            read_verified(svc, &p.gun, &p.root, b.clock.now())
                .await
                .unwrap();
        }
        let feed = get(svc, "/v2/example.com/del/_trust/changefeed?records=10").await;
        let v: serde_json::Value = serde_json::from_slice(feed.body()).unwrap();
        let cats: Vec<&str> = v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Category"].as_str().unwrap())
            .collect();
        assert_eq!(cats, vec!["update", "deletion"], "{}", b.name);
        // Deleting again, or a GUN that never existed, is fine; the collection can be re-created.
        assert_eq!(
            request(
                svc,
                "DELETE",
                "/v2/example.com/del/_trust/tuf/",
                None,
                Vec::new()
            )
            .await
            .status(),
            200
        );
        assert_eq!(
            request(
                svc,
                "DELETE",
                "/v2/example.com/never/_trust/tuf/",
                None,
                Vec::new()
            )
            .await
            .status(),
            200
        );
        let mut again = Publisher::new(svc, "example.com/del", 9).await;
        assert_eq!(again.publish_initial(svc).await.status(), 200, "{}", b.name);
        read_verified(svc, &again.gun, &again.root, b.clock.now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn changefeed_pages_like_notary() {
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/feed", 10).await;
        let mut q = Publisher::new(svc, "example.com/other", 11).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200);
        assert_eq!(q.publish_initial(svc).await.status(), 200);
        for i in 0..3 {
            assert_eq!(
                p.publish_next(svc, &format!("t{i}"), b"x").await.status(),
                200
            );
        }
        let page = |path: &str| {
            let path = path.to_owned();
            async move {
                let r = get(svc, &path).await;
                assert_eq!(r.status(), 200, "{path}");
                let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
                v["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["GUN"].as_str().unwrap().to_owned(),
                            r["Version"].as_u64().unwrap(),
                            r["ID"].as_str().unwrap().parse::<u64>().unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        let all = page("/v2/_trust/changefeed?records=100").await;
        assert_eq!(all.len(), 5, "{}", b.name);
        assert!(all.windows(2).all(|w| w[0].2 < w[1].2), "ascending IDs");
        let mine = page("/v2/example.com/feed/_trust/changefeed?records=0").await;
        assert_eq!(
            mine.iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        let after = page(&format!(
            "/v2/example.com/feed/_trust/changefeed?records=2&change_id={}",
            mine[0].2
        ))
        .await;
        assert_eq!(after.iter().map(|r| r.1).collect::<Vec<_>>(), vec![2, 3]);
        let last = page("/v2/example.com/feed/_trust/changefeed?records=-2&change_id=-1").await;
        assert_eq!(
            last.iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![3, 4],
            "{}",
            b.name
        );
        let before = page(&format!(
            "/v2/example.com/feed/_trust/changefeed?records=-2&change_id={}",
            mine[3].2
        ))
        .await;
        assert_eq!(before.iter().map(|r| r.1).collect::<Vec<_>>(), vec![2, 3]);
        let r = get(svc, "/v2/_trust/changefeed").await;
        assert_eq!(
            (r.status().as_u16(), error_code(&r).as_str()),
            (400, "INVALID_PARAMETERS")
        );
    }
}

#[tokio::test]
async fn routes_and_errors_in_notary_format() {
    let b = embedded_backend(config());
    let svc = &b.svc;
    let r = get(svc, "/v2/").await;
    assert_eq!((r.status().as_u16(), &r.body()[..]), (200, &b"{}"[..]));
    let r = get(svc, "/_notary_server/health").await;
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    // Catch-all: 404 without detail.
    let r = request(
        svc,
        "HEAD",
        "/v2/example.com/x/_trust/tuf/root.json",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.body(),
        &b"{\"errors\":[{\"code\":\"METADATA_NOT_FOUND\",\"message\":\"You have requested metadata that does not exist.\"}]}\n"[..]
    );
    // A handler's not-found carries detail {}.
    let r = get(svc, "/v2/example.com/x/_trust/tuf/root.json").await;
    assert!(
        std::str::from_utf8(r.body())
            .unwrap()
            .contains("\"detail\":{}")
    );
    // GUNs that could escape their prefix are refused before any I/O.
    let (ct, body) = multipart(&[("root", b"{}")]);
    for gun in ["a/../b", "a//b", "a/_trust/b"] {
        let r = request(
            svc,
            "POST",
            &format!("/v2/{gun}/_trust/tuf/"),
            Some(&ct),
            body.clone(),
        )
        .await;
        assert_eq!(error_code(&r), "INVALID_GUN", "{gun}");
    }
    let r = request(
        svc,
        "POST",
        "/v2/a%2F..%2Fb/_trust/tuf/",
        Some(&ct),
        body.clone(),
    )
    .await;
    assert_eq!(error_code(&r), "INVALID_GUN");
    assert!(svc.store.list("").await.unwrap().is_empty());
    // Upload limits answer in Notary's format.
    let small = embedded_backend(Config {
        max_upload_bytes: 10,
        ..config()
    });
    let r = request(
        &small.svc,
        "POST",
        "/v2/example.com/x/_trust/tuf/",
        Some(&ct),
        body,
    )
    .await;
    assert_eq!(error_code(&r), "INVALID_UPDATE");

    // Only the configured GUN prefixes are served (notary-server's gun_prefixes), refused before
    // any I/O with notary-server's answer; a key GET (which would assign a key) too.
    let only = embedded_backend(Config {
        gun_prefixes: vec!["example.com/".into(), "docker.io/".into()],
        ..config()
    });
    for (method, path) in [
        ("POST", "/v2/other.org/app/_trust/tuf/"),
        ("GET", "/v2/other.org/app/_trust/tuf/timestamp.key"),
        ("POST", "/v2/other.org/app/_trust/tuf/snapshot.key"),
        ("DELETE", "/v2/other.org/app/_trust/tuf/"),
        // A prefix is a prefix of the name, not of a segment.
        ("POST", "/v2/example.community/app/_trust/tuf/"),
    ] {
        let r = request(&only.svc, method, path, Some(&ct), b"x".to_vec()).await;
        assert_eq!(r.status(), 400, "{method} {path}");
        assert_eq!(
            std::str::from_utf8(r.body()).unwrap(),
            "{\"errors\":[{\"code\":\"INVALID_GUN\",\"message\":\"The server does not support \
             actions on images of this name.\",\"detail\":\"Require GUNs with prefix: \
             [example.com/ docker.io/]\"}]}\n",
            "{method} {path}"
        );
    }
    let r = get(&only.svc, "/v2/other.org/app/_trust/tuf/root.json").await;
    assert_eq!(r.status(), 404);
    assert!(only.svc.store.list("").await.unwrap().is_empty());
    assert_eq!(only.svc.ledger.keys("other.org/app").await.unwrap().rev, 0);
    let r = get(&only.svc, "/v2/example.com/app/_trust/tuf/timestamp.key").await;
    assert_eq!(r.status(), 200);
}

/// A mutable name that no longer holds what the previous publish left (changed behind the
/// service's back) is still moved forward, and one holding a newer file is never moved back: the
/// swap the service predicts from the previous file fails, and the name is read and retried.
#[tokio::test]
async fn a_current_name_changed_behind_the_service_moves_forward_never_back() {
    use notus_service::layout::{NameKind, current_key};
    use notus_service::ports::{PutCondition, PutOutcome};
    for b in backends(config()).await {
        let svc = &b.svc;
        let mut p = Publisher::new(svc, "example.com/moved", 5).await;
        assert_eq!(p.publish_initial(svc).await.status(), 200, "{}", b.name);
        let key = current_key(&p.gun, "root");
        let headers = svc.config.cache.headers(NameKind::Current);
        let (key, headers) = (&key, &headers);
        let replace = |bytes: &'static [u8]| async move {
            let etag = svc.store.get(key).await.unwrap().unwrap().etag;
            let put = svc.store.put(
                key,
                bytes::Bytes::from_static(bytes),
                PutCondition::IfMatch(etag),
                headers,
            );
            assert_eq!(put.await.unwrap(), PutOutcome::Written);
        };
        let served = || async { svc.store.get(key).await.unwrap().unwrap().bytes };

        replace(br#"{"signed":{"_type":"root","version":0},"signatures":[]}"#).await;
        p.root_version = 2;
        let root2 = p.build_root(2);
        let snapshot = p.snapshot();
        let r = p
            .post(
                svc,
                &[
                    ("root".into(), root2.clone()),
                    ("snapshot".into(), snapshot),
                ],
            )
            .await;
        assert_eq!(r.status(), 200, "{}: {:?}", b.name, r.body());
        assert_eq!(served().await, root2, "{}: moved forward", b.name);
        // The timestamp, which stopped at it (TUF serves root and timestamp by name), moved too.
        let timestamp_key = current_key(&p.gun, "timestamp");
        let timestamp = svc.store.get(&timestamp_key).await.unwrap().unwrap().bytes;
        let head = svc.ledger.head(&p.gun).await.unwrap().unwrap();
        assert_eq!(
            notus_tuf::metadata::sha256_hex(&timestamp),
            head.roles["timestamp"].sha256,
            "{}",
            b.name
        );

        let newer: &[u8] = br#"{"signed":{"_type":"root","version":99},"signatures":[]}"#;
        replace(newer).await;
        p.root_version = 3;
        let (root3, snapshot) = (p.build_root(3), p.snapshot());
        let r = p
            .post(
                svc,
                &[("root".into(), root3), ("snapshot".into(), snapshot)],
            )
            .await;
        assert_eq!(r.status(), 200, "{}: {:?}", b.name, r.body());
        assert_eq!(served().await, newer, "{}: never moved back", b.name);
    }
}

/// The real store, with a record of the keys read through it.
struct ReadLog(Arc<dyn ObjectStore>, Arc<Mutex<Vec<String>>>);

#[async_trait]
impl ObjectStore for ReadLog {
    async fn get(&self, key: &str) -> PortResult<Option<Object>> {
        self.1.lock().unwrap().push(key.to_owned());
        self.0.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        c: PutCondition,
        h: &ObjectHeaders,
    ) -> PortResult<PutOutcome> {
        self.0.put(key, bytes, c, h).await
    }
    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> PortResult<()> {
        self.0.delete(keys).await
    }
    fn etag_is_sha256(&self) -> bool {
        self.0.etag_is_sha256()
    }
}

/// A publish on a head whose served names this process wrote itself does not read the served
/// `timestamp.json` back to check them (on S3, one GET fewer; S3 still reads it for its ETag
/// before moving it); a head another process served is checked.
#[tokio::test]
async fn a_head_this_process_served_is_not_read_back() {
    for b in backends(Config::default()).await {
        let reads = Arc::new(Mutex::new(Vec::new()));
        let mut svc = b.svc.clone();
        svc.store = Arc::new(ReadLog(b.svc.store.clone(), reads.clone()));
        let mut p = Publisher::new(&svc, "example.com/served", 23).await;
        assert_eq!(p.publish_initial(&svc).await.status(), 200);
        let served = notus_service::layout::current_key(&p.gun, "timestamp");
        let served_reads = || {
            let mut r = reads.lock().unwrap();
            let n = r.iter().filter(|k| **k == served).count();
            r.clear();
            n
        };

        served_reads();
        assert_eq!(p.publish_next(&svc, "a", b"a").await.status(), 200);
        let after_own = served_reads();

        // Another process (its own memory, the same store and ledger) publishes next.
        let other = Service::new(
            b.svc.store.clone(),
            b.svc.ledger.clone(),
            b.svc.keys.clone(),
            b.svc.config.clone(),
            b.svc.clock.clone(),
        );
        assert_eq!(p.publish_next(&other, "b", b"b").await.status(), 200);
        served_reads();
        assert_eq!(p.publish_next(&svc, "c", b"c").await.status(), 200);
        let after_other = served_reads();
        assert_eq!(after_other, after_own + 1, "{}", b.name);
    }
}
