use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "usercom-spool-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &Path) -> SpoolConfig {
    SpoolConfig::new(dir)
}

fn track(i: usize) -> Value {
    json!({"type": "track", "userId": format!("u{}", i % 3), "event": "E",
           "messageId": format!("m{i}"), "properties": {"i": i}})
}

fn texts(recovered: &Recovered) -> Vec<Value> {
    recovered
        .pending
        .iter()
        .map(|(_, bytes)| serde_json::from_slice(bytes).unwrap())
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Appends `n` tracks in batches of `batch`, acks those whose index is in `ended`, then
/// "crashes" (drops the handle without closing).
fn fill(dir: &Path, n: usize, batch: usize, ended: &[usize]) {
    let (spool, _) = Spool::open(&config(dir)).unwrap();
    rt().block_on(async {
        let mut seqs = Vec::new();
        for start in (0..n).step_by(batch) {
            let messages: Vec<Value> = (start..(start + batch).min(n)).map(track).collect();
            let first = spool.append(&messages).await.unwrap();
            seqs.extend((0..messages.len() as u64).map(|i| first + i));
        }
        for i in ended {
            spool.ack(seqs[*i]);
        }
        // One more append makes sure the acks were written (they ride with the next group).
        let _ = spool.append(&[]).await;
    });
    drop(spool);
}

#[test]
fn pending_messages_replay_in_order_and_ended_ones_do_not() {
    let dir = TempDir::new("replay");
    fill(&dir.0, 10, 4, &[0, 2, 9]);
    let (spool, recovered) = Spool::open(&config(&dir.0)).unwrap();
    let expected: Vec<Value> = [1, 3, 4, 5, 6, 7, 8].into_iter().map(track).collect();
    assert_eq!(texts(&recovered), expected);
    let mut ended = recovered.ended_message_ids.clone();
    ended.sort();
    assert_eq!(ended, ["m0", "m2", "m9"]);
    assert!(recovered.torn.is_empty());
    assert_eq!(spool.stats().pending, 7);
    // Ack the replayed ones and close cleanly: the directory is left without segments.
    for (seq, _) in &recovered.pending {
        spool.ack(*seq);
    }
    spool.close();
    let (_, again) = Spool::open(&config(&dir.0)).unwrap();
    assert!(again.pending.is_empty(), "{:?}", texts(&again));
}

#[test]
fn a_second_process_cannot_open_the_same_directory() {
    let dir = TempDir::new("lock");
    let (_spool, _) = Spool::open(&config(&dir.0)).unwrap();
    let second = Spool::open(&config(&dir.0));
    assert!(
        matches!(&second, Err(Error::Config(m)) if m.contains("in use")),
        "{second:?}"
    );
}

/// The torn-tail test: the spool's last record cut at every byte offset. Each cut opens
/// without error, replays the records before it and never the torn one, and the spool then
/// takes new appends that replay after another crash.
#[test]
fn a_torn_tail_at_every_byte_offset_is_cut_not_replayed() {
    let dir = TempDir::new("torn");
    fill(&dir.0, 5, 1, &[]);
    let segments = read_dir(&dir.0).unwrap();
    // The last segment with records (a fresh empty one may follow: open starts a new one).
    let (_, last) = segments
        .iter()
        .rev()
        .find(|(_, p)| std::fs::metadata(p).unwrap().len() > FILE_MAGIC.len() as u64)
        .unwrap()
        .clone();
    let full = std::fs::read(&last).unwrap();
    // Where the last record starts: walk the records.
    let mut pos = FILE_MAGIC.len();
    let mut last_start = pos;
    while let Next::Record(_, end) = record::read_at(&full, pos) {
        last_start = pos;
        pos = end;
    }
    assert_eq!(pos, full.len());
    let mut cuts = 0;
    for cut in last_start..full.len() {
        let copy = TempDir::new("torn-cut");
        for (_, path) in &segments {
            std::fs::copy(path, copy.0.join(path.file_name().unwrap())).unwrap();
        }
        let target = copy.0.join(last.file_name().unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let (spool, recovered) = Spool::open(&config(&copy.0))
            .unwrap_or_else(|e| panic!("cut at {cut}: open failed: {e}"));
        let replayed = texts(&recovered);
        assert_eq!(
            replayed,
            (0..4).map(track).collect::<Vec<_>>(),
            "cut at {cut}"
        );
        assert_eq!(
            recovered.torn.len(),
            usize::from(cut > last_start),
            "cut at {cut}"
        );
        assert_eq!(std::fs::metadata(&target).unwrap().len(), last_start as u64);
        rt().block_on(async { spool.append(&[track(99)]).await.unwrap() });
        drop(spool);
        let (_, again) = Spool::open(&config(&copy.0)).unwrap();
        let mut expected: Vec<Value> = (0..4).map(track).collect();
        expected.push(track(99));
        assert_eq!(texts(&again), expected, "cut at {cut}, after a new append");
        assert!(again.torn.is_empty());
        cuts += 1;
    }
    assert!(cuts > 20, "only {cuts} offsets tried");
    // Garbage after the last record (a tail of zeros from a file system that extended the file
    // before the crash, or random bytes) is cut the same way.
    for tail in [vec![0u8; 100], (0..37).map(|_| fastrand::u8(..)).collect()] {
        let copy = TempDir::new("torn-garbage");
        for (_, path) in &segments {
            std::fs::copy(path, copy.0.join(path.file_name().unwrap())).unwrap();
        }
        let target = copy.0.join(last.file_name().unwrap());
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .unwrap();
        file.write_all(&tail).unwrap();
        drop(file);
        let (_, recovered) = Spool::open(&config(&copy.0)).unwrap();
        assert_eq!(texts(&recovered), (0..5).map(track).collect::<Vec<_>>());
        assert_eq!(recovered.torn.len(), 1);
    }
}

/// Files that fail writes with ENOSPC while `budget` (bytes) is exhausted.
struct FullDisk {
    budget: Arc<AtomicI64>,
}

struct FullFile {
    file: std::fs::File,
    budget: Arc<AtomicI64>,
}

const ENOSPC: i32 = 28;

impl SpoolIo for FullDisk {
    fn create(&self, path: &Path) -> io::Result<Box<dyn SpoolFile>> {
        if self.budget.load(Ordering::SeqCst) <= 0 {
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)?;
        Ok(Box::new(FullFile {
            file,
            budget: Arc::clone(&self.budget),
        }))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

impl SpoolFile for FullFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let left = self.budget.fetch_sub(buf.len() as i64, Ordering::SeqCst);
        if left < buf.len() as i64 {
            // A short write, as a full disk does, then the error.
            let part = left.max(0) as usize;
            Write::write_all(&mut self.file, &buf[..part])?;
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        Write::write_all(&mut self.file, buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// A full disk (simulated behind [`SpoolIo`]: a short write, then ENOSPC) refuses the append
/// with [`Error::SpoolUnavailable`] naming the cause, keeps nothing of it, and the spool works
/// again once there is room. (`tests/forwarder/spool.rs` does the same with a real full tmpfs
/// where mounting is allowed.)
#[test]
fn a_full_disk_refuses_the_append_and_keeps_nothing_of_it() {
    let dir = TempDir::new("enospc");
    let budget = Arc::new(AtomicI64::new(2_000));
    let io = Arc::new(FullDisk {
        budget: Arc::clone(&budget),
    });
    let (spool, _) = Spool::open_with(&config(&dir.0), io.clone()).unwrap();
    rt().block_on(async {
        spool.append(&[track(0)]).await.unwrap();
        let big: Vec<Value> = (1..40).map(track).collect();
        let refused = spool.append(&big).await;
        match &refused {
            Err(Error::SpoolUnavailable(reason)) => {
                assert!(reason.contains("No space left"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(spool.stats().error.is_some());
        budget.store(1 << 30, Ordering::SeqCst);
        spool.append(&[track(40)]).await.unwrap();
        assert!(spool.stats().error.is_none());
    });
    assert_eq!(spool.stats().refused_error, 1);
    drop(spool);
    let (_, recovered) = Spool::open(&config(&dir.0)).unwrap();
    assert_eq!(texts(&recovered), vec![track(0), track(40)]);
    assert!(recovered.torn.is_empty(), "{:?}", recovered.torn);
}

#[test]
fn the_size_bound_refuses_appends_beyond_it() {
    let dir = TempDir::new("max");
    let config = SpoolConfig {
        max_bytes: 2_000,
        ..config(&dir.0)
    };
    let (spool, _) = Spool::open(&config).unwrap();
    rt().block_on(async {
        spool.append(&[track(0)]).await.unwrap();
        let big: Vec<Value> = (1..40).map(track).collect();
        let refused = spool.append(&big).await;
        assert!(
            matches!(refused, Err(Error::SpoolFull { max_bytes: 2_000 })),
            "{refused:?}"
        );
    });
    assert_eq!(spool.stats().refused_full, 1);
}

/// A message that stays pending while thousands of others end does not pin the segments it
/// was written in: it is copied forward, the spool stays a few segments long, and it replays
/// exactly once.
#[test]
fn compaction_bounds_the_spool_behind_a_slow_message() {
    let dir = TempDir::new("compact");
    let config = SpoolConfig {
        segment_bytes: 8 * 1024,
        ..config(&dir.0)
    };
    let (spool, _) = Spool::open(&config).unwrap();
    rt().block_on(async {
        let stuck = spool.append(&[track(0)]).await.unwrap();
        for i in 1..2_000 {
            let seq = spool.append(&[track(i)]).await.unwrap();
            spool.ack(seq);
        }
        let _ = spool.append(&[]).await;
        // Acks are written with a later group, not by `ack` itself: on a loaded machine the
        // last few may still be queued here, so wait (bounded) until only the stuck one is left.
        let mut stats = spool.stats();
        for _ in 0..200 {
            if stats.pending == 1 {
                break;
            }
            let _ = spool.append(&[]).await;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            stats = spool.stats();
        }
        assert!(
            stats.segments <= (writer::COMPACT_AFTER_CLOSED + 2) as u64,
            "{stats:?}"
        );
        assert!(stats.compacted >= 1, "{stats:?}");
        assert_eq!(stats.pending, 1);
        let _ = stuck;
    });
    drop(spool);
    let (_, recovered) = Spool::open(&config).unwrap();
    assert_eq!(texts(&recovered), vec![track(0)]);
}
