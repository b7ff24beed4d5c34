//! The spool's writer thread: the one owner of the segment files.
//!
//! Group commit: the thread takes every request waiting in its channel, encodes all their
//! records into one buffer, writes it with one `write` and makes it durable with one
//! `fdatasync`, then answers each request. While it syncs, new requests queue up and form the
//! next group, so the cost of a sync is shared by all the batches that arrived during the last
//! one (and no request waits for more than about two syncs).
//!
//! Acks (messages that ended) are collected in [`Shared::pending_acks`] by the delivery lanes and
//! written as one record per group; a group of acks alone is written but not synced (losing
//! it to a power cut only replays messages that had ended: at least once, never lost).
//!
//! Segments are deleted from the front: the oldest segment goes once none of its messages is
//! pending (an ack is always written after its message, so deleting from the front never
//! leaves an ack without its message, nor a pending message without its record). A segment
//! pinned by a few slow messages (retrying for minutes) is compacted once
//! [`COMPACT_AFTER_CLOSED`] newer segments exist: its pending records are copied verbatim
//! (same seq) into the active segment, synced, and the old file is deleted; a crash in between
//! leaves two copies of a record, which the reader treats as one.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::record::{self, Kind, FILE_MAGIC};
use super::{Shared, SpoolFile, SpoolIo, SyncPolicy};
use crate::error::Error;

/// Closed segments kept before the oldest one's pending records are copied forward.
pub(super) const COMPACT_AFTER_CLOSED: usize = 3;

/// Requests to the writer thread.
pub(super) enum Request {
    /// Append these messages (`payloads` concatenated, `lens` their sizes); answer the first
    /// seq (the others follow in order).
    Append {
        payloads: Vec<u8>,
        lens: Vec<u32>,
        reply: oneshot::Sender<Result<u64, Error>>,
    },
    /// Acks are waiting in [`Shared::pending_acks`].
    Acks,
    /// Write what is pending, sync, delete what ended, stop; the answer comes on `reply`.
    Close(std::sync::mpsc::Sender<()>),
}

/// An append waiting in a group: payloads, their lengths, where to answer.
type Append = (Vec<u8>, Vec<u32>, oneshot::Sender<Result<u64, Error>>);

/// Where a pending message's record lies.
#[derive(Debug, Clone, Copy)]
pub(super) struct Loc {
    pub(super) segment: u64,
    pub(super) offset: u64,
    pub(super) len: u64,
}

/// One segment file.
pub(super) struct Segment {
    pub(super) id: u64,
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
    /// Messages in this file not yet ended.
    pub(super) live: u64,
}

/// The writer's state (owned by its thread).
pub(super) struct Writer {
    pub(super) dir: PathBuf,
    pub(super) max_bytes: u64,
    pub(super) segment_bytes: u64,
    pub(super) sync: SyncPolicy,
    pub(super) io: Arc<dyn SpoolIo>,
    /// Oldest first; the last one is the active segment (when `active` is open).
    pub(super) segments: VecDeque<Segment>,
    pub(super) active: Option<Box<dyn SpoolFile>>,
    /// Pending messages by seq.
    pub(super) locs: HashMap<u64, Loc>,
    pub(super) next_seq: u64,
    pub(super) next_segment: u64,
    /// Acks taken from `pending_acks` whose write failed: written with the next group.
    pub(super) unwritten_acks: Vec<u64>,
    pub(super) shared: Arc<Shared>,
    /// Whether the last write failed (the next success is logged as a recovery).
    pub(super) failing: bool,
    /// Held for the writer's life: one process per spool directory.
    pub(super) _lock: Option<std::fs::File>,
}

pub(super) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("seg-{id:010}.log"))
}

impl Writer {
    pub(super) fn run(mut self, requests: mpsc::Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut appends = Vec::new();
            let mut close = None;
            let mut push = |request: Request, appends: &mut Vec<_>| match request {
                Request::Append {
                    payloads,
                    lens,
                    reply,
                } => appends.push((payloads, lens, reply)),
                Request::Acks => {}
                Request::Close(reply) => close = Some(reply),
            };
            push(first, &mut appends);
            // Everything that queued up while the last group was syncing joins this group.
            while appends.len() < 4096 {
                match requests.try_recv() {
                    Ok(request) => push(request, &mut appends),
                    Err(_) => break,
                }
            }
            self.group(appends);
            self.collect_garbage();
            self.publish();
            if let Some(reply) = close {
                self.close();
                let _ = reply.send(());
                return;
            }
        }
        // Every handle dropped without a close (a test, a crash of the embedder): leave the
        // files as they are; the next open replays them.
    }

    /// Writes one group: the appends that fit, then the pending acks, with one write and (when
    /// anything was appended) one sync.
    fn group(&mut self, appends: Vec<Append>) {
        let mut acks = std::mem::take(&mut self.unwritten_acks);
        acks.append(&mut self.shared.pending_acks.lock().unwrap());
        let mut buf = Vec::new();
        // (reply, first seq, record offsets within `buf` and lengths)
        let mut accepted = Vec::new();
        for (payloads, lens, reply) in appends {
            let need: u64 = lens
                .iter()
                .map(|len| (record::HEADER + *len as usize) as u64)
                .sum();
            if self.total_bytes() + buf.len() as u64 + need > self.max_bytes {
                self.shared.refused_full.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(Err(Error::SpoolFull {
                    max_bytes: self.max_bytes,
                }));
                continue;
            }
            let first = self.next_seq;
            let mut records = Vec::with_capacity(lens.len());
            let mut at = 0usize;
            for len in &lens {
                let start = buf.len();
                let payload = &payloads[at..at + *len as usize];
                at += *len as usize;
                record::encode(&mut buf, Kind::Message, self.next_seq, payload);
                records.push((self.next_seq, start as u64, (buf.len() - start) as u64));
                self.next_seq += 1;
            }
            accepted.push((reply, first, records));
        }
        if !acks.is_empty() {
            let mut payload = Vec::with_capacity(acks.len() * 8);
            for seq in &acks {
                payload.extend_from_slice(&seq.to_le_bytes());
            }
            record::encode(&mut buf, Kind::Acks, 0, &payload);
        }
        if buf.is_empty() {
            // Only empty appends (or nothing): nothing to write.
            for (reply, first, _) in accepted {
                let _ = reply.send(Ok(first));
            }
            return;
        }
        let must_sync = !accepted.is_empty() && self.sync == SyncPolicy::Fsync;
        let written = self
            .ensure_active(buf.len() as u64)
            .and_then(|start| self.write_active(&buf, must_sync).map(|()| start));
        match written {
            Ok(start) => {
                if self.failing {
                    self.failing = false;
                    *self.shared.last_error.lock().unwrap() = None;
                    tracing::info!(dir = %self.dir.display(), "spool writable again");
                }
                let segment = self.segments.back_mut().expect("an active segment");
                let id = segment.id;
                segment.bytes += buf.len() as u64;
                let mut appended = 0;
                for (reply, first, records) in accepted {
                    for (seq, offset, len) in records {
                        self.locs.insert(
                            seq,
                            Loc {
                                segment: id,
                                offset: start + offset,
                                len,
                            },
                        );
                        appended += 1;
                    }
                    let _ = reply.send(Ok(first));
                }
                self.segments.back_mut().expect("active").live += appended;
                self.shared.appended.fetch_add(appended, Ordering::Relaxed);
                if must_sync {
                    self.shared.syncs.fetch_add(1, Ordering::Relaxed);
                }
                for seq in acks {
                    self.ended(seq);
                }
            }
            Err(e) => {
                let reason = format!("cannot write the spool in {}: {e}", self.dir.display());
                if !self.failing {
                    tracing::error!(error = %e, dir = %self.dir.display(),
                        "spool write failed: the ingress answers 503 until it is writable");
                }
                self.failing = true;
                *self.shared.last_error.lock().unwrap() = Some(reason.clone());
                self.shared
                    .refused_error
                    .fetch_add(accepted.len() as u64, Ordering::Relaxed);
                for (reply, _, _) in accepted {
                    let _ = reply.send(Err(Error::SpoolUnavailable(reason.clone())));
                }
                self.unwritten_acks = acks;
            }
        }
    }

    /// The active segment's current length, rotating to a new segment first when the active
    /// one is full (or was abandoned after a failed write).
    fn ensure_active(&mut self, incoming: u64) -> io::Result<u64> {
        let full = self.segments.back().is_some_and(|s| {
            s.bytes > FILE_MAGIC.len() as u64 && s.bytes + incoming > self.segment_bytes
        });
        if self.active.is_some() && !full {
            return Ok(self.segments.back().expect("active").bytes);
        }
        if let Some(mut old) = self.active.take() {
            // Acks written since the last sync reach the disk before the file is left behind.
            if self.sync == SyncPolicy::Fsync {
                let _ = old.sync();
            }
        }
        let id = self.next_segment;
        let path = segment_path(&self.dir, id);
        let mut file = self.io.create(&path)?;
        self.next_segment += 1;
        let created = file.append(FILE_MAGIC).and_then(|()| {
            if self.sync == SyncPolicy::Fsync {
                file.sync()?;
                self.io.sync_dir(&self.dir)?;
            }
            Ok(())
        });
        if let Err(e) = created {
            let _ = self.io.remove(&path);
            return Err(e);
        }
        self.segments.push_back(Segment {
            id,
            path,
            bytes: FILE_MAGIC.len() as u64,
            live: 0,
        });
        self.active = Some(file);
        Ok(FILE_MAGIC.len() as u64)
    }

    /// Writes `buf` at the end of the active segment (and syncs it when asked). On failure the
    /// segment is cut back to where it was; if even that fails, or the sync failed (after a
    /// failed fsync the kernel's view of the file is unknown), the segment is abandoned and the
    /// next write starts a new one. Either way nothing of this group is acknowledged.
    fn write_active(&mut self, buf: &[u8], sync: bool) -> io::Result<()> {
        let start = self.segments.back().expect("active").bytes;
        let file = self.active.as_mut().expect("active");
        let result = file
            .append(buf)
            .and_then(|()| if sync { file.sync() } else { Ok(()) });
        if let Err(e) = result {
            let restored = file.truncate(start);
            if restored.is_err() || sync {
                self.active = None;
            }
            return Err(e);
        }
        Ok(())
    }

    /// One message ended: it no longer pins its segment.
    fn ended(&mut self, seq: u64) {
        let Some(loc) = self.locs.remove(&seq) else {
            return;
        };
        if let Some(segment) = self.segment_mut(loc.segment) {
            segment.live = segment.live.saturating_sub(1);
        }
    }

    fn segment_mut(&mut self, id: u64) -> Option<&mut Segment> {
        let index = self.segments.binary_search_by_key(&id, |s| s.id).ok()?;
        self.segments.get_mut(index)
    }

    fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Deletes the oldest segments while nothing in them is pending, and compacts the oldest
    /// one when it pins too many newer segments.
    fn collect_garbage(&mut self) {
        loop {
            let closed = self.segments.len().saturating_sub(1);
            let Some(front) = self.segments.front() else {
                return;
            };
            if closed == 0 {
                return;
            }
            if front.live == 0 {
                let front = self.segments.pop_front().expect("front");
                if let Err(e) = self.io.remove(&front.path) {
                    tracing::warn!(error = %e, path = %front.path.display(), "cannot delete a spent spool segment");
                }
                continue;
            }
            if closed >= COMPACT_AFTER_CLOSED && self.active.is_some() {
                if let Err(e) = self.copy_forward() {
                    tracing::warn!(error = %e, "spool compaction failed; retried after the next write");
                    return;
                }
                continue;
            }
            return;
        }
    }

    /// Copies the oldest segment's pending records, verbatim, to the active segment and syncs
    /// them; the oldest segment then has nothing pending and is deleted by the caller.
    fn copy_forward(&mut self) -> io::Result<()> {
        let front = self.segments.front().expect("front");
        let (front_id, front_path) = (front.id, front.path.clone());
        let mut moving: Vec<(u64, Loc)> = self
            .locs
            .iter()
            .filter(|(_, loc)| loc.segment == front_id)
            .map(|(seq, loc)| (*seq, *loc))
            .collect();
        moving.sort_by_key(|(seq, _)| *seq);
        let bytes = self.io.read(&front_path)?;
        let mut buf = Vec::new();
        let mut new_locs = Vec::with_capacity(moving.len());
        for (seq, loc) in &moving {
            let (from, to) = (loc.offset as usize, (loc.offset + loc.len) as usize);
            let chunk = bytes.get(from..to).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "pending record beyond the file's end",
                )
            })?;
            new_locs.push((*seq, buf.len() as u64, loc.len));
            buf.extend_from_slice(chunk);
        }
        let start = self.ensure_active(buf.len() as u64)?;
        self.write_active(&buf, self.sync == SyncPolicy::Fsync)?;
        let active = self.segments.back_mut().expect("active");
        active.bytes += buf.len() as u64;
        active.live += moving.len() as u64;
        let active_id = active.id;
        for (seq, offset, len) in new_locs {
            self.locs.insert(
                seq,
                Loc {
                    segment: active_id,
                    offset: start + offset,
                    len,
                },
            );
        }
        self.segments.front_mut().expect("front").live = 0;
        self.shared
            .compacted
            .fetch_add(moving.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Updates the counters `GET /stats` reads.
    fn publish(&self) {
        let s = &self.shared;
        s.bytes.store(self.total_bytes(), Ordering::Relaxed);
        s.segments
            .store(self.segments.len() as u64, Ordering::Relaxed);
        s.pending.store(self.locs.len() as u64, Ordering::Relaxed);
    }

    /// Writes pending acks, syncs, and when nothing is pending any more deletes every segment
    /// (a clean stop leaves an empty directory).
    fn close(&mut self) {
        self.group(Vec::new());
        if let Some(file) = self.active.as_mut() {
            if let Err(e) = file.sync() {
                tracing::warn!(error = %e, "cannot sync the spool on close");
            }
        }
        self.collect_garbage();
        if self.locs.is_empty() && self.unwritten_acks.is_empty() {
            self.active = None;
            for segment in self.segments.drain(..) {
                if let Err(e) = self.io.remove(&segment.path) {
                    tracing::warn!(error = %e, path = %segment.path.display(), "cannot delete a spool segment");
                }
            }
        } else {
            tracing::warn!(
                pending = self.locs.len(),
                dir = %self.dir.display(),
                "spool closed with messages pending: the next start replays them"
            );
        }
        self.publish();
        self.shared.closed.store(true, Ordering::SeqCst);
    }
}
