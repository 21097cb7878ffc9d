//! `notus` against a Notus service that requires tokens: it answers the server's challenges by
//! fetching tokens from the token service (tests/python/token_service.py), with `NOTUS_AUTH` /
//! `NOTARY_AUTH` credentials for writes and anonymously for reads.
mod common;
use common::{Server, User, write};
use notus_service::ops::{AuthConfig, Config};

fn b64(s: &str) -> String {
    notus_tuf::b64_encode(s.as_bytes())
}

#[test]
fn notus_fetches_tokens_and_needs_push_to_publish() {
    let Some(python) = notus_e2e::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pubkey = dir.path().join("token-signer.pem");
    let ts = notus_e2e::TokenService::start(&python, &pubkey, "ES256");
    let token_url = ts.url.clone();
    use p256::pkcs8::DecodePublicKey as _;
    let vk =
        p256::ecdsa::VerifyingKey::from_public_key_pem(&std::fs::read_to_string(&pubkey).unwrap())
            .unwrap();
    let server = Server::start_with(Config {
        auth: Some(AuthConfig {
            realm: format!("{token_url}/auth/token"),
            policy: notus_tuf::auth::TokenPolicy {
                service: "notus".into(),
                issuer: Some("notus-test-issuer".into()),
                keys: vec![notus_tuf::keys::PublicKey::EcdsaP256(vk)],
            },
        }),
        ..Config::default()
    });

    let gun = "example.com/authed";
    // No credentials: the key request and the publish are refused.
    let anon = User::new(dir.path(), "anon", &server);
    let r = anon.fails(&["init", gun, "--publish"]);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    // Pull-only credentials cannot publish either.
    let mut bob = User::new(dir.path(), "bob", &server);
    bob.env.push(("NOTUS_AUTH".into(), b64("bob:secret")));
    bob.fails(&["init", gun, "--publish"]);
    // Alice (Notary's variable works too) publishes.
    let mut alice = User::new(dir.path(), "alice", &server);
    alice.env.push(("NOTARY_AUTH".into(), b64("alice:secret")));
    alice.ok(&["init", gun, "--publish"]);
    let f = write(dir.path(), "f", b"behind a token service");
    alice.ok(&["add", gun, "f", f.to_str().unwrap()]);
    alice.ok(&["publish", gun]);
    // Anonymous readers pull.
    let reader = User::new(dir.path(), "reader", &server);
    let root = alice.root_file(gun);
    reader.ok(&[
        "verify",
        gun,
        "f",
        f.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
}
