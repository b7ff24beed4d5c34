//! The spool's own figures (docs/SPOOL.md): append throughput with fsync (group commit) for
//! batches of 100 Segment-sized messages from T concurrent requests, and recovery time (open
//! with N messages pending). `cargo bench --bench spool [-- DIR]` (DIR: where to write; default
//! the system temp dir — use a directory on the disk the spool will live on).

use std::time::Instant;

use serde_json::{json, Value};
use usercom_forwarder::spool::{Spool, SpoolConfig, SyncPolicy};

fn message(i: usize) -> Value {
    json!({"type": "track", "userId": format!("user-{}", i % 10_000), "event": "Order Completed",
           "messageId": format!("bench-{i:012}"), "timestamp": "2024-05-01T10:00:00Z",
           "properties": {"revenue": i, "currency": "EUR", "order_id": format!("o-{i}"), "coupon": "SPRING"},
           "context": {"ip": "203.0.113.7", "locale": "pl-PL", "library": {"name": "analytics-python", "version": "2.4.0"},
                       "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"}})
}

fn main() {
    let base = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bytes = serde_json::to_vec(&message(1)).unwrap().len();
    println!("message size {bytes} B, batches of 100");
    for (sync, label) in [(SyncPolicy::Fsync, "fsync"), (SyncPolicy::Write, "write")] {
        for concurrency in [1usize, 4, 16] {
            let dir = base.join(format!(
                "spool-bench-{}-{label}-{concurrency}",
                std::process::id()
            ));
            let config = SpoolConfig {
                sync,
                ..SpoolConfig::new(&dir)
            };
            let (spool, _) = Spool::open(&config).unwrap();
            let spool = std::sync::Arc::new(spool);
            let batches = 400usize;
            let batch: Vec<Value> = (0..100).map(message).collect();
            let started = Instant::now();
            rt.block_on(async {
                let mut tasks = Vec::new();
                for _ in 0..concurrency {
                    let (spool, batch) = (spool.clone(), batch.clone());
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..batches / concurrency {
                            let first = spool.append(&batch).await.unwrap();
                            // Ack as delivery would, so segments are deleted as they go.
                            for i in 0..100 {
                                spool.ack(first + i);
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
            let dt = started.elapsed().as_secs_f64();
            let stats = spool.stats();
            let n = (batches / concurrency * concurrency * 100) as f64;
            println!(
                "append {label:5} {concurrency:2} concurrent: {:>8.0} msgs/s, {:>5.2} ms per batch, {} syncs for {} batches",
                n / dt,
                dt * 1e3 * concurrency as f64 / (n / 100.0),
                stats.syncs,
                n as u64 / 100
            );
            drop(spool);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    // Recovery: N pending messages (never acknowledged), then open.
    for pending in [10_000usize, 100_000] {
        let dir = base.join(format!(
            "spool-bench-recover-{}-{pending}",
            std::process::id()
        ));
        let config = SpoolConfig::new(&dir);
        let (spool, _) = Spool::open(&config).unwrap();
        rt.block_on(async {
            for start in (0..pending).step_by(1000) {
                let batch: Vec<Value> = (start..start + 1000).map(message).collect();
                spool.append(&batch).await.unwrap();
            }
        });
        let on_disk = spool.stats().bytes;
        drop(spool);
        let started = Instant::now();
        let (_spool, recovered) = Spool::open(&config).unwrap();
        let took = started.elapsed();
        let parse = Instant::now();
        let values = recovered
            .pending
            .iter()
            .filter(|(_, b)| serde_json::from_slice::<Value>(b).is_ok())
            .count();
        println!(
            "recover {pending:>7} pending ({:.1} MB): open {:.1} ms (read + CRC + index), + JSON parse for replay {:.1} ms ({values} messages)",
            on_disk as f64 / 1e6,
            took.as_secs_f64() * 1e3,
            parse.elapsed().as_secs_f64() * 1e3
        );
        drop(_spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
