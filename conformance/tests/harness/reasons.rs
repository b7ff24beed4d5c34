//! A field the forwarder leaves out is logged with a reason a user can act on: the value as it
//! was sent (cut at 80 bytes, on a character boundary, marked with `…`) and the type User.com
//! has for the attribute. The catalogue sees only that the field was not sent; this reads the
//! forwarder's own log line, in process.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use serde_json::{json, Value};
use usercom_forwarder::{Config, Forwarder};
use usercom_mock::MockServer;

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log sink").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// Where this thread's log lines go; `None` throws them away.
    static SINK: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Writes to the calling thread's sink, if it has one.
struct ThreadSink(Option<Captured>);

impl Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Some(c) => c.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One process-wide subscriber, at WARN, writing to the thread's sink.
///
/// A scoped subscriber (`with_default`) is not enough when tests run in parallel: if a log
/// call site is first reached on another test's thread while the scoped subscriber is the only
/// one registered, tracing caches "never" for that call site and this test sees nothing. A
/// global subscriber that always wants WARN lines keeps every call site live.
fn install_subscriber() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::WARN)
            .with_writer(|| ThreadSink(SINK.with(|s| s.borrow().clone())))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
}

/// The reasons of the "field left out" lines, by field.
fn reasons(log: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(log)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "field left out, the rest delivered")
        .map(|l| {
            let f = &l["fields"];
            (
                f["field"].as_str().unwrap_or("?").to_owned(),
                f["reason"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_value_left_out_is_logged_with_its_text_and_the_type_it_cannot_take() {
    install_subscriber();
    let sink = Captured::default();
    SINK.with(|s| *s.borrow_mut() = Some(sink.clone()));
    // One thread, so every task the forwarder spawns logs into this thread's sink.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let exactly_80 = "x".repeat(78); // `"x…x"`: 80 bytes of JSON text
    let straddling = format!("{}ézz", "y".repeat(78)); // byte 80 falls inside `é`
    rt.block_on(async {
        let mock = MockServer::start().await;
        let http = reqwest::Client::new();
        for name in ["seats_a", "seats_b", "seats_c"] {
            let r = http
                .post(format!("{}/api/public/attributes/", mock.url()))
                .header("Authorization", format!("Token {}", mock.api_key()))
                .json(&json!({"name": name, "value_type": "integer", "content_type": "clientuser"}))
                .send()
                .await
                .expect("define attribute");
            assert!(r.status().is_success(), "defining {name}: {}", r.status());
        }
        let forwarder = Forwarder::new(Config::new(mock.url(), mock.api_key())).expect("forwarder");
        let s = forwarder
            .send_all(vec![
                json!({"type": "identify", "userId": "reasons-1", "traits": {
                "seats_a": "abc", "seats_b": exactly_80, "seats_c": straddling, "plan": "pro"}}),
            ])
            .await;
        assert_eq!((s.delivered, s.dropped_fields), (1, 3), "{s}");
        mock.shutdown().await;
    });
    SINK.with(|s| *s.borrow_mut() = None);
    let got = reasons(&sink.0.lock().expect("log sink"));
    let want: BTreeMap<String, String> = [
        (
            "seats_a",
            "\"abc\" cannot be converted to integer".to_owned(),
        ),
        (
            "seats_b",
            format!("\"{exactly_80}\" cannot be converted to integer"),
        ),
        (
            "seats_c",
            format!("\"{}… cannot be converted to integer", "y".repeat(78)),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want);
}
