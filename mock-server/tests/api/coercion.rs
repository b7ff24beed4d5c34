//! Every row of the conversion table, for user, company and event attributes.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{expect, Mock};

/// (value_type, input, Some(stored) | None = dropped)
fn rows() -> Vec<(&'static str, Value, Option<Value>)> {
    vec![
        ("integer", json!(5), Some(json!(5))),
        ("integer", json!(5.0), Some(json!(5))),
        ("integer", json!(" 123 "), Some(json!(123))),
        ("integer", json!("abc"), None),
        ("integer", json!(1.5), None),
        ("integer", json!(true), None),
        ("float", json!(2), Some(json!(2.0))),
        ("float", json!(2.5), Some(json!(2.5))),
        ("float", json!("2.5"), Some(json!(2.5))),
        ("float", json!(true), None),
        ("float", json!("x"), None),
        ("boolean", json!(true), Some(json!(true))),
        ("boolean", json!(false), Some(json!(false))),
        ("boolean", json!("TRUE"), Some(json!(true))),
        ("boolean", json!("False"), Some(json!(false))),
        ("boolean", json!("1"), Some(json!(true))),
        ("boolean", json!("0"), Some(json!(false))),
        ("boolean", json!(1), Some(json!(true))),
        ("boolean", json!(0), Some(json!(false))),
        ("boolean", json!("yes"), None),
        ("boolean", json!(2), None),
        ("date", json!("2024-05-01"), Some(json!("2024-05-01"))),
        (
            "date",
            json!("2024-05-01T23:30:00-05:00"),
            Some(json!("2024-05-01")),
        ),
        ("date", json!(86400), Some(json!("1970-01-02"))),
        ("date", json!("May 1st"), None),
        ("date", json!(true), None),
        (
            "datetime",
            json!("2024-05-01T10:00:00+02:00"),
            Some(json!("2024-05-01T08:00:00Z")),
        ),
        (
            "datetime",
            json!("2024-05-01T10:00:00Z"),
            Some(json!("2024-05-01T10:00:00Z")),
        ),
        (
            "datetime",
            json!("2024-05-01T10:00:00"),
            Some(json!("2024-05-01T10:00:00Z")),
        ),
        (
            "datetime",
            json!("2024-05-01"),
            Some(json!("2024-05-01T00:00:00Z")),
        ),
        ("datetime", json!(0), Some(json!("1970-01-01T00:00:00Z"))),
        ("datetime", json!("soon"), None),
        ("fixed", json!("pro"), Some(json!("pro"))),
        ("fixed", json!("gold"), None),
        ("string", json!(999), Some(json!("999"))),
        ("string", json!("x"), Some(json!("x"))),
        ("string", json!({"a": 1}), Some(json!("{\"a\":1}"))),
        ("json", json!({"a": [1, 2]}), Some(json!({"a": [1, 2]}))),
        ("json", json!("text"), Some(json!("text"))),
    ]
}

async fn define(m: &Mock, name: &str, vt: &str, ct: &str) {
    let mut body = json!({"name": name, "value_type": vt, "content_type": ct});
    if vt == "fixed" {
        body["choices"] = json!(["free", "pro"]);
    }
    expect(&m.post("/attributes/", body).await, 201);
}

const TYPES: [&str; 8] = [
    "integer", "float", "boolean", "date", "datetime", "fixed", "string", "json",
];

#[tokio::test]
async fn user_attributes_follow_the_table() {
    let m = Mock::start().await;
    for t in TYPES {
        define(&m, &format!("U {t}"), t, "clientuser").await;
    }
    m.user("c").await;
    for (i, (t, input, expected)) in rows().into_iter().enumerate() {
        let attr = format!("u_{t}");
        // Clear first so a dropped value is visible as "absent".
        expect(
            &m.put("/users-by-id/c/", json!({attr.clone(): null})).await,
            200,
        );
        let marker = format!("row-{i}");
        let r = m
            .put(
                "/users-by-id/c/",
                json!({attr.clone(): input.clone(), "city": marker}),
            )
            .await;
        expect(&r, 200);
        assert_eq!(
            r.body["city"], marker,
            "the rest of the request applies (row {i})"
        );
        match expected {
            Some(v) => assert_eq!(r.body[&attr], v, "{t} {input}"),
            None => {
                assert!(
                    r.body.get(&attr).is_none(),
                    "{t} {input} should be dropped, got {}",
                    r.body[&attr]
                );
                let notes = m.last_notes().await;
                assert!(
                    notes
                        .iter()
                        .any(|n| n.contains(&format!("dropped clientuser attribute `{attr}`"))),
                    "{t} {input}: {notes:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_attributes_become_strings() {
    let m = Mock::start().await;
    m.user("s").await;
    let r = m
        .put(
            "/users-by-id/s/",
            json!({"n_int": 999, "n_bool": true, "n_float": 1.5, "n_obj": {"a": [1]}, "n_arr": [1, "x"], "n_null": null, "N Spaced": "v"}),
        )
        .await;
    expect(&r, 200);
    assert_eq!(r.body["n_int"], "999");
    assert_eq!(r.body["n_bool"], "true");
    assert_eq!(r.body["n_float"], "1.5");
    assert_eq!(r.body["n_obj"], "{\"a\":[1]}");
    assert_eq!(r.body["n_arr"], "[1,\"x\"]");
    assert_eq!(r.body["n_spaced"], "v", "keys are matched by name_std");
    assert!(r.body.get("n_null").is_none());
    let attrs = m.get("/attributes/?content_type=clientuser").await;
    let defs = attrs.body["results"].as_array().unwrap();
    assert!(defs.iter().all(|d| d["value_type"] == "string"));
    let names: Vec<&str> = defs
        .iter()
        .map(|d| d["name_std"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"n_int") && !names.contains(&"n_null"),
        "{names:?}"
    );
    // The destination doc's example: custom_integer defined as number, custom_integer_new unknown.
    define(&m, "custom_integer", "integer", "clientuser").await;
    let r = m
        .put(
            "/users-by-id/s/",
            json!({"custom_integer": "123", "custom_integer_new": 999}),
        )
        .await;
    assert_eq!(r.body["custom_integer"], 123);
    assert_eq!(r.body["custom_integer_new"], "999");
}

#[tokio::test]
async fn company_attributes_follow_the_table() {
    let m = Mock::start().await;
    for t in TYPES {
        define(&m, &format!("C {t}"), t, "company").await;
    }
    expect(
        &m.post("/companies/", json!({"custom_id": "co", "name": "Co"}))
            .await,
        201,
    );
    for (t, input, expected) in rows() {
        let attr = format!("c_{t}");
        m.put("/companies-by-id/co/", json!({attr.clone(): null}))
            .await;
        let r = m
            .put("/companies-by-id/co/", json!({attr.clone(): input.clone()}))
            .await;
        expect(&r, 200);
        match expected {
            Some(v) => assert_eq!(r.body[&attr], v, "{t} {input}"),
            None => assert!(r.body.get(&attr).is_none(), "{t} {input}"),
        }
    }
    let r = m
        .put("/companies-by-id/co/", json!({"unknown_co": 42}))
        .await;
    assert_eq!(r.body["unknown_co"], "42");
}

#[tokio::test]
async fn event_data_follows_the_table() {
    let m = Mock::start().await;
    for t in TYPES {
        define(&m, &format!("E {t}"), t, "event").await;
    }
    m.user("ev").await;
    for (t, input, expected) in rows() {
        let attr = format!("e_{t}");
        let r = m
            .post(
                "/users-by-id/ev/events/",
                json!({"name": "typed", "data": {attr.clone(): input.clone(), "other": 7}}),
            )
            .await;
        expect(&r, 201);
        let id = r.body["id"].as_u64().unwrap();
        let list = m.get("/users-by-id/ev/events/?page=1").await;
        let mut last = None;
        let mut page = list.body;
        loop {
            for e in page["results"].as_array().unwrap() {
                if e["id"] == id {
                    last = Some(e.clone());
                }
            }
            match page["next"].as_str() {
                Some(next) => {
                    let q = next.split("/api/public").nth(1).unwrap().to_owned();
                    page = m.get(&q).await.body;
                }
                None => break,
            }
        }
        let e = last.expect("event listed");
        assert_eq!(e["data"]["other"], "7", "unknown event attribute → string");
        match expected {
            Some(v) => assert_eq!(e["data"][&attr], v, "{t} {input}"),
            None => assert!(e["data"].get(&attr).is_none(), "{t} {input}"),
        }
    }
    let defs = m.get("/attributes/?content_type=event").await.body;
    assert!(defs["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name_std"] == "other" && d["value_type"] == "string"));
    let _ = Method::GET;
}
