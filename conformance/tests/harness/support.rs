//! Shared helpers: ports, a runtime, and a deliberately wrong forwarder.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// A free port on 127.0.0.1 for a server the harness itself starts (the simulator in external
/// mode must listen where the forwarder was told to send). Bind-and-release has a tiny race; it
/// only matters if another process grabs the port in between.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr")
}

/// A multi-thread runtime for a synchronous test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[derive(Clone)]
struct Wrong {
    usercom: String,
    key: String,
    http: reqwest::Client,
    received: Arc<AtomicU64>,
}

/// A Segment ingress that is wrong on purpose: it upserts the user of every identify but drops
/// all traits and context, and does nothing at all for page, track and group. It answers
/// `GET /stats` like ours (synchronously, so `in_flight` is always 0 after it answers).
pub async fn start_wrong_forwarder(
    usercom_origin: String,
    key: String,
) -> (String, tokio::task::JoinHandle<()>) {
    let state = Wrong {
        usercom: usercom_origin,
        key,
        http: reqwest::Client::new(),
        received: Arc::new(AtomicU64::new(0)),
    };
    let app = Router::new()
        .route("/v1/batch", post(batch))
        .route("/stats", get(stats))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (url, task)
}

async fn batch(State(s): State<Wrong>, Json(body): Json<Value>) -> Json<Value> {
    let batch = body
        .get("batch")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for m in batch {
        s.received.fetch_add(1, Ordering::Relaxed);
        if m.get("type").and_then(Value::as_str) != Some("identify") {
            continue;
        }
        let id = m
            .get("userId")
            .and_then(Value::as_str)
            .or_else(|| m.get("anonymousId").and_then(Value::as_str));
        if let Some(id) = id {
            let _ = s
                .http
                .post(format!("{}/api/public/users/update_or_create/", s.usercom))
                .header("Authorization", format!("Token {}", s.key))
                .header("Accept", "*/*; version=2")
                .json(&json!({ "custom_id": id }))
                .send()
                .await;
        }
    }
    Json(json!({"success": true}))
}

async fn stats(State(s): State<Wrong>) -> Json<Value> {
    let n = s.received.load(Ordering::Relaxed);
    Json(
        json!({"received": n, "delivered": n, "skipped": 0, "dead_lettered": 0, "duplicates": 0, "in_flight": 0}),
    )
}
