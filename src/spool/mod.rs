//! The durable spool: `serve` answers 200 only once a batch is on disk, and a restart replays
//! what had not ended.
//!
//! An append-only log of segment files in one directory (format: [`record`]). Each accepted
//! message is a record with a sequence number (`seq`); each message that ends (delivered,
//! skipped, dead-lettered, duplicate) is acknowledged by an ack record naming its seq. On start,
//! [`Spool::open`] reads every segment, cuts a torn tail (a crash mid-append) at the last valid
//! record, and hands back the messages without an ack, in seq order (which keeps each user's
//! order). Writing is done by one thread with group commit ([`writer`]). Why this design and
//! not an embedded store, with figures: docs/SPOOL.md.
//!
//! One process per directory: [`Spool::open`] takes an exclusive lock on `DIR/LOCK`.

mod record;
mod writer;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use record::{Kind, Next, FILE_MAGIC};
use writer::{segment_path, Loc, Request, Segment, Writer};

/// When an append is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// `fdatasync` before the 200: survives a crash of the process and of the host.
    #[default]
    Fsync,
    /// `write` only (the page cache): survives a crash or kill of the process, not a power cut
    /// or kernel panic.
    Write,
}

/// Where the spool lives and how big it may grow.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// The spool directory (created when missing).
    pub dir: PathBuf,
    /// Largest total size of the segment files; an append beyond it is refused (503).
    pub max_bytes: u64,
    /// Size at which the active segment is closed and a new one started.
    pub segment_bytes: u64,
    /// See [`SyncPolicy`]; also applied to the dead-letter file.
    pub sync: SyncPolicy,
}

impl SpoolConfig {
    /// The defaults (1 GiB at most, 16 MiB segments, fsync) in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            sync: SyncPolicy::Fsync,
        }
    }
}

/// The file operations the writer needs: the real file system, or (in tests) one that fails
/// on demand, to show what a full disk does without filling one.
pub trait SpoolIo: Send + Sync + 'static {
    /// Creates a new segment file for appending (it must not exist).
    fn create(&self, path: &Path) -> io::Result<Box<dyn SpoolFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Deletes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries durable (after a create).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open segment file, appended to.
pub trait SpoolFile: Send {
    /// Appends all of `buf` (or fails).
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// `fdatasync`.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (undoing a failed append); later appends go to the end.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default)]
pub struct FsIo;

impl SpoolIo for FsIo {
    fn create(&self, path: &Path) -> io::Result<Box<dyn SpoolFile>> {
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)?;
        Ok(Box::new(file))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

impl SpoolFile for std::fs::File {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(self, buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // O_APPEND: the next write goes to the (new) end.
        self.set_len(len)
    }
}

/// The spool's counters, as served under `"spool"` by `GET /stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpoolStats {
    /// The spool directory.
    pub dir: String,
    /// Total size of the segment files.
    pub bytes: u64,
    /// `--spool-max`.
    pub max_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Messages on disk that have not ended.
    pub pending: u64,
    /// Messages appended since start.
    pub appended: u64,
    /// Group commits (fdatasync calls) since start.
    pub syncs: u64,
    /// Messages replayed from the spool at start.
    pub replayed: u64,
    /// Pending records copied forward by compaction since start.
    pub compacted: u64,
    /// Appends refused because the spool was at `--spool-max`.
    pub refused_full: u64,
    /// Appends refused because the disk could not be written.
    pub refused_error: u64,
    /// The last write error, while the spool is failing.
    pub error: Option<String>,
}

/// State shared by the handle and the writer thread.
pub(crate) struct Shared {
    pending_acks: Mutex<Vec<u64>>,
    last_error: Mutex<Option<String>>,
    bytes: AtomicU64,
    segments: AtomicU64,
    pending: AtomicU64,
    appended: AtomicU64,
    syncs: AtomicU64,
    replayed: AtomicU64,
    compacted: AtomicU64,
    refused_full: AtomicU64,
    refused_error: AtomicU64,
    closed: AtomicBool,
}

/// What [`Spool::open`] found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Messages accepted earlier that never ended, in acceptance order: `(seq, JSON text)`.
    pub pending: Vec<(u64, Vec<u8>)>,
    /// `messageId`s of messages still on disk that had ended: a client resending them after
    /// the crash (it never saw the 200) is caught as a duplicate.
    pub ended_message_ids: Vec<String>,
    /// Torn tails cut: `(segment file, offset, bytes dropped, why)`.
    pub torn: Vec<(PathBuf, u64, u64, &'static str)>,
    /// Time spent reading the spool.
    pub took: Duration,
}

/// A handle to the spool. Dropping it without [`Spool::close`] leaves the files for a replay.
pub struct Spool {
    requests: Mutex<mpsc::Sender<Request>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    dir: PathBuf,
    max_bytes: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).finish()
    }
}

impl Spool {
    /// Opens (creating) the spool in `config.dir`: locks it, reads every segment, cuts torn
    /// tails, and starts the writer thread on a new segment.
    pub fn open(config: &SpoolConfig) -> Result<(Spool, Recovered)> {
        Self::open_with(config, Arc::new(FsIo))
    }

    /// As [`Spool::open`], writing through `io` (tests inject failures there).
    pub fn open_with(config: &SpoolConfig, io: Arc<dyn SpoolIo>) -> Result<(Spool, Recovered)> {
        let dir = config.dir.clone();
        let io_err = |what: &str, e| Error::io(format!("spool {}: {what}", dir.display()), e);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("cannot create the directory", e))?;
        let lock = lock_dir(&dir)?;
        let started = Instant::now();
        let found = read_dir(&dir).map_err(|e| io_err("cannot list the directory", e))?;
        let scan = scan(&found, &*io).map_err(|e| io_err("cannot read a segment", e))?;
        let mut recovered = Recovered {
            torn: scan.torn,
            ..Recovered::default()
        };
        let mut segments: VecDeque<Segment> = VecDeque::new();
        let mut locs = std::collections::HashMap::new();
        for (id, path, bytes) in &scan.segments {
            segments.push_back(Segment {
                id: *id,
                path: path.clone(),
                bytes: *bytes,
                live: 0,
            });
        }
        for (seq, (segment, offset, len, payload)) in scan.messages {
            if scan.acked.contains(&seq) {
                if let Some(id) = message_id(&payload) {
                    recovered.ended_message_ids.push(id);
                }
                continue;
            }
            locs.insert(
                seq,
                Loc {
                    segment,
                    offset,
                    len,
                },
            );
            if let Ok(index) = segments.binary_search_by_key(&segment, |s| s.id) {
                segments[index].live += 1;
            }
            recovered.pending.push((seq, payload));
        }
        recovered.took = started.elapsed();
        let shared = Arc::new(Shared {
            pending_acks: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
            bytes: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            pending: AtomicU64::new(locs.len() as u64),
            appended: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            compacted: AtomicU64::new(0),
            refused_full: AtomicU64::new(0),
            refused_error: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        let next_segment = segments.back().map_or(1, |s| s.id + 1);
        let mut writer = Writer {
            dir: dir.clone(),
            max_bytes: config.max_bytes,
            segment_bytes: config.segment_bytes.max(4096),
            sync: config.sync,
            io,
            segments,
            active: None,
            locs,
            next_seq: scan.max_seq + 1,
            next_segment,
            unwritten_acks: Vec::new(),
            shared: Arc::clone(&shared),
            failing: false,
            _lock: Some(lock),
        };
        // Start on a fresh segment now, so an unwritable directory fails the start-up rather
        // than the first request.
        if let Err(e) = writer_start(&mut writer) {
            return Err(io_err("cannot create a segment", e));
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| io_err("cannot start the writer thread", e))?;
        Ok((
            Spool {
                requests: Mutex::new(tx),
                shared,
                thread: Mutex::new(Some(thread)),
                dir,
                max_bytes: config.max_bytes,
            },
            recovered,
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `messages` and returns once they are durable (per the [`SyncPolicy`]), with the
    /// seq of the first (the rest follow in order). [`Error::SpoolFull`] or
    /// [`Error::SpoolUnavailable`] when they could not be written: nothing of them is kept.
    pub async fn append(&self, messages: &[Value]) -> Result<u64> {
        let mut payloads = Vec::with_capacity(messages.len() * 512);
        let mut lens = Vec::with_capacity(messages.len());
        for message in messages {
            let before = payloads.len();
            serde_json::to_writer(&mut payloads, message)
                .map_err(|e| Error::SpoolUnavailable(format!("cannot encode a message: {e}")))?;
            lens.push(u32::try_from(payloads.len() - before).unwrap_or(u32::MAX));
        }
        let (reply, answer) = oneshot::channel();
        self.send(Request::Append {
            payloads,
            lens,
            reply,
        })?;
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Marks the message `seq` as ended; written with the next group.
    pub fn ack(&self, seq: u64) {
        let first = {
            let mut acks = self.shared.pending_acks.lock().unwrap();
            acks.push(seq);
            acks.len() == 1
        };
        if first {
            let _ = self.send(Request::Acks);
        }
    }

    /// Counts a replayed message (for `/stats`).
    pub(crate) fn count_replayed(&self, n: u64) {
        self.shared.replayed.fetch_add(n, Ordering::Relaxed);
    }

    /// Writes what is pending, and when nothing is pending deletes the segments; stops the
    /// writer. Blocking (a sync); call from a blocking context or at shutdown.
    pub fn close(&self) {
        let (tx, rx) = mpsc::channel();
        if self.send(Request::Close(tx)).is_ok() {
            let _ = rx.recv();
        }
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
    }

    /// The counters.
    pub fn stats(&self) -> SpoolStats {
        let s = &self.shared;
        SpoolStats {
            dir: self.dir.display().to_string(),
            bytes: s.bytes.load(Ordering::Relaxed),
            max_bytes: self.max_bytes,
            segments: s.segments.load(Ordering::Relaxed),
            pending: s.pending.load(Ordering::Relaxed),
            appended: s.appended.load(Ordering::Relaxed),
            syncs: s.syncs.load(Ordering::Relaxed),
            replayed: s.replayed.load(Ordering::Relaxed),
            compacted: s.compacted.load(Ordering::Relaxed),
            refused_full: s.refused_full.load(Ordering::Relaxed),
            refused_error: s.refused_error.load(Ordering::Relaxed),
            error: s.last_error.lock().unwrap().clone(),
        }
    }

    fn send(&self, request: Request) -> Result<()> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        self.requests
            .lock()
            .unwrap()
            .send(request)
            .map_err(|_| closed())
    }
}

impl Drop for Spool {
    /// Stops the writer without writing what is pending (as a crash would, minus the torn
    /// tail): the next open replays it. Waits for the thread, so the directory lock is free
    /// when this returns.
    fn drop(&mut self) {
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut *self.requests.lock().unwrap(), dead));
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
    }
}

fn closed() -> Error {
    Error::SpoolUnavailable("the spool is closed".into())
}

fn writer_start(writer: &mut Writer) -> io::Result<()> {
    let id = writer.next_segment;
    let path = segment_path(&writer.dir, id);
    let mut file = writer.io.create(&path)?;
    file.append(FILE_MAGIC)?;
    if writer.sync == SyncPolicy::Fsync {
        file.sync()?;
        writer.io.sync_dir(&writer.dir)?;
    }
    writer.next_segment += 1;
    writer.segments.push_back(Segment {
        id,
        path,
        bytes: FILE_MAGIC.len() as u64,
        live: 0,
    });
    writer.active = Some(file);
    Ok(())
}

/// Takes the directory's lock (one process per spool).
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("spool lock {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Config(format!(
            "the spool directory {} is in use by another usercom-forwarder process: give each process its own --spool DIR",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("spool lock {}", path.display()), e))
        }
    }
}

/// Segment files of `dir`, by id.
fn read_dir(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let id = name
            .strip_prefix("seg-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(id) = id {
            found.push((id, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// What the segments hold.
struct Scan {
    /// `(id, path, valid length)`.
    segments: Vec<(u64, PathBuf, u64)>,
    /// seq → (segment, offset, record length, payload). A record copied forward by compaction
    /// may appear twice: one is kept.
    messages: BTreeMap<u64, (u64, u64, u64, Vec<u8>)>,
    acked: HashSet<u64>,
    max_seq: u64,
    torn: Vec<(PathBuf, u64, u64, &'static str)>,
}

fn scan(found: &[(u64, PathBuf)], io: &dyn SpoolIo) -> io::Result<Scan> {
    let mut scan = Scan {
        segments: Vec::new(),
        messages: BTreeMap::new(),
        acked: HashSet::new(),
        max_seq: 0,
        torn: Vec::new(),
    };
    for (id, path) in found {
        let bytes = io.read(path)?;
        let mut pos = 0usize;
        let mut torn = None;
        if bytes.len() < FILE_MAGIC.len() || &bytes[..FILE_MAGIC.len()] != FILE_MAGIC {
            torn = Some("missing or partial segment header");
        } else {
            pos = FILE_MAGIC.len();
            loop {
                match record::read_at(&bytes, pos) {
                    Next::Record(r, end) => {
                        match r.kind {
                            Kind::Message => {
                                scan.max_seq = scan.max_seq.max(r.seq);
                                scan.messages.insert(
                                    r.seq,
                                    (*id, pos as u64, (end - pos) as u64, r.payload.to_vec()),
                                );
                            }
                            Kind::Acks => scan.acked.extend(record::acked_seqs(r.payload)),
                        }
                        pos = end;
                    }
                    Next::End => break,
                    Next::Torn(why) => {
                        torn = Some(why);
                        break;
                    }
                }
            }
        }
        if let Some(why) = torn {
            let dropped = (bytes.len() - pos) as u64;
            tracing::warn!(
                segment = %path.display(), offset = pos, bytes = dropped, reason = why,
                "spool: torn tail (a crash during an append) cut; the records before it are kept"
            );
            scan.torn.push((path.clone(), pos as u64, dropped, why));
            if pos == 0 {
                // Not even a header: nothing in it was ever acknowledged.
                io.remove(path)?;
                continue;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(pos as u64).and_then(|()| f.sync_all()))?;
        }
        scan.segments.push((*id, path.clone(), pos as u64));
    }
    Ok(scan)
}

/// The `messageId` of a message's JSON text, read the way [`crate::segment::message_id`] does.
fn message_id(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        #[serde(rename = "messageId")]
        message_id: Option<Value>,
    }
    let id: Id = serde_json::from_slice(payload).ok()?;
    let mut object = serde_json::Map::new();
    object.insert("messageId".into(), id.message_id?);
    crate::segment::message_id(&Value::Object(object))
}

#[cfg(test)]
mod tests;
