//! The benchmark's floor: what a request costs on the simulator's HTTP stack when the simulator
//! does nothing of its own.
//!
//! `bench/bench.py` measures `usercom-mock` against this binary, alternating, on the same three
//! request shapes, and reports the simulator's throughput as a fraction of this floor. It uses
//! the simulator's axum, tokio and serde_json (same workspace, same lock file, same features), the
//! same `current_thread` runtime and `axum::serve`, and does only what no simulator request can
//! skip: route the request, read the body, parse it as JSON (a 400 when it is not JSON) and answer
//! a small JSON object. No authentication, no state, no journal.
//!
//! Usage: `usercom-bench-floor [ADDR]` (default `127.0.0.1:0`); the first stdout line is
//! `floor listening on http://ADDR`. Not part of the product: a yardstick for `bench/`.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Parse the body as JSON, as every simulator write does, and answer a small object.
async fn parse_and_answer(body: Bytes) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            let fields = v.as_object().map_or(0, |o| o.len());
            (
                StatusCode::OK,
                Json(json!({ "ok": true, "fields": fields })),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "detail": format!("the body is not JSON: {e}") })),
        )
            .into_response(),
    }
}

fn router() -> Router {
    Router::new()
        .route(
            "/api/public/users-by-id/{id}/events/",
            post(parse_and_answer),
        )
        .route("/api/public/site-views/", post(parse_and_answer))
        .route(
            "/api/public/users/update_or_create/",
            post(parse_and_answer),
        )
        // The path bench.py polls for start-up, like the simulator's.
        .route(
            "/__admin/apps",
            get(|| async { Json(json!({ "results": [] })) }),
        )
}

fn main() -> std::process::ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("usercom-bench-floor: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("usercom-bench-floor: cannot listen on {addr}: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        match listener.local_addr() {
            Ok(a) => println!("floor listening on http://{a}"),
            Err(e) => {
                eprintln!("usercom-bench-floor: {e}");
                return std::process::ExitCode::from(2);
            }
        }
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, router())
            .with_graceful_shutdown(stop)
            .await
        {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("usercom-bench-floor: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
