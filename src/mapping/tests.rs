//! Mapping tests: one or more per row of the mapping table, and the real captures.

use super::*;
use serde_json::json;

const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                         (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
                         AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 \
                         Safari/604.1";

fn plan(raw: &Value) -> Plan {
    match decide(raw) {
        Decision::Deliver(plan) => plan,
        other => panic!("expected a delivery for {raw}, got {other:?}"),
    }
}

fn reject_reason(raw: &Value) -> String {
    match decide(raw) {
        Decision::Reject { reason } => reason,
        other => panic!("expected a rejection for {raw}, got {other:?}"),
    }
}

fn skip_reason(raw: &Value) -> String {
    match decide(raw) {
        Decision::Skip { reason } => reason,
        other => panic!("expected a skip for {raw}, got {other:?}"),
    }
}

/// The fields of the single `UpsertUser` of an identify.
fn user_fields(traits: Value) -> Map<String, Value> {
    identify(json!({"type": "identify", "userId": "u1", "traits": traits}))
}

fn identify(raw: Value) -> Map<String, Value> {
    let p = plan(&raw);
    assert_eq!(p.call, "identify");
    match <[Op; 1]>::try_from(p.ops) {
        Ok([Op::UpsertUser { custom_id, fields }]) => {
            assert_eq!(custom_id, p.custom_id);
            fields
        }
        other => panic!("expected one UpsertUser, got {other:?}"),
    }
}

fn company_fields(traits: Value) -> Map<String, Value> {
    let p = plan(&json!({"type": "group", "userId": "u1", "groupId": "g1", "traits": traits}));
    match p.ops.into_iter().next() {
        Some(Op::UpsertCompany { fields, .. }) => fields,
        other => panic!("expected UpsertCompany first, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity

#[test]
fn custom_id_is_user_id_else_anonymous_id() {
    let p = plan(&json!({"type": "identify", "userId": "u1", "anonymousId": "a1"}));
    assert_eq!(p.custom_id, "u1");
    let p = plan(&json!({"type": "identify", "userId": null, "anonymousId": "a1"}));
    assert_eq!(p.custom_id, "a1");
    let p = plan(&json!({"type": "identify", "userId": "", "anonymousId": "a1"}));
    assert_eq!(p.custom_id, "a1");
    let p = plan(&json!({"type": "track", "event": "E", "anonymousId": 99}));
    assert_eq!(p.custom_id, "99");
}

#[test]
fn numbers_as_ids() {
    let p = plan(&json!({"type": "identify", "userId": 12345, "messageId": 7}));
    assert_eq!(p.custom_id, "12345");
    assert_eq!(
        crate::segment::message_id(&json!({"messageId": 7})).as_deref(),
        Some("7")
    );
    let p = plan(&json!({"type": "group", "userId": 1, "groupId": 2}));
    assert_eq!(
        p.ops[0],
        Op::UpsertCompany {
            group_id: "2".into(),
            fields: Map::new()
        }
    );
}

#[test]
fn neither_id_is_rejected_for_every_delivered_type() {
    for t in ["identify", "track", "page", "group"] {
        let raw =
            json!({"type": t, "event": "E", "groupId": "g", "anonymousId": null, "userId": ""});
        assert_eq!(
            reject_reason(&raw),
            "message has neither userId nor anonymousId",
            "{t}"
        );
    }
}

#[test]
fn parse_errors_become_rejections_naming_the_field() {
    let reason = reject_reason(&json!({"type": "identify", "userId": true}));
    assert!(reason.contains("`userId`"), "{reason}");
    let reason = reject_reason(&json!({"userId": "u"}));
    assert!(reason.contains("`type`"), "{reason}");
    let reason = reject_reason(&json!({"type": ["identify"]}));
    assert!(reason.contains("`type`"), "{reason}");
    let reason = reject_reason(&json!({"type": "track", "event": "E", "userId": "u",
                                       "timestamp": "not a time"}));
    assert!(reason.contains("`timestamp`"), "{reason}");
    let reason = reject_reason(&json!({"type": "track", "event": "E", "userId": "u",
                                       "properties": [1, 2]}));
    assert!(reason.contains("`properties`"), "{reason}");
    let reason = reject_reason(&json!("identify"));
    assert!(reason.contains("JSON object"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// identify: traits

#[test]
fn identify_standard_traits() {
    let f = user_fields(json!({
        "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
        "phone": "+48500100200", "gender": "female"
    }));
    assert_eq!(
        Value::Object(f),
        json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
               "phone_number": "+48500100200", "gender": 3})
    );
}

#[test]
fn identify_snake_case_names() {
    let f = user_fields(json!({"first_name": "Ada", "last_name": "Lovelace"}));
    assert_eq!(f["first_name"], "Ada");
    assert_eq!(f["last_name"], "Lovelace");
    assert_eq!(f.len(), 2);
}

#[test]
fn identify_both_name_spellings_camel_case_wins_and_neither_leaks() {
    let f = user_fields(json!({"firstName": "Ada", "first_name": "Augusta",
                               "lastName": null, "last_name": "Lovelace", "name": "X Y"}));
    assert_eq!(f["first_name"], "Ada");
    // A null camelCase spelling does not hide a real snake_case value.
    assert_eq!(f["last_name"], "Lovelace");
    assert_eq!(f.len(), 2, "{f:?}");
}

#[test]
fn identify_name_alone_is_split_at_the_first_space() {
    let f = user_fields(json!({"name": "Ada King Lovelace"}));
    assert_eq!(f["first_name"], "Ada");
    assert_eq!(f["last_name"], "King Lovelace");
    assert!(!f.contains_key("name"));

    let f = user_fields(json!({"name": "Cher"}));
    assert_eq!(f["first_name"], "Cher");
    assert!(!f.contains_key("last_name"));

    // With either first or last name given, `name` is not split (User.com derives it).
    let f = user_fields(json!({"name": "Ada Lovelace", "lastName": "Byron"}));
    assert_eq!(Value::Object(f), json!({"last_name": "Byron"}));

    let f = user_fields(json!({"name": "   "}));
    assert!(f.is_empty());
    let f = user_fields(json!({"name": 42}));
    assert!(f.is_empty());
}

#[test]
fn identify_names_are_cut_to_40_characters() {
    let long = "Ł".repeat(50);
    let f = user_fields(json!({"firstName": long, "lastName": "x".repeat(41)}));
    assert_eq!(f["first_name"].as_str().unwrap().chars().count(), 40);
    assert_eq!(f["last_name"].as_str().unwrap().len(), 40);
    let f = user_fields(json!({"name": format!("{} {}", "a".repeat(45), "b".repeat(45))}));
    assert_eq!(f["first_name"].as_str().unwrap().len(), 40);
    assert_eq!(f["last_name"].as_str().unwrap().len(), 40);
}

#[test]
fn identify_phone_becomes_phone_number() {
    let f = user_fields(json!({"phone": 48500100200u64}));
    assert_eq!(f["phone_number"], "48500100200");
    assert!(!f.contains_key("phone"));
    let f = user_fields(json!({"phone": "1".repeat(70)}));
    assert_eq!(f["phone_number"].as_str().unwrap().len(), 64);
}

#[test]
fn identify_gender_variants() {
    for (g, code) in [
        (json!("male"), 2),
        (json!("M"), 2),
        (json!("Female"), 3),
        (json!("f"), 3),
        (json!("nonbinary"), 1),
        (json!(2), 2),
        (json!(3), 3),
        (json!(1), 1),
        (json!(7), 1),
    ] {
        let f = user_fields(json!({"gender": g}));
        assert_eq!(f["gender"], code, "{g}");
    }
    // null: nothing to convert, left out.
    let f = user_fields(json!({"gender": null}));
    assert!(f.is_empty());
}

#[test]
fn identify_address_object() {
    let f = user_fields(json!({"address": {
        "street": "ul. Prosta 1", "city": "Warszawa", "state": "mazowieckie",
        "postalCode": "00-001", "country": "Poland"
    }}));
    assert_eq!(
        Value::Object(f),
        json!({"country": "Poland", "region": "mazowieckie", "city": "Warszawa"})
    );
    // `region` accepted when `state` is absent; partial addresses map what they have.
    let f = user_fields(json!({"address": {"region": "Bavaria"}}));
    assert_eq!(Value::Object(f), json!({"region": "Bavaria"}));
    let f = user_fields(json!({"address": {"state": "CA", "region": "ignored"}}));
    assert_eq!(f["region"], "CA");
    let f = user_fields(json!({"address": {}}));
    assert!(f.is_empty());
}

#[test]
fn identify_address_string_is_a_custom_attribute() {
    let f = user_fields(json!({"address": "ul. Prosta 1, Warszawa"}));
    assert_eq!(
        Value::Object(f),
        json!({"address": "ul. Prosta 1, Warszawa"})
    );
    let f = user_fields(json!({"address": ["a", "b"]}));
    assert_eq!(Value::Object(f), json!({"address": ["a", "b"]}));
}

#[test]
fn identify_empty_traits_and_missing_context() {
    let f = identify(json!({"type": "identify", "userId": "u"}));
    assert!(f.is_empty());
    let f = identify(json!({"type": "identify", "userId": "u", "traits": {}, "context": {}}));
    assert!(f.is_empty());
    let f = identify(json!({"type": "identify", "userId": "u", "traits": null, "context": null}));
    assert!(f.is_empty());
}

#[test]
fn identify_other_traits_are_custom_attributes_with_name_std_keys() {
    let f = user_fields(json!({
        "plan": "pro", "Plan Tier": "gold", "seats": 5, "ratio": 0.5, "verified": true,
        "createdAt": "2024-01-15T10:00:00Z",
        "prefs": {"newsletter": true, "topics": ["a", {"deep": [1, 2]}]},
        "list": [1, "two", null]
    }));
    assert_eq!(
        Value::Object(f),
        json!({
            "plan": "pro", "plan_tier": "gold", "seats": 5, "ratio": 0.5, "verified": true,
            "segment_created_at": "2024-01-15T10:00:00Z",
            "prefs": {"newsletter": true, "topics": ["a", {"deep": [1, 2]}]},
            "list": [1, "two", null]
        })
    );
}

#[test]
fn identify_engage_audience_booleans_are_ordinary_traits() {
    let f = user_fields(json!({"order_completed_last_30days": true, "first_time_shopper": false}));
    assert_eq!(
        Value::Object(f),
        json!({"order_completed_last_30days": true, "first_time_shopper": false})
    );
}

#[test]
fn identify_read_only_fields_are_never_written() {
    let f = user_fields(json!({
        "id": "crm-1", "user_key": "k", "page_views": 100, "Last Seen": "x", "first_seen": "y",
        "created_at": "2020-01-01", "updated_at": "z", "companies": [1], "custom_id": "evil"
    }));
    for key in user::READ_ONLY {
        assert!(!f.contains_key(key), "{key} must not be written: {f:?}");
    }
    assert_eq!(
        Value::Object(f),
        json!({
            "segment_id": "crm-1", "segment_user_key": "k", "segment_page_views": 100,
            "segment_last_seen": "x", "segment_first_seen": "y",
            "segment_created_at": "2020-01-01", "segment_updated_at": "z",
            "segment_companies": [1], "segment_custom_id": "evil"
        })
    );
}

#[test]
fn identify_traits_never_clobber_mapped_standard_fields() {
    let raw = json!({"type": "identify", "userId": "u",
        "traits": {"Email": "second@example.com", "email": "first@example.com",
                   "City": "Kraków", "address": {"city": "Warszawa"},
                   "IP Address": "10.0.0.1", "Gender": "male", "gender": "female",
                   "First Name": "Other", "firstName": "Ada"},
        "context": {"ip": "203.0.113.7"}});
    let f = identify(raw);
    assert_eq!(f["email"], "first@example.com");
    assert_eq!(f["city"], "Warszawa");
    assert_eq!(f["ip_address"], "203.0.113.7");
    assert_eq!(f["gender"], 3);
    assert_eq!(f["first_name"], "Ada");
    assert!(!f.contains_key("ip_address_"));
    assert_eq!(f.len(), 5, "{f:?}");
}

#[test]
fn identify_standard_field_spellings_fill_gaps_with_conversion() {
    let f = user_fields(json!({"Country": "PL", "Gender": "F", "Phone Number": 123,
                               "timezone": "Europe/Warsaw", "Name": "dropped"}));
    assert_eq!(
        Value::Object(f),
        json!({"country": "PL", "gender": 3, "phone_number": "123", "timezone": "Europe/Warsaw"})
    );
    // A context value is mapped and wins over the trait.
    let f = identify(json!({"type": "identify", "userId": "u",
        "traits": {"timezone": "Europe/Warsaw"}, "context": {"timezone": "Asia/Tokyo"}}));
    assert_eq!(f["timezone"], "Asia/Tokyo");
}

#[test]
fn identify_duplicate_normalised_keys_first_wins() {
    let f = user_fields(json!({"Plan": "first", "plan": "second", "PLAN": "third"}));
    assert_eq!(Value::Object(f), json!({"plan": "first"}));
    let f = user_fields(json!({"created_at": 1, "segment_created_at": 2}));
    assert_eq!(Value::Object(f), json!({"segment_created_at": 1}));
}

#[test]
fn identify_null_traits() {
    let f = user_fields(
        json!({"email": null, "firstName": null, "phone": null, "plan": null,
                               "address": {"city": null}, "gender": null}),
    );
    assert_eq!(
        Value::Object(f),
        json!({"email": null, "first_name": null, "phone_number": null, "city": null,
               "plan": null})
    );
}

#[test]
fn identify_non_scalar_standard_traits_are_dropped_and_recorded() {
    let raw = json!({"type": "identify", "userId": "u",
                     "traits": {"email": {"work": "a@b"}, "firstName": ["Ada"], "phone": {},
                                "plan": "pro"}});
    let p = plan(&raw);
    let Op::UpsertUser { fields, .. } = &p.ops[0] else {
        panic!("{p:?}")
    };
    assert_eq!(Value::Object(fields.clone()), json!({"plan": "pro"}));
    let dropped: Vec<&str> = p.dropped.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(dropped, ["email", "first_name", "phone"]);
    let f = user_fields(json!({"email": 5, "firstName": true}));
    assert_eq!(Value::Object(f), json!({"first_name": "true"}));
}

#[test]
fn an_invalid_email_is_dropped_and_the_rest_applied() {
    for bad in ["not an email", "a@", "@b.c", "a@b@c", "a b@c.d", "plain"] {
        let p = plan(&json!({"type": "identify", "userId": "u",
                             "traits": {"email": bad, "firstName": "Ada", "plan": "pro"}}));
        let Op::UpsertUser { fields, .. } = &p.ops[0] else {
            panic!("{p:?}")
        };
        assert_eq!(
            Value::Object(fields.clone()),
            json!({"first_name": "Ada", "plan": "pro"}),
            "{bad}"
        );
        assert_eq!(p.dropped.len(), 1, "{bad}");
        assert_eq!(p.dropped[0].field, "email");
        assert!(
            p.dropped[0].reason.contains("not an e-mail address"),
            "{bad}"
        );
    }
    for good in ["a@b.c", "x.y+z@sub.example.com", "", "a@b"] {
        let f = user_fields(json!({"email": good}));
        assert_eq!(f["email"], good);
    }
}

#[test]
fn typed_standard_fields_never_sink_the_call() {
    // Valid values are converted into the field...
    let f = user_fields(json!({"status": "user", "tags": "vip", "score": "42",
                               "unsubscribed": "false", "notifications": true,
                               "assigned_to": 7, "linkedin_url": "https://l.example/ada"}));
    assert_eq!(
        Value::Object(f),
        json!({"status": 2, "tags": ["vip"], "score": 42, "unsubscribed": false,
               "notifications": true, "assigned_to": 7,
               "linkedin_url": "https://l.example/ada"})
    );
    // ...anything else is kept under a name that collides with nothing.
    let f = user_fields(json!({"status": "active", "plan": "pro", "tags": {"a": 1},
                               "score": "high", "unsubscribed": "sometimes",
                               "notifications": 3, "assigned_to": "alice",
                               "company_custom_id": "c-1"}));
    assert_eq!(
        Value::Object(f),
        json!({"segment_status": "active", "plan": "pro", "segment_tags": {"a": 1},
               "segment_score": "high", "segment_unsubscribed": "sometimes",
               "segment_notifications": 3, "segment_assigned_to": "alice",
               "segment_company_custom_id": "c-1"})
    );
    // A `null` for a typed field writes nothing.
    let f = user_fields(json!({"status": null, "score": null}));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn camel_and_snake_case_of_one_name_land_in_one_attribute() {
    let f = user_fields(json!({"planName": "pro", "plan_name": "basic"}));
    assert_eq!(Value::Object(f), json!({"plan_name": "pro"}));
    let f = user_fields(json!({"createdAt": "2024-01-15", "created_at": "2024-02-01"}));
    assert_eq!(
        Value::Object(f),
        json!({"segment_created_at": "2024-01-15"})
    );
}

#[test]
fn identify_empty_trait_key_is_dropped() {
    let f = user_fields(json!({"": "x", "ok": 1}));
    assert_eq!(Value::Object(f), json!({"ok": 1}));
}

#[test]
fn identify_unicode() {
    let f = user_fields(json!({"firstName": "Zoë", "lastName": "Łukasiewicz",
                               "Ulubiony Kolor": "żółty", "日本 語": "はい"}));
    assert_eq!(
        Value::Object(f),
        json!({"first_name": "Zoë", "last_name": "Łukasiewicz", "ulubiony_kolor": "żółty",
               "日本_語": "はい"})
    );
}

#[test]
fn identify_huge_numbers_pass_through() {
    let raw: Value = serde_json::from_str(
        r#"{"type":"identify","userId":"u","traits":{"big":18446744073709551615,"bigger":1e300,"neg":-9223372036854775808}}"#,
    )
    .unwrap();
    let f = identify(raw);
    assert_eq!(f["big"], json!(18_446_744_073_709_551_615u64));
    assert_eq!(f["bigger"], json!(1e300));
    assert_eq!(f["neg"], json!(i64::MIN));
}

// ---------------------------------------------------------------------------------------------
// identify: context

#[test]
fn identify_context_fields() {
    let f = identify(json!({"type": "identify", "userId": "u", "context": {
        "userAgent": IPHONE_UA, "ip": "198.51.100.4", "locale": "en-GB",
        "timezone": "Europe/London", "device": {"name": "Ada's phone", "model": "iPhone16,2",
        "type": "ios"}, "os": {"name": "iOS", "version": "17.4"},
        "screen": {"width": 1179, "height": 2556}, "page": {"url": "https://x.example/a"}
    }}));
    assert_eq!(
        Value::Object(f),
        json!({
            "user_agent": IPHONE_UA, "os": "iOS", "device_name": "Ada's phone",
            "device_type": "ios", "language": "en-GB", "resolution": "1179x2556",
            "ip_address": "198.51.100.4", "browser_family": "Safari", "browser_version": "17.4",
            "timezone": "Europe/London", "current_url": "https://x.example/a"
        })
    );
}

#[test]
fn identify_context_parses_the_user_agent_when_fields_are_missing() {
    let f = identify(json!({"type": "identify", "userId": "u",
                            "context": {"userAgent": CHROME_UA, "device": {"model": "X1"}}}));
    assert_eq!(f["os"], "Windows 10");
    assert_eq!(f["device_type"], "pc");
    assert_eq!(f["device_name"], "X1");
    assert_eq!(f["browser_family"], "Chrome");
    assert_eq!(f["browser_version"], "124.0.0.0");
    let f = identify(json!({"type": "identify", "userId": "u",
                            "context": {"userAgent": IPHONE_UA}}));
    assert_eq!(f["device_type"], "smartphone");
    assert_eq!(f["os"], "iPhone");
}

#[test]
fn identify_context_unknown_user_agent_adds_nothing_parsed() {
    let f = identify(json!({"type": "identify", "userId": "u",
                            "context": {"userAgent": "totally-custom-agent"}}));
    assert_eq!(
        Value::Object(f),
        json!({"user_agent": "totally-custom-agent"})
    );
}

#[test]
fn identify_context_of_wrong_types_is_ignored() {
    let f = identify(json!({"type": "identify", "userId": "u", "context": {
        "userAgent": 1, "ip": ["x"], "screen": {"width": "1920", "height": 1080},
        "os": "Linux", "page": "https://x"
    }}));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn context_fields_only_come_from_identify() {
    let p = plan(&json!({"type": "track", "userId": "u", "event": "E",
                         "context": {"ip": "1.2.3.4", "userAgent": CHROME_UA}}));
    assert!(matches!(&p.ops[..], [Op::Event { data, .. }] if data.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// page

#[test]
fn page_from_properties() {
    let p = plan(&json!({"type": "page", "userId": "u", "name": "Pricing",
        "timestamp": "2026-11-29T06:51:37.515+00:00",
        "properties": {"url": "https://shop.example.com/pricing", "path": "/pricing",
                       "title": "Pricing page"},
        "context": {"page": {"url": "https://ctx/", "path": "/ctx", "title": "Ctx"}}}));
    assert_eq!(p.call, "page");
    assert_eq!(
        p.ops,
        vec![
            Op::EnsureUser {
                custom_id: "u".into()
            },
            Op::SiteView {
                custom_id: "u".into(),
                url: Some("https://shop.example.com/pricing".into()),
                path: Some("/pricing".into()),
                title: Some("Pricing page".into()),
                timestamp: Some("2026-11-29T06:51:37.515+00:00".into()),
            }
        ]
    );
}

#[test]
fn page_falls_back_to_context_then_name_then_url_path() {
    let p = plan(&json!({"type": "page", "anonymousId": "a", "name": "Docs",
        "timestamp": "2026-11-29T06:51:37+0000",
        "properties": {"url": "", "title": 5},
        "context": {"page": {"url": "https://docs.example.com/guide/intro?ref=nav#top"}}}));
    assert_eq!(
        p.ops[1],
        Op::SiteView {
            custom_id: "a".into(),
            url: Some("https://docs.example.com/guide/intro?ref=nav#top".into()),
            path: Some("/guide/intro".into()),
            title: Some("Docs".into()),
            timestamp: Some("2026-11-29T06:51:37Z".into()),
        }
    );
}

#[test]
fn page_without_url_is_skipped_with_a_reason() {
    let reason = skip_reason(
        &json!({"type": "page", "userId": "u", "properties": {}, "category": null,
                         "name": "Home"}),
    );
    assert!(reason.contains("page has no URL"), "{reason}");
}

#[test]
fn page_title_and_details() {
    let p = plan(
        &json!({"type": "page", "userId": "u", "name": "Pricing", "category": "Docs",
                         "properties": {"url": "https://x.example/p?q=1", "referrer": "https://google.com/"},
                         "context": {"page": {"title": "Doc title", "search": "?q=1", "referrer": "ignored"}}}),
    );
    assert_eq!(
        p.ops,
        [
            Op::UpsertUser {
                custom_id: "u".into(),
                fields: json!({"last_page_referrer": "https://google.com/",
                               "last_page_category": "Docs", "last_page_search": "?q=1"})
                .as_object()
                .unwrap()
                .clone(),
            },
            Op::SiteView {
                custom_id: "u".into(),
                url: Some("https://x.example/p?q=1".into()),
                path: Some("/p".into()),
                title: Some("Pricing".into()),
                timestamp: None
            }
        ]
    );
    // properties.title wins over the name; without details the user is only ensured.
    let p = plan(&json!({"type": "page", "userId": "u", "name": "Pricing",
                         "properties": {"url": "https://x.example/", "title": "T", "referrer": ""}}));
    assert_eq!(
        p.ops[0],
        Op::EnsureUser {
            custom_id: "u".into()
        }
    );
    let Op::SiteView { title, .. } = &p.ops[1] else {
        panic!()
    };
    assert_eq!(title.as_deref(), Some("T"));
}

#[test]
fn integrations_opt_out_skips_the_message() {
    for integrations in [
        json!({"All": false}),
        json!({"User.com": false}),
        json!({"All": true, "User.com": false}),
        json!({"UserEngage": false}),
    ] {
        let raw =
            json!({"type": "track", "userId": "u", "event": "E", "integrations": integrations});
        assert!(
            skip_reason(&raw).starts_with("integrations opt-out"),
            "{raw}"
        );
    }
    for integrations in [
        json!({}),
        json!({"All": true}),
        json!({"All": false, "User.com": true}),
        json!({"All": false, "User.com": {"some": "option"}}),
        json!({"Mixpanel": false}),
    ] {
        let raw =
            json!({"type": "track", "userId": "u", "event": "E", "integrations": integrations});
        assert!(matches!(decide(&raw), Decision::Deliver(_)), "{raw}");
    }
}

#[test]
fn identify_company_trait_makes_the_user_a_member() {
    let p = plan(&json!({"type": "identify", "userId": "u",
                         "traits": {"email": "a@b.c", "company": {"id": "c-1", "name": "Acme", "plan": "pro"}}}));
    assert_eq!(p.ops.len(), 4, "{p:?}");
    let Op::UpsertUser { fields, .. } = &p.ops[0] else {
        panic!()
    };
    assert_eq!(Value::Object(fields.clone()), json!({"email": "a@b.c"}));
    assert_eq!(
        p.ops[1],
        Op::UpsertCompany {
            group_id: "c-1".into(),
            fields: json!({"name": "Acme", "plan": "pro"})
                .as_object()
                .unwrap()
                .clone()
        }
    );
    assert_eq!(
        p.ops[3],
        Op::AddMember {
            group_id: "c-1".into(),
            custom_id: "u".into()
        }
    );
    // By name when there is no id; a bare string is the name.
    for company in [json!({"name": "Acme"}), json!("Acme")] {
        let p = plan(&json!({"type": "identify", "userId": "u", "traits": {"company": company}}));
        assert!(
            matches!(&p.ops[1], Op::UpsertCompany { group_id, .. } if group_id == "Acme"),
            "{p:?}"
        );
    }
    let p = plan(&json!({"type": "identify", "userId": "u", "traits": {"company": {"plan": "x"}}}));
    assert_eq!(p.ops.len(), 1);
    assert_eq!(p.dropped[0].field, "company");
}

#[test]
fn event_time_rules() {
    let time = |raw: Value| match &plan(&raw).ops[0] {
        Op::Event { timestamp, .. } => *timestamp,
        other => panic!("{other:?}"),
    };
    let base = json!({"type": "track", "userId": "u", "event": "E"});
    let with = |extra: Value| {
        let mut m = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    // timestamp wins.
    assert_eq!(
        time(with(json!({"timestamp": "2024-05-01T10:00:00Z",
                                 "originalTimestamp": "2030-01-01T00:00:00Z"}))),
        Some(1_714_557_600)
    );
    // Skew correction: the device clock is an hour fast.
    assert_eq!(
        time(with(
            json!({"originalTimestamp": "2024-05-01T11:00:00Z", "sentAt": "2024-05-01T11:00:05Z",
                         "receivedAt": "2024-05-01T10:00:05Z"})
        )),
        Some(1_714_557_600)
    );
    // originalTimestamp alone; receivedAt alone; nothing.
    assert_eq!(
        time(with(json!({"originalTimestamp": "2024-05-01T10:00:00Z"}))),
        Some(1_714_557_600)
    );
    assert_eq!(
        time(with(json!({"receivedAt": "2024-05-01T10:00:00Z"}))),
        Some(1_714_557_600)
    );
    assert_eq!(time(base.clone()), None);
    // A time after receivedAt is clamped to it.
    assert_eq!(
        time(with(
            json!({"timestamp": "2099-01-01T00:00:00Z", "receivedAt": "2024-05-01T10:00:00Z"})
        )),
        Some(1_714_557_600)
    );
    // Numbers: seconds, or milliseconds above 1e11.
    assert_eq!(
        time(with(json!({"timestamp": 1_714_557_600}))),
        Some(1_714_557_600)
    );
    assert_eq!(
        time(with(json!({"timestamp": 1_714_557_600_123u64}))),
        Some(1_714_557_600)
    );
    assert_eq!(
        time(with(json!({"timestamp": 1_714_557_600.9}))),
        Some(1_714_557_600)
    );
}

#[test]
fn page_timestamp_is_normalised_rfc3339() {
    for (ts, expected) in [
        (
            "2026-11-29T06:51:37.466+00:00",
            "2026-11-29T06:51:37.466+00:00",
        ),
        ("2026-11-29T06:51:37Z", "2026-11-29T06:51:37Z"),
        (
            "2026-11-29T06:51:37.123456789-03:00",
            "2026-11-29T06:51:37.123456789-03:00",
        ),
        ("2026-11-29T06:51:37", "2026-11-29T06:51:37Z"),
        (
            "2026-11-29 06:51:37.5+01:00",
            "2026-11-29T06:51:37.500+01:00",
        ),
    ] {
        let p = plan(&json!({"type": "page", "userId": "u", "timestamp": ts,
                             "properties": {"url": "https://x.example/"}}));
        match &p.ops[1] {
            Op::SiteView { timestamp, .. } => assert_eq!(timestamp.as_deref(), Some(expected)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn path_of_url_cases() {
    assert_eq!(path_of_url("https://h.example/a/b?q=1#f"), "/a/b");
    assert_eq!(path_of_url("https://h.example"), "/");
    assert_eq!(path_of_url("https://h.example?x=1"), "/");
    assert_eq!(path_of_url("https://h.example#/route"), "/");
    assert_eq!(path_of_url("/relative/p?x"), "/relative/p");
    assert_eq!(path_of_url("https://h.example/żółw"), "/żółw");
}

// ---------------------------------------------------------------------------------------------
// track

#[test]
fn track_event() {
    let p = plan(
        &json!({"type": "track", "userId": "u", "event": "Order Completed",
        "timestamp": "2022-09-13T20:12:44.757+05:30",
        "properties": {"order_id": "o-1", "revenue": 99.5, "products": [{"sku": "S"}]}}),
    );
    assert_eq!(
        p.ops,
        vec![Op::Event {
            custom_id: "u".into(),
            name: "Order Completed".into(),
            timestamp: Some(1_663_080_164),
            data: json!({"order_id": "o-1", "revenue": 99.5, "products": [{"sku": "S"}]})
                .as_object()
                .unwrap()
                .clone(),
        }]
    );
}

#[test]
fn track_timestamp_floors_fractions() {
    for (ts, secs) in [
        ("2026-11-29T06:51:37Z", 1_795_935_097),
        ("2026-11-29T06:51:37.999999999Z", 1_795_935_097),
        ("2026-11-29T06:51:37.5-01:00", 1_795_938_697),
    ] {
        let p = plan(&json!({"type": "track", "userId": "u", "event": "E", "timestamp": ts}));
        assert!(
            matches!(&p.ops[0], Op::Event { timestamp: Some(t), .. } if *t == secs),
            "{ts}: {:?}",
            p.ops
        );
    }
    let p = plan(&json!({"type": "track", "userId": "u", "event": "E"}));
    assert!(matches!(&p.ops[0], Op::Event { timestamp: None, data, .. } if data.is_empty()));
}

#[test]
fn track_without_a_usable_event_is_rejected() {
    assert_eq!(
        reject_reason(&json!({"type": "track", "userId": "u"})),
        "track message has no event name (`event`)"
    );
    assert_eq!(
        reject_reason(&json!({"type": "track", "userId": "u", "event": null})),
        "track message has no event name (`event`)"
    );
    assert_eq!(
        reject_reason(&json!({"type": "track", "userId": "u", "event": " "})),
        "track message has an empty event name (`event`)"
    );
    let reason = reject_reason(&json!({"type": "track", "userId": "u", "event": 42}));
    assert!(
        reason.contains("`event`") && reason.contains("a string"),
        "{reason}"
    );
}

#[test]
fn track_unicode_event_name_kept_verbatim() {
    let p = plan(&json!({"type": "track", "userId": "u", "event": "Zamówienie złożone ✓"}));
    assert!(matches!(&p.ops[0], Op::Event { name, .. } if name == "Zamówienie złożone ✓"));
}

// ---------------------------------------------------------------------------------------------
// group

#[test]
fn group_ops_in_order() {
    let p = plan(&json!({"type": "group", "userId": "u", "groupId": "g", "traits": {"name": "N"}}));
    assert_eq!(p.call, "group");
    assert_eq!(
        p.ops,
        vec![
            Op::UpsertCompany {
                group_id: "g".into(),
                fields: json!({"name": "N"}).as_object().unwrap().clone()
            },
            Op::EnsureUser {
                custom_id: "u".into()
            },
            Op::AddMember {
                group_id: "g".into(),
                custom_id: "u".into()
            },
        ]
    );
}

#[test]
fn group_without_group_id_is_rejected() {
    for gid in [json!(null), json!(""), json!("  ")] {
        let raw = json!({"type": "group", "userId": "u", "groupId": gid});
        assert_eq!(reject_reason(&raw), "group message has no groupId");
    }
    let raw = json!({"type": "group", "userId": "u"});
    assert_eq!(reject_reason(&raw), "group message has no groupId");
}

#[test]
fn group_semantic_traits() {
    let f = company_fields(json!({
        "name": "Example Sp. z o.o.", "email": "office@example.com", "phone": "+48 22 100",
        "description": "Retail chain", "employees": 120,
        "address": {"street": "ul. Prosta 1", "city": "Warszawa", "state": "mazowieckie",
                    "postalCode": "00-001", "country": "Poland"},
        "industry": "Retail", "website": "https://example.com"
    }));
    assert_eq!(
        Value::Object(f),
        json!({
            "name": "Example Sp. z o.o.", "email": "office@example.com",
            "phone_numbers": ["+48 22 100"],
            "address": "ul. Prosta 1, Warszawa, mazowieckie, 00-001, Poland",
            "city": "Warszawa", "region": "mazowieckie", "country": "Poland",
            "postal_code": "00-001", "description": "Retail chain", "size": 120,
            "industry": "Retail", "website": "https://example.com"
        })
    );
}

#[test]
fn group_address_skips_missing_parts_and_accepts_snake_case() {
    let f = company_fields(json!({"address": {"city": "Berlin", "region": "BE",
                                              "postal_code": 10115, "street": " "}}));
    assert_eq!(
        Value::Object(f),
        json!({"address": "Berlin, BE, 10115", "city": "Berlin", "region": "BE",
               "postal_code": "10115"})
    );
    let f = company_fields(json!({"address": {}}));
    assert!(f.is_empty());
    let f = company_fields(json!({"address": "1 Main St, Springfield"}));
    assert_eq!(
        Value::Object(f),
        json!({"address": "1 Main St, Springfield"})
    );
}

#[test]
fn group_employees_to_size() {
    assert_eq!(company_fields(json!({"employees": "250"}))["size"], 250);
    assert_eq!(company_fields(json!({"employees": 12.0}))["size"], 12);
    assert!(company_fields(json!({"employees": "lots"})).is_empty());
    assert!(company_fields(json!({"employees": null})).is_empty());
    assert!(company_fields(json!({"employees": -3})).is_empty());
}

#[test]
fn group_phone_list() {
    let f = company_fields(json!({"phone": ["+1 555", "+1 556"]}));
    assert_eq!(f["phone_numbers"], json!(["+1 555", "+1 556"]));
    assert!(company_fields(json!({"phone": null})).is_empty());
}

#[test]
fn group_custom_traits_follow_identify_rules() {
    let f = company_fields(json!({
        "name": "N", "Company Name": "dropped (second spelling of name)",
        "Plan Level": "enterprise", "id": "crm-7", "created_at": "2020", "custom_id": "x",
        "Employees": 5, "nested": {"a": [1]}, "flag": null, "Size": "77"
    }));
    assert_eq!(
        Value::Object(f),
        json!({
            "name": "N", "company_name": "dropped (second spelling of name)",
            "plan_level": "enterprise", "segment_id": "crm-7", "segment_created_at": "2020",
            "segment_custom_id": "x", "segment_employees": 5, "nested": {"a": [1]},
            "flag": null, "size": 77
        })
    );
}

#[test]
fn group_empty_traits() {
    assert!(company_fields(json!({})).is_empty());
    let p = plan(&json!({"type": "group", "userId": "u", "groupId": "g"}));
    assert_eq!(p.ops.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// skipped types

#[test]
fn screen_alias_and_unknown_types_are_skipped() {
    assert!(
        skip_reason(&json!({"type": "screen", "userId": "u", "name": "Dashboard"}))
            .contains("screen")
    );
    assert!(
        skip_reason(&json!({"type": "alias", "userId": "u", "previousId": "a"})).contains("alias")
    );
    assert!(skip_reason(&json!({"type": "delete", "userId": "u"})).contains("\"delete\""));
    // Skipped even without any id: never an error.
    assert!(skip_reason(&json!({"type": "screen"})).contains("screen"));
    assert!(skip_reason(&json!({"type": "Alias"})).contains("alias"));
}

// ---------------------------------------------------------------------------------------------
// name_std

#[test]
fn name_std_rules() {
    assert_eq!(name_std("My Attribute"), "my_attribute");
    assert_eq!(name_std("API string attribute"), "api_string_attribute");
    assert_eq!(name_std("already_std"), "already_std");
    assert_eq!(name_std("createdAt"), "created_at");
    assert_eq!(name_std("created_at"), "created_at");
    assert_eq!(name_std("planName"), "plan_name");
    assert_eq!(name_std("userID"), "user_id");
    assert_eq!(name_std("item2Count"), "item2_count");
    assert_eq!(name_std("my_Attr"), "my_attr");
    assert_eq!(name_std("żółwŻółw"), "żółw_żółw");
    assert_eq!(name_std("Tab\tAnd\nNewline"), "tab_and_newline");
    assert_eq!(name_std("two  spaces"), "two__spaces");
    assert_eq!(name_std(" lead"), "_lead");
    assert_eq!(name_std("a-b.c$d"), "a-b.c$d");
    assert_eq!(name_std("Ünïcode Key"), "ünïcode_key");
    assert_eq!(name_std("ZAŻÓŁĆ GĘŚLĄ"), "zażółć_gęślą");
    assert_eq!(name_std("non\u{a0}breaking"), "non_breaking");
    // The ASCII fast path and the Unicode path agree on every whitespace character.
    assert_eq!(name_std("a\u{b}B\u{c}c\rD"), "a_b_c_d");
    assert_eq!(name_std("ą\u{b}B"), "ą_b");
    assert_eq!(name_std(""), "");
}

// ---------------------------------------------------------------------------------------------
// Real captures and fixtures

/// The messages of a request body: a batch envelope's `batch`, a JSON array, or one message.
fn messages(body: &Value) -> Vec<&Value> {
    match body {
        Value::Object(o) if o.contains_key("batch") => o["batch"]
            .as_array()
            .expect("batch is a list")
            .iter()
            .collect(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// `../shared/captures` next to the repository (the team's shared folder).
fn captures_dir() -> std::path::PathBuf {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if beside.exists() {
        beside
    } else {
        std::path::PathBuf::from("/work/shared/captures")
    }
}

/// Every Segment capture maps to the decisions the destination doc asks for.
#[test]
fn every_capture_maps_as_expected() {
    let dir = captures_dir();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("captures directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with("usercom-") {
            continue;
        }
        let capture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let body = &capture["body"];
        for raw in messages(body) {
            seen += 1;
            let kind = raw["type"].as_str().unwrap();
            let d = decide(raw);
            let has_url =
                raw["properties"]["url"].is_string() || raw["context"]["page"]["url"].is_string();
            match kind {
                "screen" | "alias" => {
                    assert!(matches!(d, Decision::Skip { .. }), "{name}: {d:?}");
                    continue;
                }
                // A page without any URL has no page view to record.
                "page" if !has_url => {
                    assert!(
                        matches!(&d, Decision::Skip { reason } if reason.contains("no URL")),
                        "{name}: {d:?}"
                    );
                    continue;
                }
                _ => {}
            }
            let Decision::Deliver(p) = d else {
                panic!("{name}: {kind} not delivered: {d:?}")
            };
            assert_eq!(p.custom_id, "user-42", "{name}");
            assert_eq!(
                crate::segment::message_id(raw).as_deref(),
                raw["messageId"].as_str(),
                "{name}"
            );
            assert_eq!(p.call, kind);
            check_capture_plan(&name, raw, &p);
        }
    }
    // 10 Segment captures: 9 single-message batches + one batch of 6.
    assert_eq!(seen, 15, "number of captured messages");
}

fn check_capture_plan(name: &str, raw: &Value, p: &Plan) {
    let full_context = raw["context"].get("userAgent").is_some();
    match (p.call, &p.ops[..]) {
        ("identify", [Op::UpsertUser { fields, .. }]) => {
            assert_eq!(fields["email"], "ada@example.com", "{name}");
            if full_context {
                let expected = json!({
                    "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                    "phone_number": "+48500100200", "user_agent": CHROME_UA,
                    "os": "Windows 10", "device_type": "pc", "language": "pl-PL",
                    "ip_address": "203.0.113.7", "browser_family": "Chrome",
                    "browser_version": "124.0.0.0",
                    "current_url": "https://shop.example.com/pricing?utm_source=news",
                    "plan": "pro", "segment_created_at": "2024-01-15T10:00:00Z"
                });
                assert_eq!(Value::Object(fields.clone()), expected, "{name}");
            }
        }
        (
            "track",
            [Op::Event {
                name: event,
                timestamp,
                data,
                ..
            }],
        ) => {
            assert_eq!(Some(event.as_str()), raw["event"].as_str(), "{name}");
            assert_eq!(
                Some(&Value::Object(data.clone())),
                raw.get("properties"),
                "{name}"
            );
            let ts =
                chrono::DateTime::parse_from_rfc3339(raw["timestamp"].as_str().unwrap()).unwrap();
            assert_eq!(*timestamp, Some(ts.timestamp()), "{name}");
        }
        (
            "page",
            [user, Op::SiteView {
                url,
                path,
                title,
                timestamp,
                ..
            }],
        ) => {
            assert_eq!(timestamp.as_deref(), raw["timestamp"].as_str(), "{name}");
            assert_eq!(
                url.as_deref(),
                Some("https://shop.example.com/pricing"),
                "{name}"
            );
            assert_eq!(path.as_deref(), Some("/pricing"), "{name}");
            assert_eq!(title.as_deref(), Some("Pricing"), "{name}");
            // The page's referrer and category have no site-view field: kept on the user.
            let referrer = raw["context"]["page"]["referrer"]
                .as_str()
                .filter(|r| !r.is_empty());
            match user {
                Op::UpsertUser { fields, .. } => {
                    assert_eq!(
                        fields.get("last_page_referrer").and_then(Value::as_str),
                        referrer,
                        "{name}"
                    );
                }
                Op::EnsureUser { .. } => assert_eq!(referrer, None, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        (
            "group",
            [Op::UpsertCompany { group_id, fields }, Op::EnsureUser { .. }, Op::AddMember {
                group_id: g2,
                custom_id,
            }],
        ) => {
            assert_eq!(group_id, "company-7");
            assert_eq!(g2, "company-7");
            assert_eq!(custom_id, "user-42");
            if full_context {
                let expected = json!({"name": "Example Sp. z o.o.", "size": 120,
                                      "industry": "Retail", "website": "https://example.com"});
                assert_eq!(Value::Object(fields.clone()), expected, "{name}");
            } else {
                assert_eq!(
                    Value::Object(fields.clone()),
                    json!({"name": "Example"}),
                    "{name}"
                );
            }
        }
        (call, ops) => panic!("{name}: unexpected plan for {call}: {ops:?}"),
    }
}

/// The fixtures copied from the captures hold the same bodies as the captures.
#[test]
fn capture_fixtures_match_the_captures() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/segment");
    let dir = captures_dir();
    if !dir.exists() {
        return; // the shared folder is not part of the repository
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with("usercom-") {
            continue;
        }
        let capture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let fixture: Value =
            serde_json::from_slice(&std::fs::read(fixtures.join(&name)).unwrap()).unwrap();
        assert_eq!(capture["body"], fixture, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// context.traits

#[test]
fn identify_takes_context_traits_under_the_root_ones() {
    // RudderStack's Python SDK: the traits in `context.traits` only.
    let fields = identify(json!({"type": "identify", "userId": "u1",
        "context": {"traits": {"email": "ada@example.com", "firstName": "Ada", "plan": "pro"}}}));
    assert_eq!(fields["email"], json!("ada@example.com"));
    assert_eq!(fields["first_name"], json!("Ada"));
    assert_eq!(fields["plan"], json!("pro"));
    // Both: the root wins a key both carry; the others come from either.
    let fields = identify(json!({"type": "identify", "userId": "u1",
        "traits": {"plan": "enterprise", "seats": 5},
        "context": {"traits": {"plan": "pro", "email": "ada@example.com"}}}));
    assert_eq!(fields["plan"], json!("enterprise"));
    assert_eq!(fields["seats"], json!(5));
    assert_eq!(fields["email"], json!("ada@example.com"));
    // A company in context.traits makes the membership as one at the root does.
    let p = plan(&json!({"type": "identify", "userId": "u1",
        "context": {"traits": {"company": {"id": "c9", "name": "Acme"}}}}));
    assert!(
        p.ops
            .iter()
            .any(|op| matches!(op, Op::AddMember { group_id, .. } if group_id == "c9")),
        "{:?}",
        p.ops
    );
}

#[test]
fn context_traits_are_not_applied_on_page_track_or_group() {
    let ctx = json!({"traits": {"plan": "pro"}, "page": {"url": "https://a.example/x"}});
    let page = plan(&json!({"type": "page", "userId": "u1", "context": ctx}));
    assert!(
        matches!(page.ops[0], Op::EnsureUser { .. }),
        "{:?}",
        page.ops
    );
    let track = plan(&json!({"type": "track", "userId": "u1", "event": "E", "context": ctx}));
    assert!(
        matches!(&track.ops[..], [Op::Event { data, .. }] if data.is_empty()),
        "{:?}",
        track.ops
    );
    let group = plan(&json!({"type": "group", "userId": "u1", "groupId": "g1",
        "traits": {"name": "Acme"}, "context": ctx}));
    assert!(
        matches!(&group.ops[0], Op::UpsertCompany { fields, .. } if !fields.contains_key("plan")),
        "{:?}",
        group.ops
    );
}
