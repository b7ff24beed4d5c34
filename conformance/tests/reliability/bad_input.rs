//! Bad input, table-driven, through a real `serve` process (so its memory can be read from
//! /proc) and through `usercom-forwarder send`: a clear 400 with a reason, or a skipped or
//! dead-lettered message with its reason; never a panic, a 500 or a hang; memory bounded.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::support::{
    self, dead_letters, figure, forwarder_bin, spawn_serve, Admin, Proc, TempDir,
};

/// What the ingress must do with one input.
#[derive(Debug, Clone)]
enum Want {
    /// 400 with this `code` and a non-empty `message`.
    Reject(&'static str),
    /// 200, then every message skipped.
    Skip,
    /// 200, then dead-lettered with a reason containing this text.
    DeadLetter(&'static str),
    /// 200, then delivered.
    Deliver,
    /// 200 or 400; each accepted message ends (delivered, skipped, or dead-lettered with a reason).
    Ends,
}

struct Case {
    name: String,
    route: &'static str,
    body: Vec<u8>,
    encoding: Option<&'static str>,
    want: Want,
}

fn case(name: &str, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case {
        name: name.to_string(),
        route: "/v1/batch",
        body: body.into(),
        encoding: None,
        want,
    }
}

fn batch_of(messages: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "batch": messages })).unwrap()
}

fn one(message: Value) -> Vec<u8> {
    batch_of(&[message])
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `members` gzip members of 1 MiB of zeros each, concatenated: `members` MiB once inflated, a
/// few KiB on the wire (a multi-member stream, which gzip readers must follow).
fn gzip_bomb(members: usize) -> Vec<u8> {
    let member = gzip(&vec![0u8; 1 << 20]);
    member.repeat(members)
}

fn nested(depth: usize) -> Value {
    let mut v = json!("leaf");
    for _ in 0..depth {
        v = json!({ "n": v });
    }
    v
}

/// The hand-written cases.
fn table() -> Vec<Case> {
    let track = |extra: Value| {
        let mut m = json!({"type": "track", "userId": "bi-u", "event": "Bad Input"});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let many_traits: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("trait_{i}"), json!(i)))
        .collect();
    let oversize: Vec<Value> = (0..2_501)
        .map(|i| json!({"type": "track", "userId": format!("bi-o{i}"), "event": "E"}))
        .collect();
    let mut cases = vec![
        case("malformed JSON", &b"{\"batch\": ["[..], Want::Reject("invalid_json")),
        case("empty body", Vec::new(), Want::Reject("invalid_json")),
        case("body is an array", &b"[1, 2, 3]"[..], Want::Reject("invalid_body")),
        case("body is a string", &b"\"batch\""[..], Want::Reject("invalid_body")),
        case("no batch key", &b"{\"messages\": []}"[..], Want::Reject("missing_batch")),
        case("batch is an object", &b"{\"batch\": {}}"[..], Want::Reject("invalid_batch")),
        case("batch item is a number", &b"{\"batch\": [42]}"[..], Want::Reject("invalid_message")),
        case("message without type", one(json!({"userId": "bi-u", "event": "E"})), Want::Reject("missing_type")),
        case("type is a number", one(json!({"type": 5, "userId": "bi-u"})), Want::Reject("missing_type")),
        case("unknown type", one(json!({"type": "teleport", "userId": "bi-u"})), Want::Skip),
        case("screen", one(json!({"type": "screen", "userId": "bi-u", "name": "Home"})), Want::Skip),
        case("alias", one(json!({"type": "alias", "userId": "bi-u", "previousId": "x"})), Want::Skip),
        case("missing ids", one(json!({"type": "track", "event": "E"})), Want::DeadLetter("neither userId nor anonymousId")),
        case("empty ids", one(json!({"type": "identify", "userId": "", "anonymousId": ""})), Want::DeadLetter("neither userId nor anonymousId")),
        case("event is a number", one(track(json!({"event": 42}))), Want::DeadLetter("event")),
        case("event is an object", one(track(json!({"event": {"name": "E"}}))), Want::DeadLetter("event")),
        case("event is blank", one(track(json!({"event": "   "}))), Want::DeadLetter("event")),
        case("event missing", one(json!({"type": "track", "userId": "bi-u"})), Want::DeadLetter("event")),
        case("group without groupId", one(json!({"type": "group", "userId": "bi-u"})), Want::DeadLetter("groupId")),
        case("properties is a list", one(track(json!({"properties": [1, 2]}))), Want::DeadLetter("properties")),
        case("40 KB userId", one(json!({"type": "identify", "userId": "u".repeat(40_000)})), Want::Reject("message_too_large")),
        case("30 KB trait value", one(json!({"type": "identify", "userId": "bi-big", "traits": {"bio": "x".repeat(30_000)}})), Want::Ends),
        case("10 KB userId", one(json!({"type": "track", "userId": "u".repeat(10_000), "event": "E"})), Want::Ends),
        case("10,000 traits", one(json!({"type": "identify", "userId": "bi-many", "traits": many_traits})), Want::Reject("message_too_large")),
        case("nesting 100 deep", one(track(json!({"properties": {"deep": nested(100)}}))), Want::Ends),
        case("nesting 5,000 deep", format!("{{\"batch\":[{{\"type\":\"track\",\"userId\":\"bi-u\",\"event\":\"E\",\"properties\":{}\"x\"{}}}]}}", "[".repeat(5_000), "]".repeat(5_000)), Want::Reject("invalid_json")),
        case("invalid UTF-8", b"{\"batch\":[{\"type\":\"track\",\"userId\":\"bi-\xff\xfe\",\"event\":\"E\"}]}".to_vec(), Want::Reject("invalid_json")),
        case("lone surrogate escape", &b"{\"batch\":[{\"type\":\"track\",\"userId\":\"\\ud800\",\"event\":\"E\"}]}"[..], Want::Reject("invalid_json")),
        case("number out of range", &b"{\"batch\":[{\"type\":\"track\",\"userId\":\"bi-u\",\"event\":\"E\",\"properties\":{\"v\":1e400}}]}"[..], Want::Reject("invalid_json")),
        case("NUL and control characters", one(json!({"type": "identify", "userId": "bi-\u{0}\u{7}\n", "traits": {"a\u{0}b": "\u{1b}[31m"}})), Want::Ends),
        case("oversize batch (2,501 messages)", batch_of(&oversize), Want::Reject("batch_too_large")),
        case("oversize body (600 KB)", one(json!({"type": "track", "userId": "bi-u", "event": "E", "pad": "x".repeat(600_000)})), Want::Reject("request_too_large")),
        case("timestamp year 1", one(track(json!({"timestamp": "0001-01-01T00:00:00Z"}))), Want::Ends),
        case("timestamp year 9999", one(track(json!({"timestamp": "9999-12-31T23:59:59Z"}))), Want::Ends),
        case("timestamp year +275760", one(track(json!({"timestamp": "+275760-09-13T00:00:00Z"}))), Want::Ends),
        case("timestamp garbage", one(track(json!({"timestamp": "yesterday"}))), Want::Ends),
        case("timestamp huge number", one(track(json!({"timestamp": 1e300}))), Want::Ends),
        case("page in year 1", one(json!({"type": "page", "userId": "bi-u", "timestamp": "0001-01-01T00:00:00Z", "properties": {"url": "https://x.example.com/"}})), Want::Ends),
        case("page in year 9999", one(json!({"type": "page", "userId": "bi-u", "timestamp": "9999-12-31T23:59:59Z", "properties": {"url": "https://x.example.com/"}})), Want::Ends),
        case("identify with createdAt far away", one(json!({"type": "identify", "userId": "bi-u", "traits": {"createdAt": "0001-01-01T00:00:00Z", "birthday": "9999-12-31"}})), Want::Ends),
        case("keys colliding after name_std", one(json!({"type": "identify", "userId": "bi-collide", "traits": {"Plan": "a", "plan": "b", " PLAN ": "c", "Pl an": "d"}})), Want::Deliver),
        case("nulls everywhere", one(json!({"type": "identify", "userId": "bi-u", "traits": null, "context": null, "integrations": null, "timestamp": null})), Want::Ends),
        case("messageId is an object", one(track(json!({"messageId": {"a": 1}}))), Want::Ends),
    ];
    let mut bomb = case(
        "gzip bomb (200 MiB inflated)",
        gzip_bomb(200),
        Want::Reject("request_too_large"),
    );
    bomb.encoding = Some("gzip");
    cases.push(bomb);
    let mut bad_gzip = case(
        "corrupt gzip",
        {
            let mut g = gzip(b"{\"batch\": []}");
            let n = g.len();
            g[10..n - 8].iter_mut().for_each(|b| *b ^= 0x5a);
            g
        },
        Want::Reject("invalid_gzip"),
    );
    bad_gzip.encoding = Some("gzip");
    cases.push(bad_gzip);
    let mut valid_gzip = case("valid gzip", gzip(&one(track(json!({})))), Want::Deliver);
    valid_gzip.encoding = Some("gzip");
    cases.push(valid_gzip);
    let mut brotli = case(
        "unsupported encoding",
        one(track(json!({}))),
        Want::Reject("unsupported_encoding"),
    );
    brotli.encoding = Some("br");
    cases.push(brotli);
    let mut single = case(
        "single route, malformed JSON",
        &b"{\"userId\": "[..],
        Want::Reject("invalid_json"),
    );
    single.route = "/v1/track";
    cases.push(single);
    cases
}

/// Fields of each call type, and wrong-typed values for every one of them.
fn wrong_type_messages() -> Vec<Value> {
    let bases = [
        json!({"type": "identify", "userId": "bw-u", "traits": {"email": "a@example.com", "name": "A B", "gender": "f", "phone": "+48", "address": {"city": "X"}, "company": {"id": "c", "name": "C"}, "createdAt": "2024-01-01T00:00:00Z"}}),
        json!({"type": "track", "userId": "bw-u", "event": "Wrong Types", "properties": {"revenue": 1, "url": "https://x.example.com/"}}),
        json!({"type": "page", "userId": "bw-u", "name": "P", "properties": {"url": "https://x.example.com/a", "path": "/a", "title": "T"}}),
        json!({"type": "group", "userId": "bw-u", "groupId": "bw-g", "traits": {"name": "G", "employees": 5, "phone": "+1", "address": {"city": "Y"}}}),
    ];
    let fields = [
        "userId",
        "anonymousId",
        "messageId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "context",
        "integrations",
        "traits",
        "properties",
        "event",
        "name",
        "groupId",
        "context.ip",
        "context.userAgent",
        "context.page",
        "context.traits",
        "context.locale",
        "context.timezone",
        "context.page.url",
        "traits.email",
        "traits.name",
        "traits.firstName",
        "traits.gender",
        "traits.phone",
        "traits.address",
        "traits.company",
        "traits.createdAt",
        "traits.employees",
        "properties.url",
        "properties.path",
        "properties.title",
        "properties.revenue",
    ];
    let wrong = [
        json!(true),
        json!(42),
        json!(-1.5),
        json!("text"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"a": {"b": 1}}),
        json!(null),
    ];
    let mut out = Vec::new();
    for base in &bases {
        for field in fields {
            for value in &wrong {
                let mut m = base.clone();
                let mut target = &mut m;
                let parts: Vec<&str> = field.split('.').collect();
                for part in &parts[..parts.len() - 1] {
                    if !target[*part].is_object() {
                        target[*part] = json!({});
                    }
                    target = &mut target[*part];
                }
                target[parts[parts.len() - 1]] = value.clone();
                out.push(m);
            }
        }
    }
    out
}

async fn stats(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(format!("{url}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn delta(after: &Value, before: &Value, key: &str) -> u64 {
    after[key].as_u64().unwrap_or(0) - before[key].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_through_the_ingress_process_gets_400_or_a_reason_never_500() {
    let mock = support::start_mock(&[]).await;
    let admin = Admin::new(&mock.url());
    let dir = TempDir::new("bad-ingress");
    let dl = dir.join("dead-letters.ndjson");
    let args: Vec<String> = [
        "--usercom-url",
        &mock.url(),
        "--retry-window",
        "3s",
        "--request-timeout",
        "5s",
        "--dead-letter",
        dl.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (proc, url, _stdout) = spawn_serve(
        &args,
        &[("USERCOM_API_KEY", mock.api_key())],
        Some(&dir.join("stderr.log")),
    );
    let client = support::http();
    let rss_start = proc.rss_kib();
    let mut tried = 0u64;
    let mut outcomes = serde_json::Map::new();
    let mut failures = Vec::new();

    for case in table() {
        tried += 1;
        let before = stats(&client, &url).await;
        let dl_before = dead_letters(&dl).len();
        let hwm_before = proc.peak_rss_kib();
        let mut req = client
            .post(format!("{url}{}", case.route))
            .header("Content-Type", "application/json")
            .body(case.body.clone());
        if let Some(enc) = case.encoding {
            req = req.header("Content-Encoding", enc);
        }
        let resp = tokio::time::timeout(Duration::from_secs(20), req.send())
            .await
            .unwrap_or_else(|_| panic!("{}: the ingress hung", case.name))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let after = support::wait_ingress_idle(&client, &url, Duration::from_secs(30)).await;
        let new_dl: Vec<Value> = dead_letters(&dl).split_off(dl_before);
        let (delivered, skipped, dead) = (
            delta(&after, &before, "delivered"),
            delta(&after, &before, "skipped"),
            delta(&after, &before, "dead_lettered"),
        );
        let outcome = if status == 400 {
            format!("400 {}", body["code"].as_str().unwrap_or("?"))
        } else {
            format!("{status} delivered={delivered} skipped={skipped} dead_lettered={dead}")
        };
        outcomes.insert(case.name.clone(), json!(outcome));
        let mut fail =
            |why: String| failures.push(format!("{}: {why} (got {outcome}, {body})", case.name));
        if status >= 500 {
            fail("a 5xx".into());
            continue;
        }
        if status == 400 {
            let has_reason = body["message"].as_str().is_some_and(|m| !m.is_empty());
            if !has_reason {
                fail("a 400 without a message".into());
            }
        } else if status != 200 {
            fail(format!("unexpected status {status}"));
        }
        if new_dl.len() as u64 != dead {
            fail(format!(
                "{} dead-letter lines for {dead} dead letters",
                new_dl.len()
            ));
        }
        if new_dl
            .iter()
            .any(|r| r["reason"].as_str().is_none_or(str::is_empty))
        {
            fail("a dead letter without reason".into());
        }
        match &case.want {
            Want::Reject(code) => {
                if status != 400 || body["code"] != json!(code) {
                    fail(format!("expected 400 {code}"));
                }
            }
            Want::Skip => {
                if status != 200 || skipped == 0 || delivered + dead > 0 {
                    fail("expected skipped".into());
                }
            }
            Want::DeadLetter(text) => {
                let ok = status == 200
                    && dead > 0
                    && new_dl
                        .iter()
                        .all(|r| r["reason"].as_str().unwrap_or("").contains(text));
                if !ok {
                    fail(format!(
                        "expected dead-lettered with a reason naming {text:?}: {new_dl:?}"
                    ));
                }
            }
            Want::Deliver => {
                if status != 200 || delivered == 0 || dead > 0 {
                    fail(format!("expected delivered: {new_dl:?}"));
                }
            }
            Want::Ends => {}
        }
        if case.name.starts_with("gzip bomb") {
            if let (Some(a), Some(b)) = (hwm_before, proc.peak_rss_kib()) {
                outcomes.insert(
                    "gzip bomb peak RSS growth KiB".into(),
                    json!(b.saturating_sub(a)),
                );
                if b.saturating_sub(a) > 64 * 1024 {
                    fail(format!("peak RSS grew by {} KiB on a gzip bomb", b - a));
                }
            }
        }
    }

    // Every field with every wrong JSON type, one message per request.
    let wrong = wrong_type_messages();
    let before = stats(&client, &url).await;
    let dl_before = dead_letters(&dl).len();
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for m in &wrong {
        tried += 1;
        let resp = client
            .post(format!("{url}/v1/batch"))
            .json(&json!({"batch": [m]}))
            .send()
            .await
            .expect("post");
        let status = resp.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        if status != 200 {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let clear = status == 400 && body["message"].as_str().is_some_and(|s| !s.is_empty());
            if !clear {
                failures.push(format!("wrong types {m}: {status} {body}"));
            }
        }
    }
    let after = support::wait_ingress_idle(&client, &url, Duration::from_secs(60)).await;
    let accepted = statuses.get(&200).copied().unwrap_or(0);
    let ended: u64 = ["delivered", "skipped", "dead_lettered", "duplicates"]
        .iter()
        .map(|k| delta(&after, &before, k))
        .sum();
    assert_eq!(ended, accepted, "every accepted wrong-typed message ends");
    let new_dl = dead_letters(&dl).split_off(dl_before);
    assert_eq!(new_dl.len() as u64, delta(&after, &before, "dead_lettered"));
    assert!(new_dl
        .iter()
        .all(|r| r["reason"].as_str().is_some_and(|s| !s.is_empty())));

    // The simulator kept one `plan` for the colliding keys, and answered no 5xx to anything.
    let state = admin.state("default").await;
    let plans: Vec<_> = state["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name_std"] == json!("plan") && a["content_type"] == json!("clientuser"))
        .collect();
    assert_eq!(
        plans.len(),
        1,
        "one `plan` attribute for colliding keys: {plans:?}"
    );
    let journal = admin.journal().await;
    let server_errors: Vec<_> = journal
        .iter()
        .filter(|e| e["status"].as_u64().unwrap_or(0) >= 500)
        .collect();
    assert!(
        server_errors.is_empty(),
        "the simulator answered 5xx: {server_errors:?}"
    );

    let rss_end = proc.rss_kib();
    let peak = proc.peak_rss_kib();
    drop(proc);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    figure(
        "bad_input_ingress",
        json!({"inputs": tried, "table_cases": outcomes.len(), "wrong_type_messages": wrong.len(),
               "wrong_type_statuses": statuses, "wrong_type_dead_lettered": new_dl.len(),
               "rss_start_kib": rss_start, "rss_end_kib": rss_end, "peak_rss_kib": peak,
               "outcomes": outcomes}),
    );
    if let Some(peak) = peak {
        assert!(
            peak < 512 * 1024,
            "serve's peak RSS {peak} KiB: memory is not bounded"
        );
    }
}

/// Runs `send FILE`; the process must end within 60 s with 0 (all ended, none dead-lettered),
/// 1 (some dead-lettered) or 2 (input unreadable, with an `error:` line) — never a panic.
fn run_send(file: &Path, url: &str, key: &str, dead: &Path) -> (i32, String, String) {
    let child = Command::new(forwarder_bin())
        .arg("send")
        .arg(file)
        .args([
            "--usercom-url",
            url,
            "--retry-window",
            "3s",
            "--request-timeout",
            "5s",
        ])
        .arg("--dead-letter")
        .arg(dead)
        .env("USERCOM_API_KEY", key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn send");
    let mut proc = Proc { child };
    let start = Instant::now();
    // Read the pipes on threads so a chatty process cannot block on a full pipe.
    let mut out_pipe = proc.child.stdout.take().unwrap();
    let mut err_pipe = proc.child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out_pipe, &mut s).ok();
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err_pipe, &mut s).ok();
        String::from_utf8_lossy(&s).into_owned()
    });
    let status = proc.wait_exit(Duration::from_secs(60));
    let _ = start;
    (
        status.code().unwrap_or(-1),
        out_t.join().unwrap(),
        err_t.join().unwrap(),
    )
}

fn summary_of(stdout: &str) -> Option<[u64; 4]> {
    let line = stdout.lines().rev().find(|l| l.starts_with("delivered="))?;
    let mut out = [0u64; 4];
    for (i, part) in line.split_whitespace().enumerate().take(4) {
        out[i] = part.split('=').nth(1)?.parse().ok()?;
    }
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_through_send_ends_with_a_reason_never_a_panic() {
    let mock = support::start_mock(&[]).await;
    let dir = TempDir::new("bad-send");
    let mut tried = 0u64;
    let mut outcomes = serde_json::Map::new();
    let mut failures = Vec::new();

    let mut inputs: Vec<(String, Vec<u8>)> = table()
        .into_iter()
        .filter(|c| c.encoding.is_none())
        .map(|c| (c.name, c.body))
        .collect();
    // `send` also reads NDJSON: the wrong-typed messages, one per line, plus junk lines.
    let mut ndjson = Vec::new();
    for m in wrong_type_messages() {
        ndjson.extend(serde_json::to_vec(&m).unwrap());
        ndjson.push(b'\n');
    }
    ndjson.extend(b"not json at all\n42\n[1,2]\n{\"type\": \"track\"\n");
    inputs.push(("NDJSON of wrong types and junk lines".into(), ndjson));
    inputs.push((
        "gzip file".into(),
        gzip(b"{\"type\":\"track\",\"userId\":\"x\",\"event\":\"E\"}"),
    ));

    for (i, (name, body)) in inputs.iter().enumerate() {
        let file = dir.join(&format!("input-{i}.json"));
        std::fs::write(&file, body).unwrap();
        let dead = dir.join(&format!("dead-{i}.ndjson"));
        let lines = body.iter().filter(|b| **b == b'\n').count() as u64;
        tried += if name.starts_with("NDJSON") { lines } else { 1 };
        let (code, stdout, stderr) = run_send(&file, &mock.url(), mock.api_key(), &dead);
        let mut fail =
            |why: String| failures.push(format!("{name}: {why} (exit {code}; {stdout} {stderr})"));
        match code {
            0 | 1 => match summary_of(&stdout) {
                Some([delivered, skipped, dead_n, dup]) => {
                    let records = dead_letters(&dead);
                    if records.len() as u64 != dead_n {
                        fail(format!(
                            "{} dead-letter lines for dead_lettered={dead_n}",
                            records.len()
                        ));
                    }
                    if records
                        .iter()
                        .any(|r| r["reason"].as_str().is_none_or(str::is_empty))
                    {
                        fail("a dead letter without reason".into());
                    }
                    if (code == 1) != (dead_n > 0) {
                        fail("exit code does not match dead_lettered".into());
                    }
                    outcomes.insert(name.clone(), json!(format!("exit {code}: delivered={delivered} skipped={skipped} dead_lettered={dead_n} duplicates={dup}")));
                }
                None => fail("no summary line".into()),
            },
            2 => {
                if !stderr.contains("error:") {
                    fail("exit 2 without an error line".into());
                }
                outcomes.insert(
                    name.clone(),
                    json!(format!(
                        "exit 2: {}",
                        stderr
                            .lines()
                            .last()
                            .unwrap_or("")
                            .chars()
                            .take(120)
                            .collect::<String>()
                    )),
                );
            }
            _ => fail("crashed".into()),
        }
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked: {stderr}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    figure(
        "bad_input_send",
        json!({"inputs": tried, "files": inputs.len(), "outcomes": outcomes,
               "memory": "send runs as a short process; its peak RSS is not sampled"}),
    );
}
