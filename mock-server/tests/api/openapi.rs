//! The OpenAPI document: served, committed copy current (UPDATE_OPENAPI=1 rewrites it), and in
//! agreement with the router both ways.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::support::Mock;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

async fn served(m: &Mock) -> (String, Value) {
    let r = m.admin(Method::GET, "/openapi.json", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (r.text, r.body)
}

#[tokio::test]
async fn the_committed_document_is_current() {
    let m = Mock::start().await;
    let (text, doc) = served(&m).await;
    assert_eq!(text, usercom_mock::openapi_json());
    assert_eq!(doc["openapi"], "3.1.0");
    let path = committed_path();
    if std::env::var("UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &text).expect("docs/openapi.json written");
        eprintln!("UPDATE_OPENAPI=1: rewrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/openapi.json is stale (or missing): regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p usercom-mock --test api openapi` and commit it"
    );
}

/// Every documented operation reaches a route: never the router's "no route" 404 or a 405.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let m = Mock::start().await;
    let (_, doc) = served(&m).await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{} paths", paths.len());
    let key = m.key();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "1")
                .replace("{cid}", "someone")
                .replace("{key}", "not-a-key");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = m
                .http
                .request(method.clone(), format!("{}{concrete}", m.server.url()))
                .header("Authorization", format!("Token {key}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && text.contains("no route for")),
                "{method} {path} is documented but not routed: {text}"
            );
        }
    }
}

/// The `.route("…")` paths of a source file, with `prefix` added; the tests module is ignored.
fn routes_in(file: &str, prefix: &str) -> Vec<String> {
    let src = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let src = src.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = vec![];
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        if !rest[..open].trim().is_empty() {
            continue;
        }
        let lit = &rest[open + 1..];
        let close = lit.find('"').unwrap();
        out.push(format!("{prefix}{}", &lit[..close]));
        rest = &lit[close..];
    }
    out
}

/// Every route in the source is in the document (a new endpoint must be documented in
/// src/openapi.rs). The dashboard's two static assets are the only exception.
#[tokio::test]
async fn every_route_is_documented() {
    let m = Mock::start().await;
    let (_, doc) = served(&m).await;
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // In src/routes/mod.rs the API routes are nested under /api/public.
    let mut routes = routes_in("src/routes/mod.rs", "/api/public");
    routes.extend(routes_in("src/routes/admin.rs", "/__admin"));
    routes.extend(routes_in("src/dashboard/mod.rs", ""));
    routes.extend(routes_in("src/openapi.rs", ""));
    assert!(routes.len() >= 30, "route scan found only {routes:?}");
    let assets = ["/__admin/dashboard/app.js", "/__admin/dashboard/style.css"];
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| !documented.contains(r.as_str()) && !assets.contains(&r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document (add them to src/openapi.rs): {missing:?}"
    );
}
