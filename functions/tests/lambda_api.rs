//! The `notus-api` Lambda binary, run as a process against a minimal Lambda Runtime API on
//! 127.0.0.1 (the protocol every Lambda runtime speaks: `GET …/invocation/next`, then
//! `POST …/invocation/{id}/response`), with API Gateway HTTP API (v2) events. The function's
//! AWS side is the emulator.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

fn event(method: &str, path: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "notus.example", "user-agent": "Go-http-client/1.1"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "notus.example",
            "domainPrefix": "notus", "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "25/Nov/2026:21:00:00 +0000", "timeEpoch": 1795640400000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"}
        },
        "isBase64Encoded": false
    })
}

#[derive(Default)]
struct Runtime {
    pending: VecDeque<(String, Value)>,
    responses: Vec<(String, Value)>,
}

async fn runtime_api(
    rt: Arc<Mutex<Runtime>>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    if path.ends_with("/invocation/next") {
        let next = rt.lock().unwrap().pending.pop_front();
        let Some((id, ev)) = next else {
            // Nothing more to invoke: hold the poll until the test ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(http::Response::builder()
                .status(500)
                .body(Full::new(Bytes::new()))
                .unwrap());
        };
        return Ok(http::Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", "9999999999999")
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:notus-api",
            )
            .body(Full::new(Bytes::from(ev.to_string())))
            .unwrap());
    }
    if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let id = rest.split('/').next().unwrap().to_owned();
        let v: Value = serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
        rt.lock().unwrap().responses.push((id, v));
    }
    Ok(http::Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

#[tokio::test]
async fn api_function_answers_api_gateway_events() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            std::env::var("NOTUS_REQUIRE_AWS").as_deref() != Ok("1"),
            "emulator required"
        );
        return;
    }
    let rt = Arc::new(Mutex::new(Runtime::default()));
    {
        let mut r = rt.lock().unwrap();
        r.pending.push_back(("base".into(), event("GET", "/v2/")));
        r.pending.push_back((
            "key".into(),
            event("GET", "/v2/example.com/lambda/_trust/tuf/timestamp.key"),
        ));
        r.pending.push_back((
            "missing".into(),
            event("GET", "/v2/example.com/lambda/_trust/tuf/nothing.key"),
        ));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_rt = rt.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let rt = server_rt.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |req| runtime_api(rt.clone(), req)),
                    )
                    .await;
            });
        }
    });
    let suffix = std::process::id();
    // Resources the function expects (a deployment gets them from the template).
    let conf = notus_service::aws::sdk_config().await;
    let (bucket, table, key) = (
        format!("notus-lambda-{suffix}"),
        format!("notus-lambda-{suffix}"),
        format!("alias/notus-lambda-{suffix}"),
    );
    notus_service::aws::ensure_resources(&conf, &bucket, &table, &key)
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_notus-api"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "notus-api")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("NOTUS_BUCKET", &bucket)
        .env("NOTUS_TABLE", &table)
        .env("NOTUS_KMS_KEY", &key)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if rt.lock().unwrap().responses.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Set up as every binary is (notus_service::disable_transparent_huge_pages).
    let thp = child.id().map(notus_e2e::transparent_huge_pages_enabled);
    let _ = child.kill().await;
    assert_eq!(
        thp,
        Some(false),
        "notus-api runs with transparent huge pages off"
    );
    let responses = std::mem::take(&mut rt.lock().unwrap().responses);
    assert_eq!(responses.len(), 3, "{responses:?}");
    let by_id = |id: &str| responses.iter().find(|(i, _)| i == id).unwrap().1.clone();
    let decode = |v: &Value| -> (u64, String) {
        let body = v["body"].as_str().unwrap_or("");
        let text = if v["isBase64Encoded"].as_bool() == Some(true) {
            use base64::Engine as _;
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap(),
            )
            .unwrap()
        } else {
            body.to_owned()
        };
        (v["statusCode"].as_u64().unwrap(), text)
    };
    assert_eq!(decode(&by_id("base")), (200, "{}".to_owned()));
    let (status, key_json) = decode(&by_id("key"));
    assert_eq!(status, 200);
    let k: Value = serde_json::from_str(&key_json).unwrap();
    assert_eq!(k["keytype"], "ecdsa", "{key_json}");
    let (status, body) = decode(&by_id("missing"));
    assert_eq!(status, 404);
    assert!(body.contains("METADATA_NOT_FOUND"));
}
