//! Parser tests: lenient where Segment clients differ, strict where a field would be lost.

use super::*;
use serde_json::json;

fn ok(v: &Value) -> Message<'_> {
    parse(v).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

#[test]
fn parses_node_identify_capture_shape() {
    let v = json!({
        "timestamp": "2026-11-29T06:52:25.551Z",
        "integrations": {},
        "type": "identify",
        "userId": "user-42",
        "traits": {"email": "ada@example.com"},
        "context": {"ip": "203.0.113.7", "library": {"name": "@segment/analytics-node"}},
        "anonymousId": "anon-abc-1",
        "messageId": "node-next-1-abc",
        "_metadata": {"nodeVersion": "v20.20.2", "jsRuntime": "node"}
    });
    let m = ok(&v);
    assert_eq!(m.kind, Kind::Identify);
    assert_eq!(m.user_id.as_deref(), Some("user-42"));
    assert_eq!(m.anonymous_id.as_deref(), Some("anon-abc-1"));
    assert_eq!(m.custom_id(), Some("user-42"));
    assert_eq!(m.message_id.as_deref(), Some("node-next-1-abc"));
    assert_eq!(m.traits.get("email"), Some(&json!("ada@example.com")));
    assert_eq!(m.context.ip(), Some("203.0.113.7"));
    // Unknown keys stay reachable.
    assert_eq!(m.raw["_metadata"]["jsRuntime"], "node");
    let ts = m.timestamp.unwrap();
    assert_eq!(ts.raw, "2026-11-29T06:52:25.551Z");
    assert_eq!(ts.utc.timestamp_millis(), 1_795_935_145_551);
}

#[test]
fn python_nulls_read_as_absent() {
    let v = json!({
        "type": "page", "userId": "u", "anonymousId": null, "category": null,
        "name": null, "properties": null, "traits": null, "context": null,
        "integrations": null, "timestamp": null, "version": null, "event": null
    });
    let m = ok(&v);
    assert_eq!(m.anonymous_id, None);
    assert_eq!(m.category, None);
    assert_eq!(m.name, None);
    assert!(m.properties.is_empty());
    assert!(m.traits.is_empty());
    assert!(m.context.map().is_empty());
    assert_eq!(m.timestamp, None);
    assert_eq!(m.version, None);
}

#[test]
fn numeric_ids_are_stringified() {
    let v = json!({"type": "track", "userId": 42, "anonymousId": 1.5, "messageId": 7,
                    "groupId": 18446744073709551615u64, "previousId": -3});
    let m = ok(&v);
    assert_eq!(m.user_id.as_deref(), Some("42"));
    assert_eq!(m.anonymous_id.as_deref(), Some("1.5"));
    assert_eq!(m.message_id.as_deref(), Some("7"));
    assert_eq!(m.group_id.as_deref(), Some("18446744073709551615"));
    assert_eq!(m.previous_id.as_deref(), Some("-3"));
}

#[test]
fn huge_float_id_is_stringified_not_rejected() {
    let v: Value = serde_json::from_str(r#"{"type":"identify","userId":1e300}"#).unwrap();
    let m = ok(&v);
    assert!(m.user_id.as_deref().unwrap().contains("300"));
}

#[test]
fn empty_and_blank_ids_are_absent() {
    let v = json!({"type": "identify", "userId": "", "anonymousId": "  "});
    let m = ok(&v);
    assert_eq!(m.user_id, None);
    assert_eq!(m.anonymous_id, None);
    assert_eq!(m.custom_id(), None);
    let v = json!({"type": "identify", "userId": "", "anonymousId": "anon"});
    assert_eq!(ok(&v).custom_id(), Some("anon"));
}

#[test]
fn id_of_wrong_type_is_an_error_naming_the_field() {
    for bad in [json!(true), json!({"a": 1}), json!([1])] {
        let v = json!({"type": "identify", "userId": bad});
        let err = parse(&v).unwrap_err();
        assert_eq!(err.field(), Some("userId"));
        assert!(err.to_string().contains("`userId`"), "{err}");
    }
    let err = parse(&json!({"type": "group", "userId": "u", "groupId": false})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "message field `groupId` must be a string or a number, got a boolean"
    );
}

#[test]
fn type_missing_or_not_a_string_is_an_error() {
    assert_eq!(parse(&json!({"userId": "u"})), Err(ParseError::MissingType));
    assert_eq!(parse(&json!({"type": null})), Err(ParseError::MissingType));
    let err = parse(&json!({"type": 3})).unwrap_err();
    assert_eq!(err.field(), Some("type"));
    assert_eq!(
        err.to_string(),
        "message field `type` must be a string, got a number"
    );
}

#[test]
fn not_an_object_is_an_error() {
    let err = parse(&json!([{"type": "identify"}])).unwrap_err();
    assert_eq!(err, ParseError::NotAnObject { found: "an array" });
    assert_eq!(err.field(), None);
    assert!(parse(&json!("identify")).is_err());
}

#[test]
fn type_is_case_insensitive_and_unknown_types_parse() {
    assert_eq!(ok(&json!({"type": "Identify"})).kind, Kind::Identify);
    assert_eq!(ok(&json!({"type": "TRACK"})).kind, Kind::Track);
    assert_eq!(ok(&json!({"type": "screen"})).kind, Kind::Screen);
    assert_eq!(ok(&json!({"type": "alias"})).kind, Kind::Alias);
    assert_eq!(ok(&json!({"type": "group"})).kind, Kind::Group);
    assert_eq!(ok(&json!({"type": "page"})).kind, Kind::Page);
    let v = json!({"type": "delete"});
    let m = ok(&v);
    assert_eq!(m.kind, Kind::Other("delete"));
    assert_eq!(m.kind.to_string(), "delete");
    assert_eq!(ok(&json!({"type": ""})).kind, Kind::Other(""));
}

#[test]
fn version_as_number_or_string() {
    let v = json!({"type": "identify", "version": 2});
    assert!(matches!(ok(&v).version, Some(Version::Number(n)) if n.as_u64() == Some(2)));
    let v = json!({"type": "identify", "version": "1.1"});
    assert_eq!(ok(&v).version, Some(Version::Text("1.1")));
    let err = parse(&json!({"type": "identify", "version": [2]})).unwrap_err();
    assert_eq!(err.field(), Some("version"));
}

#[test]
fn timestamps_with_0_to_9_fraction_digits_and_offsets() {
    let base = DateTime::parse_from_rfc3339("2026-11-29T06:51:37Z").unwrap();
    for digits in 0..=9usize {
        let frac = if digits == 0 {
            String::new()
        } else {
            format!(".{}", "1".repeat(digits))
        };
        for (suffix, offset_secs) in [
            ("Z", 0),
            ("+00:00", 0),
            ("+05:30", 19_800),
            ("-08:00", -28_800),
        ] {
            let s = format!("2026-11-29T06:51:37{frac}{suffix}");
            let ts = Timestamp::parse(&s).unwrap_or_else(|| panic!("{s} should parse"));
            assert_eq!(ts.raw, s);
            assert_eq!(ts.offset.local_minus_utc(), offset_secs, "{s}");
            assert_eq!(
                ts.utc.timestamp(),
                base.timestamp() - i64::from(offset_secs),
                "{s}"
            );
            let expected_nanos = if digits == 0 {
                0
            } else {
                let ones: u32 = "1".repeat(digits).parse().unwrap();
                ones * 10u32.pow(9 - digits as u32)
            };
            assert_eq!(ts.utc.timestamp_subsec_nanos(), expected_nanos, "{s}");
            // Already strict RFC 3339: kept verbatim.
            assert_eq!(ts.rfc3339(), s);
        }
    }
}

#[test]
fn near_miss_timestamps_are_normalised() {
    let cases = [
        ("2026-11-29T06:51:37+0000", "2026-11-29T06:51:37Z"),
        (
            "2026-11-29T06:51:37.5+0530",
            "2026-11-29T06:51:37.500+05:30",
        ),
        ("2026-11-29T06:51:37.5+05", "2026-11-29T06:51:37.500+05:00"),
        ("2026-11-29T06:51:37", "2026-11-29T06:51:37Z"),
        ("2026-11-29T06:51:37.123456", "2026-11-29T06:51:37.123456Z"),
        ("2026-11-29 06:51:37Z", "2026-11-29T06:51:37Z"),
        ("2026-11-29t06:51:37z", "2026-11-29T06:51:37Z"),
        ("2026-11-29", "2026-11-29T00:00:00Z"),
    ];
    for (input, expected) in cases {
        let ts = Timestamp::parse(input).unwrap_or_else(|| panic!("{input} should parse"));
        assert_eq!(ts.rfc3339(), expected, "{input}");
        assert_eq!(ts.raw, input);
    }
}

#[test]
fn unix_seconds_floor() {
    let ts = Timestamp::parse("2022-09-13T20:12:44.757+05:30").unwrap();
    assert_eq!(ts.unix_seconds(), 1_663_080_164);
    let ts = Timestamp::parse("1969-12-31T23:59:59.5Z").unwrap();
    assert_eq!(ts.unix_seconds(), -1);
}

#[test]
fn bad_timestamps_are_errors_naming_the_field() {
    for (field, bad) in [
        ("timestamp", json!("yesterday")),
        ("sentAt", json!("2026-13-01T00:00:00Z")),
        ("originalTimestamp", json!("2026-11-29T06:51:37.Z")),
        ("receivedAt", json!(true)),
        ("timestamp", json!(1e300)),
    ] {
        let mut v = json!({"type": "track", "event": "x"});
        v[field] = bad;
        let err = parse(&v).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    let long = "x".repeat(500);
    let err = parse(&json!({"type": "track", "timestamp": long})).unwrap_err();
    assert!(err.to_string().len() < 200);
}

#[test]
fn event_time_falls_back_to_original_timestamp() {
    let v = json!({"type": "track", "originalTimestamp": "2026-01-01T00:00:00Z"});
    assert_eq!(ok(&v).event_time().unwrap().raw, "2026-01-01T00:00:00Z");
    let v = json!({"type": "track"});
    assert!(ok(&v).event_time().is_none());
}

#[test]
fn wrong_shapes_of_known_fields_are_errors() {
    for (field, bad, expected) in [
        ("traits", json!([1, 2]), "an object"),
        ("properties", json!("x"), "an object"),
        ("context", json!(5), "an object"),
        ("integrations", json!(true), "an object"),
        ("event", json!(12), "a string"),
        ("name", json!({}), "a string"),
        ("category", json!([]), "a string"),
    ] {
        let mut v = json!({"type": "track"});
        v[field] = bad;
        let err = parse(&v).unwrap_err();
        assert_eq!(err.field(), Some(field));
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn context_accessors_read_known_keys_and_forgive_wrong_types() {
    let v = json!({"type": "identify", "context": {
        "userAgent": "UA", "ip": "1.2.3.4", "locale": "pl-PL", "timezone": "Europe/Warsaw",
        "os": {"name": "iOS"}, "device": {"model": "iPhone16,2", "type": "ios"},
        "page": {"url": "https://x/y", "path": "/y", "title": "T"},
        "screen": {"width": 1920, "height": 1080.0},
        "personas": {"space_id": "spa_1"}
    }});
    let m = ok(&v);
    let c = m.context;
    assert_eq!(c.user_agent(), Some("UA"));
    assert_eq!(c.ip(), Some("1.2.3.4"));
    assert_eq!(c.locale(), Some("pl-PL"));
    assert_eq!(c.timezone(), Some("Europe/Warsaw"));
    assert_eq!(c.os_name(), Some("iOS"));
    assert_eq!(c.device_name(), Some("iPhone16,2"));
    assert_eq!(c.device_type(), Some("ios"));
    assert_eq!(c.page_url(), Some("https://x/y"));
    assert_eq!(c.page_path(), Some("/y"));
    assert_eq!(c.page_title(), Some("T"));
    assert_eq!(c.screen_size(), Some((1920, 1080)));
    assert_eq!(c.nested_str("personas", "space_id"), Some("spa_1"));
    assert_eq!(
        c.fields(),
        ContextFields {
            user_agent: Some("UA"),
            ip: Some("1.2.3.4"),
            locale: Some("pl-PL"),
            timezone: Some("Europe/Warsaw"),
            os_name: Some("iOS"),
            device_name: Some("iPhone16,2"),
            device_type: Some("ios"),
            page_url: Some("https://x/y"),
            screen_size: Some((1920, 1080)),
        }
    );

    let v = json!({"type": "identify", "context": {
        "userAgent": 5, "ip": "", "os": "Linux", "device": {"name": "Pixel", "model": "x"},
        "screen": {"width": -1, "height": 2}
    }});
    let m = ok(&v);
    assert_eq!(m.context.user_agent(), None);
    assert_eq!(m.context.ip(), None);
    assert_eq!(m.context.os_name(), None);
    assert_eq!(m.context.device_name(), Some("Pixel"));
    assert_eq!(m.context.screen_size(), None);
    let f = m.context.fields();
    assert_eq!((f.user_agent, f.ip, f.os_name), (None, None, None));
    assert_eq!((f.device_name, f.screen_size), (Some("Pixel"), None));
    assert_eq!(
        ok(&json!({"type": "identify"})).context.fields(),
        ContextFields::default()
    );
}

#[test]
fn unicode_survives() {
    let v = json!({"type": "identify", "userId": "użytkownik-ß-日本", "traits": {"imię": "Zoë"}});
    let m = ok(&v);
    assert_eq!(m.user_id.as_deref(), Some("użytkownik-ß-日本"));
    assert_eq!(m.traits["imię"], "Zoë");
}
