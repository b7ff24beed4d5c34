//! Plausible wrong forwarders, each failing the cases written against its mistake.
//!
//! A wrong forwarder here is our own forwarder (its real ingress) with one mistake injected by a
//! proxy that sits on both of its sides: Segment batches pass through it on the way in (a
//! mistake in reading the message: ignoring `integrations`, taking `sentAt` as the event time,
//! rejecting a whole message for one bad trait), and User.com requests on the way out (a mistake
//! in the mapping or delivery: first name into `last_name`, phone not mapped, milliseconds,
//! retrying a 403, no `Accept` header, ...). The harness runs in external mode against the proxy
//! and must fail exactly the cases aimed at that mistake, naming expected vs found.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Map, Value};

/// One mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mistake {
    /// Writes the first name into `last_name`.
    FirstNameIntoLastName,
    /// Does not map a company's `phone` (it lands as the custom attribute `phone`).
    PhoneNotMapped,
    /// Sends event times in milliseconds.
    EventTimeMillis,
    /// Sends no event time (User.com stamps the delivery time).
    EventTimeNow,
    /// Takes the event time from `sentAt`.
    EventTimeSentAt,
    /// Retries a 403 twice.
    Retries403,
    /// Defines an Engage audience trait (a boolean) as a boolean attribute.
    AudienceAsBoolean,
    /// Records the site view without its URL.
    SiteViewWithoutUrl,
    /// Has no `male`/`m` arm: every man is "unknown".
    NoMaleArm,
    /// Does not take a company address object apart (city, region, country, postal code).
    NoCompanyAddressSplit,
    /// Rejects a whole message when one trait is invalid (employees not a number).
    SinksOnOneBadTrait,
    /// Sends no `Accept: */*; version=2`.
    NoVersionHeader,
    /// Ignores `integrations` opt-outs.
    IgnoresIntegrations,
    /// Has no null guard in the name preference: a `null` camelCase name hides the snake_case one.
    NullCamelNameWins,
}

#[derive(Clone)]
struct Proxy {
    mistake: Mistake,
    usercom: String,
    ingress: String,
    http: reqwest::Client,
}

/// Starts our forwarder's ingress behind a proxy injecting `mistake`; returns the URL a Segment
/// client posts to (the proxy) and a guard that stops both.
pub async fn start(mistake: Mistake, usercom_origin: String, key: &str) -> (String, Guard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = usercom_forwarder::Config::new(proxy_url.clone(), key);
    config.retry_window = Duration::from_secs(3);
    config.backoff_base = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(100);
    let ingress =
        usercom_forwarder::ingress::Ingress::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("ingress starts");
    let state = Proxy {
        mistake,
        usercom: usercom_origin,
        ingress: ingress.url(),
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route("/v1/batch", post(segment_batch))
        .route("/stats", get(stats))
        .route("/api/public/{*rest}", any(usercom))
        .with_state(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (proxy_url, Guard { task, ingress })
}

/// Stops the proxy and the ingress.
pub struct Guard {
    task: tokio::task::JoinHandle<()>,
    ingress: usercom_forwarder::ingress::IngressHandle,
}

impl Guard {
    pub async fn stop(self) {
        self.task.abort();
        self.ingress.shutdown().await;
    }
}

async fn stats(State(p): State<Proxy>) -> Response {
    match p.http.get(format!("{}/stats", p.ingress)).send().await {
        Ok(r) => (
            StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            [("content-type", "application/json")],
            r.bytes().await.unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// The Segment side: reads the batch wrongly, then hands it to the real ingress.
async fn segment_batch(State(p): State<Proxy>, body: Bytes) -> Response {
    let mut body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let batch_sent_at = body.get("sentAt").cloned();
    if let Some(batch) = body.get_mut("batch").and_then(Value::as_array_mut) {
        match p.mistake {
            Mistake::IgnoresIntegrations => {
                for m in batch.iter_mut() {
                    if let Some(o) = m.as_object_mut() {
                        o.remove("integrations");
                    }
                }
            }
            Mistake::EventTimeSentAt => {
                for m in batch.iter_mut() {
                    let sent = m.get("sentAt").cloned().or(batch_sent_at.clone());
                    if let (Some(o), Some(sent)) = (m.as_object_mut(), sent) {
                        o.insert("timestamp".into(), sent);
                    }
                }
            }
            Mistake::SinksOnOneBadTrait => batch.retain(|m| {
                m["traits"]["employees"]
                    .as_str()
                    .is_none_or(|s| s.trim().parse::<f64>().is_ok())
            }),
            Mistake::NullCamelNameWins => {
                for m in batch.iter_mut() {
                    if let Some(t) = m.get_mut("traits").and_then(Value::as_object_mut) {
                        for (camel, snake) in
                            [("firstName", "first_name"), ("lastName", "last_name")]
                        {
                            if t.get(camel).is_some_and(Value::is_null) {
                                t.insert(snake.into(), Value::Null);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match p
        .http
        .post(format!("{}/v1/batch", p.ingress))
        .json(&body)
        .send()
        .await
    {
        Ok(r) => (
            StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            r.bytes().await.unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// The User.com side: sends the request wrongly.
async fn usercom(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_default();
    let mut json: Option<Value> = serde_json::from_slice(&body).ok();
    if p.mistake == Mistake::AudienceAsBoolean
        && method == Method::POST
        && path.starts_with("/api/public/attributes/")
    {
        // This forwarder decides an attribute's type from the value it sees next (below), so the
        // definition our forwarder asks for (string) is answered here and never made.
        let mut answer = json.unwrap_or(Value::Null);
        answer["id"] = json!(0);
        answer["name_std"] = answer["name"].clone();
        return (StatusCode::CREATED, axum::Json(answer)).into_response();
    }
    if let Some(Value::Object(b)) = json.as_mut() {
        rewrite(p.mistake, &method, &path, b);
        if p.mistake == Mistake::AudienceAsBoolean && path.contains("/users/update_or_create/") {
            // A boolean trait arrives stringified ("true"): this forwarder sends it as a boolean
            // and defines its attribute as boolean.
            for value in b.values_mut() {
                if let Some(flag) = value.as_str().and_then(|s| s.parse::<bool>().ok()) {
                    *value = Value::Bool(flag);
                }
            }
            define_booleans(&p, &headers, b).await;
        }
    }
    let body = match &json {
        Some(v) => Bytes::from(serde_json::to_vec(v).expect("json")),
        None => body,
    };
    let send = || async {
        let mut req = p
            .http
            .request(method.clone(), format!("{}{path}", p.usercom))
            .body(body.clone());
        for name in ["authorization", "accept", "content-type"] {
            if name == "accept" && p.mistake == Mistake::NoVersionHeader {
                continue;
            }
            if let Some(v) = headers.get(name) {
                req = req.header(name, v.as_bytes());
            }
        }
        req.send().await
    };
    let mut resp = send().await;
    if p.mistake == Mistake::Retries403 {
        for _ in 0..2 {
            if resp.as_ref().is_ok_and(|r| r.status().as_u16() == 403) {
                resp = send().await;
            }
        }
    }
    match resp {
        Ok(r) => (
            StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            [("content-type", "application/json")],
            r.bytes().await.unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn rewrite(mistake: Mistake, method: &Method, path: &str, b: &mut Map<String, Value>) {
    let company = path.contains("/companies/") && !path.contains("member");
    match mistake {
        Mistake::FirstNameIntoLastName if path.contains("/users/") => {
            if let Some(first) = b.remove("first_name") {
                b.insert("last_name".into(), first);
            }
        }
        Mistake::PhoneNotMapped if company => {
            if let Some(Value::Array(mut phones)) = b.remove("phone_numbers") {
                if let Some(first) = phones.pop() {
                    b.insert("phone".into(), first);
                }
            }
        }
        Mistake::EventTimeMillis if path.contains("/events/") && *method == Method::POST => {
            if let Some(t) = b.get("timestamp").and_then(Value::as_i64) {
                b.insert("timestamp".into(), json!(t * 1000));
            }
        }
        Mistake::EventTimeNow if path.contains("/events/") && *method == Method::POST => {
            b.remove("timestamp");
        }
        Mistake::SiteViewWithoutUrl if path.contains("/site-views/") => {
            b.remove("page_domain");
        }
        Mistake::NoMaleArm if path.contains("/users/") && b.get("gender") == Some(&json!(2)) => {
            b.insert("gender".into(), json!(1));
        }
        Mistake::NoCompanyAddressSplit if company => {
            for k in ["city", "region", "country", "postal_code"] {
                b.remove(k);
            }
        }
        _ => {}
    }
}

/// Defines every boolean custom value of a user upsert as a boolean attribute first.
async fn define_booleans(p: &Proxy, headers: &HeaderMap, b: &Map<String, Value>) {
    for (k, v) in b {
        if v.is_boolean() {
            let mut req = p
                .http
                .post(format!("{}/api/public/attributes/", p.usercom))
                .json(&json!({"name": k, "value_type": "boolean", "content_type": "clientuser"}));
            for name in ["authorization", "accept"] {
                if let Some(h) = headers.get(name) {
                    req = req.header(name, h.as_bytes());
                }
            }
            let _ = req.send().await;
        }
    }
}

/// Each mistake and the cases that must fail on it (each aimed at that mistake).
pub fn table() -> Vec<(Mistake, &'static [&'static str])> {
    use Mistake::*;
    vec![
        (
            FirstNameIntoLastName,
            &["identify_trait_first_name", "identify_camel_case_names"],
        ),
        (
            PhoneNotMapped,
            &[
                "group_trait_phone",
                "group_trait_phone_not_a_custom_attribute",
            ],
        ),
        (
            EventTimeMillis,
            &[
                "track_records_occurrence",
                "track_time_is_the_message_timestamp",
            ],
        ),
        (
            EventTimeNow,
            &[
                "track_records_occurrence",
                "track_time_is_the_message_timestamp",
            ],
        ),
        (EventTimeSentAt, &["track_time_is_the_message_timestamp"]),
        (
            Retries403,
            &["revoked_key_403_reported", "untrusted_domain_403_reported"],
        ),
        (
            AudienceAsBoolean,
            &[
                "engage_audience_lands_as_attribute",
                "engage_audience_true_then_false",
            ],
        ),
        (
            SiteViewWithoutUrl,
            &["page_records_site_view", "page_title_falls_back_to_name"],
        ),
        (
            NoMaleArm,
            &[
                "identify_gender_male",
                "identify_gender_m",
                "identify_gender_upper_case_male",
            ],
        ),
        (
            NoCompanyAddressSplit,
            &[
                "group_address_split_city",
                "group_address_split_region",
                "group_address_split_country",
                "group_address_split_postal_code",
            ],
        ),
        (
            SinksOnOneBadTrait,
            &["group_employees_invalid_rest_applied"],
        ),
        (
            NoVersionHeader,
            &["every_request_carries_token_and_version_headers"],
        ),
        (IgnoresIntegrations, &["integrations_opt_out_skipped"]),
        (
            NullCamelNameWins,
            &["identify_null_camel_name_falls_back_to_snake"],
        ),
    ]
}
