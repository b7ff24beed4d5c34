//! The dashboard at `/`: HTML content over real HTTP, live-update fragment, no secrets, and the
//! real-browser test (tests/browser/dashboard.mjs in Debian's chromium, USERCOM_BROWSER_TESTS=1).

use reqwest::Method;
use serde_json::json;

use crate::support::{expect, Mock};

/// A user with custom attributes (one dropped), two page views, an event with data, a company.
async fn seed(m: &Mock) {
    let r = m
        .post(
            "/attributes/",
            json!({"name": "Seats", "value_type": "integer", "content_type": "clientuser"}),
        )
        .await;
    expect(&r, 201);
    let r = m
        .post(
            "/attributes/",
            json!({"name": "revenue", "value_type": "float", "content_type": "event"}),
        )
        .await;
    expect(&r, 201);
    let r = m
        .post(
            "/users/update_or_create/",
            json!({"custom_id": "user-42", "email": "ada@example.com", "first_name": "Ada",
                   "last_name": "Lovelace", "plan": "pro", "seats": "not a number"}),
        )
        .await;
    expect(&r, 201);
    let user = m.get("/users-by-id/user-42/").await.body;
    for path in ["/", "/pricing"] {
        let r = m
            .post(
                "/site-views/",
                json!({"client_user": user["user_key"], "page_domain": "https://shop.example.com",
                       "page_path": path}),
            )
            .await;
        expect(&r, 201);
    }
    let r = m
        .post(
            "/users-by-id/user-42/events/",
            json!({"name": "Order Completed", "data": {"revenue": "99.5", "currency": "EUR"}}),
        )
        .await;
    expect(&r, 201);
    let r = m
        .post(
            "/companies/",
            json!({"custom_id": "company-7", "name": "Acme", "size": 40}),
        )
        .await;
    expect(&r, 201);
    let r = m
        .post(
            &format!("/companies/{}/add_member/", r.body["id"]),
            json!({"user_custom_id": "user-42"}),
        )
        .await;
    expect(&r, 200);
}

/// GET a dashboard URL (path relative to the server root) → (status, content type, body).
async fn page(m: &Mock, path: &str) -> (u16, String, String) {
    let r = m
        .http
        .get(format!("{}{path}", m.server.url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test]
async fn overview_shows_users_counts_attributes_companies_events_and_the_journal() {
    let m = Mock::start().await;
    seed(&m).await;
    let (status, ct, html) = page(&m, "/").await;
    assert_eq!(status, 200, "{html}");
    assert!(ct.starts_with("text/html"), "{ct}");
    for needle in [
        r#"<tr data-user="user-42">"#,
        "ada@example.com",
        "Ada Lovelace",
        r#"<td class="num" data-field="page_views">2</td>"#,
        // custom attribute with its type (auto-created string)
        r#"<code>plan</code>: pro <span class="type">string</span>"#,
        r#"<tr data-event="Order Completed">"#,
        "revenue (float)",
        "currency (string)",
        r#"<tr data-company="company-7">"#,
        ">Acme</a>",
        // the dropped attribute is a highlighted journal note
        r#"<mark class="note">"#,
        "seats",
        r#"<th scope="col">"#,
        r#"role="search""#,
        r#"aria-live="polite""#,
        "/__admin/dashboard/app.js",
    ] {
        assert!(html.contains(needle), "missing {needle:?} in the page");
    }
    // Journal newest first: the company membership comes before the user creation.
    let add = html.find("add_member").expect("journal lists add_member");
    let create = html
        .find("/users/update_or_create/")
        .expect("journal lists the upsert");
    assert!(add < create, "journal is newest first");
    assert!(
        !html.contains(&m.key()),
        "the page must not contain the API key"
    );
}

#[tokio::test]
async fn search_and_click_through_user_events_company() {
    let m = Mock::start().await;
    seed(&m).await;
    m.user("someone-else").await;
    let (_, _, html) = page(&m, "/?q=ADA%40example").await;
    assert!(html.contains(r#"data-user="user-42""#));
    assert!(
        !html.contains(r#"data-user="someone-else""#),
        "search filters"
    );
    assert!(html.contains("1 user matching"));

    let uid = m.get("/users-by-id/user-42/").await.body["id"].clone();
    let (status, _, html) = page(&m, &format!("/?app=default&user={uid}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<h2 id="user-h">User user-42</h2>"#),
        "{html}"
    );
    assert!(html.contains(r#"<tr data-event="Order Completed">"#));
    assert!(html.contains("/pricing"), "site views listed");
    let cid = m
        .api(Method::GET, "/companies-by-id/company-7/", None)
        .await
        .body["id"]
        .clone();
    let company_link = format!("/?app=default&amp;company={cid}");
    assert!(
        html.contains(&company_link),
        "user page links to the company"
    );

    let (_, _, html) = page(&m, &format!("/?company={cid}")).await;
    assert!(
        html.contains(r#"<h2 id="company-h">Company Acme</h2>"#),
        "{html}"
    );
    assert!(
        html.contains(&format!("/?app=default&amp;user={uid}")),
        "members link back"
    );

    let (_, _, html) = page(&m, "/?event=Order%20Completed").await;
    assert!(html.contains("Event <q>Order Completed</q>"));
    assert!(html.contains("user-42"));
}

#[tokio::test]
async fn fragment_updates_with_etags_and_the_page_is_not_journaled() {
    let m = Mock::start().await;
    seed(&m).await;
    let journal_before = m.journal().await.len();
    let url = format!("{}/__admin/dashboard/fragment?app=default", m.server.url());
    let r = m.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"data-field="page_views">2<"#));
    assert!(!body.contains("<html"), "a fragment, not a page");

    let r = m
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "unchanged content answers 304");

    let key = m.get("/users-by-id/user-42/").await.body["user_key"].clone();
    let r = m.post("/site-views/", json!({"client_user": key})).await;
    expect(&r, 201);
    let r = m
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "new data, new content");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(r#"data-field="page_views">3<"#));

    page(&m, "/").await;
    // Only the two API calls above were journaled, not the page or the fragment polls.
    assert_eq!(m.journal().await.len(), journal_before + 2);
}

#[tokio::test]
async fn user_data_is_escaped_and_bad_queries_are_clear_errors() {
    let m = Mock::start().await;
    let r = m
        .post(
            "/users/",
            json!({"custom_id": "<script>alert(1)</script>", "note": "\"><img src=x>"}),
        )
        .await;
    expect(&r, 201);
    let (_, _, html) = page(&m, "/").await;
    assert!(
        !html.contains("<script>alert(1)"),
        "custom_id must be escaped"
    );
    assert!(
        !html.contains("<img src=x>"),
        "attribute values must be escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let (status, ct, body) = page(&m, "/?user=abc").await;
    assert_eq!(status, 400);
    assert!(ct.starts_with("application/json"));
    assert!(body.contains("user: `abc` is not a numeric id"), "{body}");
    let (status, _, body) = page(&m, "/?app=nope").await;
    assert_eq!(status, 404);
    assert!(body.contains("no app named `nope`"), "{body}");
    let (status, _, html) = page(&m, "/?user=999").await;
    assert_eq!(status, 200);
    assert!(html.contains("No user with id 999"));
}

#[tokio::test]
async fn assets_are_served_without_external_urls() {
    let m = Mock::start().await;
    for (path, ct) in [
        ("/__admin/dashboard/app.js", "text/javascript"),
        ("/__admin/dashboard/style.css", "text/css"),
    ] {
        let (status, got, body) = page(&m, path).await;
        assert_eq!(status, 200);
        assert!(got.starts_with(ct), "{got}");
        assert!(
            !body.contains("https://") && !body.contains("http://"),
            "{path}"
        );
    }
    let (_, _, html) = page(&m, "/").await;
    // Only the simulator's own paths: no CDN, fonts or analytics.
    assert!(!html.contains("https://") && !html.contains("http://"));
}

#[tokio::test]
async fn with_an_admin_token_the_page_is_guarded_like_the_admin_plane() {
    let m = Mock::with(
        usercom_mock::MockServer::builder()
            .api_key("k")
            .admin_token("dash-admin-token"),
    )
    .await;
    let (status, _, body) = page(&m, "/").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("dash-admin-token"));
    let r = m
        .http
        .get(m.server.url())
        .header("Authorization", "Bearer dash-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("usercom-mock"));
}
