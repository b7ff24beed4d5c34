use futures::future::join_all;
use serde_json::json;

use crate::support::{expect, Mock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_update_or_create_makes_one_user() {
    let m = Mock::start().await;
    let calls = (0..100).map(|i| {
        m.post(
            "/users/update_or_create/",
            json!({"custom_id": "same", "score": i}),
        )
    });
    let results = join_all(calls).await;
    let created = results.iter().filter(|r| r.body["created"] == true).count();
    assert_eq!(created, 1);
    assert!(results
        .iter()
        .all(|r| r.body["id"] == 1 && (r.status == 200 || r.status == 201)));
    assert_eq!(m.get("/users/").await.body["count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_site_views_are_all_counted() {
    let m = Mock::start().await;
    let u = m.user("busy").await;
    let key = u["user_key"].as_str().unwrap().to_owned();
    let calls = (0..1000).map(|i| {
        m.post("/site-views/", json!({"client_user": key, "page_domain": "https://example.com/", "page_path": "/", "timestamp": 1_700_000_000 + i}))
    });
    for r in join_all(calls).await {
        expect(&r, 201);
    }
    let u = m.get("/users-by-id/busy/").await.body;
    assert_eq!(u["page_views"], 1000);
    assert_eq!(u["last_seen"], "2023-11-14T22:29:59.000000Z");
}
