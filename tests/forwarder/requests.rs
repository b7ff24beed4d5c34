//! The exact User.com requests each planned operation causes.

use serde_json::{json, Value};
use usercom_forwarder::{Forwarder, Summary};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, answer, bodies, requests, KEY};

fn delivered(n: u64) -> Summary {
    Summary {
        delivered: n,
        ..Summary::default()
    }
}

#[tokio::test]
async fn identify_is_one_upsert_with_the_v2_headers() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/public/users/update_or_create/"))
        .and(header("authorization", format!("Token {KEY}").as_str()))
        .and(header("accept", "*/*; version=2"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "custom_id": "user-1",
            "email": "user-1@example.com",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"created": true, "id": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![support::identify("user-1", "m1")])
        .await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    assert_eq!(
        sent,
        vec![("POST".into(), "/api/public/users/update_or_create/".into())]
    );
}

#[tokio::test]
async fn a_trailing_api_public_in_the_url_is_not_doubled() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": false, "id": 3}),
    )
    .await;
    let url = format!("{}/api/public/", server.uri());
    let forwarder = Forwarder::new(support::config(&url)).unwrap();
    let summary = forwarder.send_all(vec![support::identify("u", "m")]).await;
    assert_eq!(summary, delivered(1));
}

#[tokio::test]
async fn custom_ids_are_one_encoded_path_segment() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users-by-id/a%2Fb%20c%3Fd/events/",
        201,
        json!({"id": 1, "created": true}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![support::track("a/b c?d", "m1")])
        .await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, "/api/public/users-by-id/a%2Fb%20c%3Fd/events/");
}

#[tokio::test]
async fn track_sends_name_unix_timestamp_and_data() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users-by-id/u1/events/",
        201,
        json!({"id": 1, "created": true}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    forwarder.send_all(vec![support::track("u1", "m1")]).await;
    let body = &bodies(&server, "/api/public/users-by-id/u1/events/").await[0];
    assert_eq!(
        body,
        &json!({"name": "Order Completed", "timestamp": 1714557600, "data": {"revenue": 42}})
    );
}

#[tokio::test]
async fn track_for_an_unknown_user_creates_it_and_retries_once() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/public/users-by-id/u1/events/"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "/api/public/users-by-id/u1/events/",
        201,
        json!({"id": 1, "created": true}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 12}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder.send_all(vec![support::track("u1", "m1")]).await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    let paths: Vec<&str> = sent.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/public/users-by-id/u1/events/",
            "/api/public/users/update_or_create/",
            "/api/public/users-by-id/u1/events/",
        ]
    );
    assert_eq!(
        bodies(&server, "/api/public/users/update_or_create/").await,
        vec![json!({"custom_id": "u1"})]
    );
}

#[tokio::test]
async fn track_404_after_creating_the_user_is_dead_lettered() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users-by-id/u1/events/",
        404,
        json!({"detail": "Not found."}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 12}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder.send_all(vec![support::track("u1", "m1")]).await;
    assert_eq!(summary.dead_lettered, 1);
    let events = bodies(&server, "/api/public/users-by-id/u1/events/").await;
    assert_eq!(events.len(), 2, "exactly one retry after creating the user");
}

#[tokio::test]
async fn page_for_an_unknown_user_creates_it_then_a_known_user_costs_one_request() {
    let server = support::server().await;
    answer(
        &server,
        "GET",
        "/api/public/users-by-id/u1/",
        404,
        json!({"detail": "Not found."}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 7}),
    )
    .await;
    answer(
        &server,
        "GET",
        "/api/public/users/7/",
        200,
        json!({"id": 7, "user_key": "abcdefghijkl", "custom_id": "u1"}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/site-views/",
        201,
        json!({"id": 1}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder.send_all(vec![support::page("u1", "m1")]).await;
    assert_eq!(summary, delivered(1));
    assert_eq!(requests(&server).await.len(), 4);
    let views = bodies(&server, "/api/public/site-views/").await;
    assert_eq!(
        views[0],
        json!({
            "client_user": "abcdefghijkl",
            "page_domain": "https://shop.example.com/pricing",
            "page_path": "/pricing",
            "title": "Pricing",
            "timestamp": "2024-05-01T10:00:00Z",
        })
    );

    // Same user again: the cache knows (id, user_key), so only the site view is sent.
    let summary = forwarder.send_all(vec![support::page("u1", "m2")]).await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_eq!(sent[4], ("POST".into(), "/api/public/site-views/".into()));
}

#[tokio::test]
async fn page_for_an_existing_user_looks_it_up_by_custom_id() {
    let server = support::server().await;
    answer(
        &server,
        "GET",
        "/api/public/users-by-id/u1/",
        200,
        json!({"id": 7, "user_key": "abcdefghijkl"}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/site-views/",
        201,
        json!({"id": 1}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder.send_all(vec![support::page("u1", "m1")]).await;
    assert_eq!(summary, delivered(1));
    let paths: Vec<String> = requests(&server)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        paths,
        ["/api/public/users-by-id/u1/", "/api/public/site-views/"]
    );
}

#[tokio::test]
async fn group_creates_the_company_then_adds_the_member() {
    let server = support::server().await;
    answer(
        &server,
        "GET",
        "/api/public/companies-by-id/g1/",
        404,
        json!({"detail": "Not found."}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/companies/",
        201,
        json!({"id": 5, "custom_id": "g1"}),
    )
    .await;
    answer(
        &server,
        "PUT",
        "/api/public/companies/5/",
        200,
        json!({"id": 5}),
    )
    .await;
    answer(
        &server,
        "GET",
        "/api/public/users-by-id/u1/",
        200,
        json!({"id": 9, "user_key": "k"}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/companies/5/add_member/",
        200,
        json!({}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![support::group("u1", "g1", "m1")])
        .await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    assert_eq!(
        sent,
        vec![
            (
                "GET".to_string(),
                "/api/public/companies-by-id/g1/".to_string()
            ),
            ("POST".into(), "/api/public/companies/".into()),
            ("GET".into(), "/api/public/users-by-id/u1/".into()),
            ("POST".into(), "/api/public/companies/5/add_member/".into()),
        ]
    );
    let created = &bodies(&server, "/api/public/companies/").await[0];
    assert_eq!(created["custom_id"], "g1");
    assert_eq!(created["name"], "Acme");
    assert_eq!(
        bodies(&server, "/api/public/companies/5/add_member/").await[0],
        json!({"user_id": 9, "user_custom_id": "u1"})
    );

    // Known company and user: one update and one add_member.
    let summary = forwarder
        .send_all(vec![support::group("u1", "g1", "m2")])
        .await;
    assert_eq!(summary, delivered(1));
    let sent = requests(&server).await;
    assert_eq!(
        &sent[4..],
        &[
            ("PUT".to_string(), "/api/public/companies/5/".to_string()),
            ("POST".into(), "/api/public/companies/5/add_member/".into()),
        ]
    );
}

#[tokio::test]
async fn group_updates_an_existing_company() {
    let server = support::server().await;
    answer(
        &server,
        "GET",
        "/api/public/companies-by-id/g%2F1/",
        200,
        json!({"id": 8, "custom_id": "g/1"}),
    )
    .await;
    answer(
        &server,
        "PUT",
        "/api/public/companies/8/",
        200,
        json!({"id": 8}),
    )
    .await;
    answer(
        &server,
        "GET",
        "/api/public/users-by-id/u1/",
        200,
        json!({"id": 9, "user_key": "k"}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/companies/8/add_member/",
        200,
        json!({}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![support::group("u1", "g/1", "m1")])
        .await;
    assert_eq!(summary, delivered(1));
    let updated = &bodies(&server, "/api/public/companies/8/").await[0];
    assert_eq!(updated["custom_id"], "g/1");
    assert!(requests(&server)
        .await
        .iter()
        .all(|(m, p)| !(m == "POST" && p == "/api/public/companies/")));
}

/// A group for `u1`/`g1` where the first company lookup misses, `POST /companies/` answers
/// `create_status` with `create_body`, and every later lookup finds company 5. Checks that the
/// message is delivered once, with one create attempt, one update of company 5, one membership.
async fn group_where_the_create_fails_but_the_company_exists(
    create_status: u16,
    create_body: Value,
) {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/public/companies-by-id/g1/"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let company = json!({"id": 5});
    answer(
        &server,
        "GET",
        "/api/public/companies-by-id/g1/",
        200,
        company.clone(),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/public/companies/",
        create_status,
        create_body,
    )
    .await;
    answer(&server, "PUT", "/api/public/companies/5/", 200, company).await;
    let user = json!({"id": 9, "user_key": "k"});
    answer(&server, "GET", "/api/public/users-by-id/u1/", 200, user).await;
    answer(
        &server,
        "POST",
        "/api/public/companies/5/add_member/",
        200,
        json!({}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![support::group("u1", "g1", "m1")])
        .await;
    assert_eq!(summary, delivered(1));
    for (p, n) in [
        ("/api/public/companies/", 1),
        ("/api/public/companies/5/", 1),
        ("/api/public/companies/5/add_member/", 1),
    ] {
        assert_eq!(bodies(&server, p).await.len(), n, "{p}");
    }
}

#[tokio::test]
async fn a_lost_company_create_is_found_again_not_created_twice() {
    // The create is applied but its answer is lost (502). The retry looks up again, finds the
    // company, and updates it instead of creating a twin.
    group_where_the_create_fails_but_the_company_exists(502, json!({"detail": "bad gateway"}))
        .await;
}

#[tokio::test]
async fn a_company_created_meanwhile_by_another_forwarder_is_adopted() {
    // Another forwarder creates the company between our lookup and our POST, which User.com
    // refuses as a duplicate custom_id (400). We look it up again and update it instead of
    // dead-lettering the message.
    group_where_the_create_fails_but_the_company_exists(
        400,
        json!({"custom_id": ["company with this custom_id already exists."]}),
    )
    .await;
}

#[tokio::test]
async fn one_users_messages_keep_their_order() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": false, "id": 1}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let mut messages = Vec::new();
    for i in 0..40 {
        for user in ["a", "b", "c"] {
            let mut m = support::identify(user, &format!("{user}-{i}"));
            m["traits"]["seq"] = json!(i);
            messages.push(m);
        }
    }
    let summary = forwarder.send_all(messages).await;
    assert_eq!(summary, delivered(120));
    for user in ["a", "b", "c"] {
        let seqs: Vec<i64> = bodies(&server, "/api/public/users/update_or_create/")
            .await
            .iter()
            .filter(|b| b["custom_id"] == user)
            // `seq` is not defined in the app: defined as a string attribute, sent as text.
            .map(|b| b["seq"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(seqs, (0..40).collect::<Vec<_>>(), "order for {user}");
    }
}

#[tokio::test]
async fn duplicate_message_ids_are_applied_once() {
    let server = support::server().await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 1}),
    )
    .await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![
            support::identify("u1", "same"),
            support::identify("u1", "same"),
            support::identify("u1", "other"),
        ])
        .await;
    assert_eq!(
        summary,
        Summary {
            delivered: 2,
            duplicates: 1,
            ..Summary::default()
        }
    );
    assert_eq!(requests(&server).await.len(), 2);
    // Across calls of the same forwarder too.
    let summary = forwarder
        .send_all(vec![support::identify("u1", "same")])
        .await;
    assert_eq!(summary.duplicates, 1);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn unsupported_and_invalid_messages_send_nothing() {
    let server = support::server().await;
    let dir = support::temp_dir("unsupported");
    let dead = dir.join("dead.ndjson");
    let config = usercom_forwarder::Config {
        dead_letter: Some(dead.clone()),
        ..support::config(&server.uri())
    };
    let forwarder = Forwarder::new(config).unwrap();
    let no_id = json!({"type": "track", "event": "x", "messageId": "n"});
    let summary = forwarder
        .send_all(vec![
            json!({"type": "screen", "userId": "u", "name": "Home"}),
            json!({"type": "alias", "userId": "u", "previousId": "a"}),
            no_id.clone(),
        ])
        .await;
    assert_eq!(
        summary,
        Summary {
            skipped: 2,
            dead_lettered: 1,
            ..Summary::default()
        }
    );
    assert!(requests(&server).await.is_empty());
    let lines = support::read_ndjson(&dead);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["message"], no_id);
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("neither userId nor anonymousId"),
        "{}",
        lines[0]["reason"]
    );
    assert_eq!(lines[0]["status"], json!(null));
}

/// An upstream whose catalogue holds `seats` (integer) on page 1 and `tier` (fixed: gold,
/// silver) on page 2, reached through an absolute `next` link, as User.com pages lists.
async fn catalogued() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    let next = format!("{}/api/public/attributes/?page=2", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/public/attributes/"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": null, "previous": null,
            "results": [{"id": 2, "name": "Tier", "name_std": "tier", "value_type": "fixed",
                         "content_type": "clientuser", "choices": ["gold", "silver"],
                         "allow_multiple_choices": false}]})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/public/attributes/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": next, "previous": null,
            "results": [{"id": 1, "name": "Seats", "name_std": "seats", "value_type": "integer",
                         "content_type": "clientuser"}]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/public/attributes/"))
        .respond_with(|request: &wiremock::Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            ResponseTemplate::new(201).set_body_json(json!({
                "id": 3, "name": body["name"], "name_std": body["name"],
                "value_type": body["value_type"], "content_type": body["content_type"]}))
        })
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "/api/public/users/update_or_create/",
        200,
        json!({"created": true, "id": 1}),
    )
    .await;
    server
}

fn identify_with(traits: Value) -> Value {
    json!({"type": "identify", "userId": "u1", "traits": traits})
}

#[tokio::test]
async fn custom_traits_are_defined_when_missing_and_converted_when_defined() {
    let server = catalogued().await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let summary = forwarder
        .send_all(vec![
            identify_with(json!({"seats": " 12 ", "tier": "gold", "vip": true, "Plan Name": 5})),
            identify_with(json!({"vip": false})),
        ])
        .await;
    assert_eq!(summary, delivered(2));
    // Both pages read once; `vip` and `plan_name` defined once each, as strings, for users.
    let calls: Vec<(String, String)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/public/attributes/")
        .map(|r| {
            (
                r.method.to_string(),
                r.url.query().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("GET".to_string(), String::new()),
            ("GET".to_string(), "page=2".to_string()),
            ("POST".to_string(), String::new()),
            ("POST".to_string(), String::new()),
        ]
    );
    let defined = bodies(&server, "/api/public/attributes/").await;
    let posted: Vec<&Value> = defined.iter().filter(|b| !b.is_null()).collect();
    assert_eq!(
        posted,
        [
            &json!({"name": "vip", "value_type": "string", "content_type": "clientuser"}),
            &json!({"name": "plan_name", "value_type": "string", "content_type": "clientuser"}),
        ]
    );
    let upserts = bodies(&server, "/api/public/users/update_or_create/").await;
    assert_eq!(
        upserts[0],
        json!({"seats": 12, "tier": "gold", "vip": "true", "plan_name": "5", "custom_id": "u1"})
    );
    assert_eq!(upserts[1], json!({"vip": "false", "custom_id": "u1"}));
}

#[tokio::test]
async fn a_value_its_attribute_cannot_take_is_dropped_and_counted() {
    let server = catalogued().await;
    let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
    let long = "x".repeat(33);
    let summary = forwarder
        .send_all(vec![identify_with(
            json!({"email": "a@b.c", "seats": "many", "tier": "bronze", long.as_str(): 1,
                   "absent": null}),
        )])
        .await;
    assert_eq!(summary.delivered, 1, "{summary}");
    assert_eq!(forwarder.stats().dropped_fields, 3);
    assert_eq!(
        bodies(&server, "/api/public/users/update_or_create/").await,
        [json!({"email": "a@b.c", "custom_id": "u1"})]
    );
    // A name longer than User.com allows is not even tried; `null` creates nothing.
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/public/attributes/" && r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 0);
}

#[tokio::test]
async fn a_400_naming_a_field_is_sent_again_without_it() {
    for refusal in [
        json!({"tier": ["Select a valid choice."]}),
        json!({"detail": "tier: not a choice", "field": "tier", "errors": {"tier": ["not a choice"]}}),
    ] {
        let server = catalogued().await;
        Mock::given(method("POST"))
            .and(path("/api/public/users/update_or_create/"))
            .respond_with(ResponseTemplate::new(400).set_body_json(refusal.clone()))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        let forwarder = Forwarder::new(support::config(&server.uri())).unwrap();
        let summary = forwarder
            .send_all(vec![identify_with(
                json!({"email": "a@b.c", "tier": "gold"}),
            )])
            .await;
        assert_eq!(summary.delivered, 1, "{refusal}: {summary}");
        assert_eq!(forwarder.stats().dropped_fields, 1, "{refusal}");
        assert_eq!(
            bodies(&server, "/api/public/users/update_or_create/").await,
            [
                json!({"email": "a@b.c", "tier": "gold", "custom_id": "u1"}),
                json!({"email": "a@b.c", "custom_id": "u1"})
            ],
            "{refusal}"
        );
    }
}
