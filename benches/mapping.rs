//! In-process mapping benchmark: `cargo bench --bench mapping`.
//!
//! No criterion (build time matters on this project): `std::time::Instant`, a warm-up pass, then
//! the best of five passes over ~200,000 messages. The messages are every fixture in
//! `fixtures/segment/*.json` that the mapping delivers (batch envelopes are split as the ingress
//! splits them; skipped and rejected fixtures are left out), repeated with a distinct `userId`
//! and `messageId` per copy, so the mix is the fixtures' mix of identify, track, page and group.
//!
//! Four mixes, because the user-agent parse (woothee, 1.5–2 µs) dominates an identify's mapping
//! and the mapping keeps a one-entry per-thread memo of the last user agent:
//! - `fixtures`: the messages as the fixtures have them (most carry `context.userAgent`);
//! - `one UA`: every message carries the same user agent (one client's batch: memo hits);
//! - `two UAs`: alternating between two user agents (the memo always misses: the worst case);
//! - `no UA`: `context.userAgent` removed everywhere.
//!
//! Each mix is timed three ways: from JSON bytes (what the ingress does: `serde_json` into a
//! `Value`, then [`mapping::decide`]), parse + map ([`mapping::decide`] on a `Value`: Segment
//! parsing and the mapping), and map only ([`mapping::map`] on pre-parsed [`segment::Message`]s).
//!
//! Allocations: the global allocator is the binary's (mimalloc) wrapped in a counter
//! (`stats_alloc`), and one extra pass per mix reports allocations and bytes allocated per event
//! for parse + map. The counter's atomic increments are included in the timings (a few ns per
//! allocation), so the rates are slightly pessimistic. The last line is `BENCH_JSON {...}` with
//! the figures for `bench/bench.py`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stats_alloc::{Region, StatsAlloc};
use usercom_forwarder::mapping::{self, Decision};
use usercom_forwarder::segment::{self, batch};

/// Messages per pass (rounded up to whole copies of the fixture set).
const TARGET: usize = 200_000;
/// Timed passes per measurement; the best is reported (the machine is shared and noisy).
const PASSES: usize = 5;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

/// The forwarder binary's allocator, counted.
#[global_allocator]
static ALLOCATOR: StatsAlloc<mimalloc::MiMalloc> = StatsAlloc::new(mimalloc::MiMalloc);

fn main() {
    let base = fixture_messages();
    let kinds = base
        .iter()
        .filter_map(|m| m.get("type").and_then(Value::as_str))
        .fold(std::collections::BTreeMap::new(), |mut acc, t| {
            *acc.entry(t.to_owned()).or_insert(0usize) += 1;
            acc
        });
    println!(
        "mapping benchmark: {} deliverable fixture messages {kinds:?}, repeated to ~{TARGET}; \
         best of {PASSES} after a warm-up",
        base.len()
    );
    println!();
    println!(
        "| mix | from JSON bytes | parse + map (`decide`) | map only (pre-parsed) | \
         allocations per event (parse + map) |\n|---|---|---|---|---|"
    );
    let mut figures = Vec::new();
    type Edit = fn(&mut Value, usize);
    let mixes: [(&str, Edit); 4] = [
        ("fixtures", |_, _| {}),
        ("one UA", |m, _| set_user_agent(m, Some(CHROME))),
        ("two UAs", |m, i| {
            set_user_agent(m, Some(if i % 2 == 0 { CHROME } else { IPHONE }))
        }),
        ("no UA", |m, _| set_user_agent(m, None)),
    ];
    for (name, edit) in mixes {
        let messages = expand(&base, edit);
        let bytes: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| serde_json::to_vec(m).expect("a Value serialises"))
            .collect();
        let from_bytes = best(messages.len(), || {
            for b in &bytes {
                let value: Value = serde_json::from_slice(b).expect("fixture JSON parses");
                black_box(mapping::decide(black_box(&value)));
            }
        });
        let decide = best(messages.len(), || {
            for m in &messages {
                black_box(mapping::decide(black_box(m)));
            }
        });
        let parsed: Vec<segment::Message<'_>> = messages
            .iter()
            .map(|m| segment::parse(m).expect("deliverable fixtures parse"))
            .collect();
        let map_only = best(messages.len(), || {
            for m in &parsed {
                black_box(mapping::map(black_box(m)));
            }
        });
        let allocs = allocations(messages.len(), || {
            for m in &messages {
                black_box(mapping::decide(black_box(m)));
            }
        });
        println!(
            "| {name} ({} messages) | {} | {} | {} | {:.1} allocations, {:.0} bytes |",
            messages.len(),
            rate(from_bytes, messages.len()),
            rate(decide, messages.len()),
            rate(map_only, messages.len()),
            allocs.0,
            allocs.1,
        );
        let per_s = |d: Duration| messages.len() as f64 / d.as_secs_f64();
        figures.push(json!({
            "mix": name,
            "messages": messages.len(),
            "from_bytes_per_s": per_s(from_bytes),
            "decide_per_s": per_s(decide),
            "map_only_per_s": per_s(map_only),
            "allocations_per_event": allocs.0,
            "bytes_allocated_per_event": allocs.1,
        }));
    }
    println!();
    println!("BENCH_JSON {}", Value::Array(figures));
}

/// One pass of `pass` under an allocation counter: (allocations, bytes allocated) per event,
/// reallocations counted as allocations of their new size.
fn allocations(count: usize, pass: impl FnOnce()) -> (f64, f64) {
    let region = Region::new(&ALLOCATOR);
    pass();
    let change = region.change();
    let allocs = change.allocations + change.reallocations;
    let bytes = change.bytes_allocated + change.bytes_reallocated.max(0).unsigned_abs();
    (allocs as f64 / count as f64, bytes as f64 / count as f64)
}

/// Runs `pass` once to warm up, then `PASSES` times; the shortest time.
fn best(count: usize, mut pass: impl FnMut()) -> Duration {
    pass();
    let fastest = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed()
        })
        .min()
        .expect("at least one pass");
    assert!(count > 0);
    fastest
}

fn rate(elapsed: Duration, count: usize) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "{:.0} events/s ({:.0} ns/event)",
        count as f64 / secs,
        secs * 1e9 / count as f64
    )
}

/// Every message of every fixture that the mapping delivers, in file-name order.
fn fixture_messages() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/segment");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        // One object per fixture (a message or a batch envelope), as before; arrays are not
        // part of the mix.
        if !text.trim_start().starts_with('{') {
            continue;
        }
        out.extend(
            usercom_forwarder::input::read_text(&text)
                .into_iter()
                .filter_map(|item| match item {
                    batch::Item::Message(m)
                        if matches!(mapping::decide(&m), Decision::Deliver(_)) =>
                    {
                        Some(m)
                    }
                    _ => None,
                }),
        );
    }
    assert!(
        !out.is_empty(),
        "no deliverable fixture in {}",
        dir.display()
    );
    out
}

/// Copies of `base` (distinct `userId` and `messageId` per copy) until `TARGET` is reached,
/// each message passed through `edit` with its position.
fn expand(base: &[Value], edit: fn(&mut Value, usize)) -> Vec<Value> {
    let copies = TARGET.div_ceil(base.len());
    let mut out = Vec::with_capacity(copies * base.len());
    for copy in 0..copies {
        for (i, message) in base.iter().enumerate() {
            let mut m = message.clone();
            if let Some(obj) = m.as_object_mut() {
                obj.insert("userId".into(), json!(format!("bench-user-{copy}-{i}")));
                obj.insert("messageId".into(), json!(format!("bench-msg-{copy}-{i}")));
            }
            edit(&mut m, out.len());
            out.push(m);
        }
    }
    out
}

fn set_user_agent(message: &mut Value, ua: Option<&str>) {
    let Some(obj) = message.as_object_mut() else {
        return;
    };
    let context = obj
        .entry("context")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(context) = context {
        match ua {
            Some(ua) => {
                context.insert("userAgent".into(), json!(ua));
            }
            None => {
                context.remove("userAgent");
            }
        }
    }
}
