//! `send --resume`: how far `send` got through its input, kept on disk so an interrupted run
//! (Ctrl-C, `kill -9`, a reboot) continues where it stopped instead of sending everything again.
//!
//! The checkpoint names the input by its length and CRC-32 (so a changed file is refused, not
//! resumed at a wrong position) and holds which of the file's items have ended (delivered,
//! skipped or dead-lettered): a watermark below which every item ended, and the few ended items
//! above it (messages end out of order across users). It is written atomically (a temporary
//! file, fsync, rename, fsync of the folder) at most every [`WRITE_EVERY`] and at the end.
//!
//! What a crash can repeat: the items that ended after the last write (at most
//! [`WRITE_EVERY`] of progress) and those in flight; they are sent again on resume. An event
//! sent twice is then two occurrences in User.com (at least once, as Segment itself delivers).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The longest time between two checkpoint writes while items end.
pub const WRITE_EVERY: Duration = Duration::from_millis(250);

const VERSION: u32 = 1;

/// The checkpoint file of an input file: `FILE.checkpoint` beside it.
pub fn path_for(input: &Path) -> PathBuf {
    let mut name = input.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

/// Which input a checkpoint belongs to: its (decompressed) length and CRC-32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the bytes.
    pub crc32: u32,
}

impl InputId {
    /// The identity of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        InputId {
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    input: InputId,
    /// Items in the input (messages and invalid lines).
    items: usize,
    /// Every item below this index has ended.
    ended_below: usize,
    /// Items at or above `ended_below` that have ended.
    ended: Vec<usize>,
}

/// The progress of one `send` through one input, persisted to a file.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    input: InputId,
    items: usize,
    ended_below: usize,
    ended: BTreeSet<usize>,
    dirty: bool,
    written: Instant,
}

impl Checkpoint {
    /// Opens the checkpoint at `path` for an input of `items` items with identity `input`: the
    /// saved progress when the file exists, else a fresh start. A checkpoint of another input
    /// (changed or different file) or an unreadable one is an error that says what to do.
    pub fn open(path: &Path, input: InputId, items: usize) -> anyhow::Result<Self> {
        let fresh = Checkpoint {
            path: path.to_path_buf(),
            input,
            items,
            ended_below: 0,
            ended: BTreeSet::new(),
            dirty: true,
            written: Instant::now(),
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fresh),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let saved: File = serde_json::from_slice(&text).with_context(|| {
            format!(
                "{} is not a send checkpoint (delete it to start over)",
                path.display()
            )
        })?;
        if saved.version != VERSION {
            bail!(
                "{}: checkpoint version {} is not {VERSION} (delete it to start over)",
                path.display(),
                saved.version
            );
        }
        if saved.input != input || saved.items != items {
            bail!(
                "{} belongs to another input ({} bytes, CRC-32 {:08x}, {} items; this one: {} bytes, \
                 CRC-32 {:08x}, {items} items): the file changed since the interrupted run, so \
                 resuming would skip the wrong messages. Delete the checkpoint to send it all again.",
                path.display(),
                saved.input.bytes,
                saved.input.crc32,
                saved.items,
                input.bytes,
                input.crc32,
            );
        }
        let mut cp = Checkpoint {
            ended_below: saved.ended_below.min(items),
            ended: saved.ended.into_iter().filter(|&i| i < items).collect(),
            dirty: false,
            ..fresh
        };
        cp.advance();
        Ok(cp)
    }

    /// Whether item `index` ended in an earlier run (resume skips it).
    pub fn has_ended(&self, index: usize) -> bool {
        index < self.ended_below || self.ended.contains(&index)
    }

    /// How many items have ended.
    pub fn ended_count(&self) -> usize {
        self.ended_below + self.ended.len()
    }

    /// Whether every item has ended.
    pub fn complete(&self) -> bool {
        self.ended_below >= self.items
    }

    /// Records that item `index` ended; writes the file when [`WRITE_EVERY`] has passed since
    /// the last write. A write error is returned (the caller decides; progress stays in memory).
    pub fn record(&mut self, index: usize) -> anyhow::Result<()> {
        if index >= self.ended_below {
            self.ended.insert(index);
            self.advance();
            self.dirty = true;
        }
        if self.written.elapsed() >= WRITE_EVERY {
            self.save()?;
        }
        Ok(())
    }

    /// Writes the file now if anything changed since the last write.
    pub fn save(&mut self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let file = File {
            version: VERSION,
            input: self.input,
            items: self.items,
            ended_below: self.ended_below,
            ended: self.ended.iter().copied().collect(),
        };
        let text = serde_json::to_vec(&file).expect("a checkpoint always serializes");
        write_atomically(&self.path, &text)
            .with_context(|| format!("cannot write the checkpoint {}", self.path.display()))?;
        self.dirty = false;
        self.written = Instant::now();
        Ok(())
    }

    /// Moves the watermark over the ended items that follow it.
    fn advance(&mut self) {
        while self.ended.remove(&self.ended_below) {
            self.ended_below += 1;
        }
    }
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable once the folder is synced (not possible on every platform).
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "usercom-checkpoint-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn progress_survives_a_reopen_out_of_order() {
        let d = dir();
        let path = d.join("events.ndjson.checkpoint");
        let id = InputId::of(b"abc");
        let mut cp = Checkpoint::open(&path, id, 6).unwrap();
        for i in [0, 1, 3, 5] {
            cp.record(i).unwrap();
        }
        cp.save().unwrap();
        let cp = Checkpoint::open(&path, id, 6).unwrap();
        let ended: Vec<bool> = (0..6).map(|i| cp.has_ended(i)).collect();
        assert_eq!(ended, [true, true, false, true, false, true]);
        assert_eq!(cp.ended_count(), 4);
        assert!(!cp.complete());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_watermark_moves_over_ended_items() {
        let d = dir();
        let path = d.join("c");
        let mut cp = Checkpoint::open(&path, InputId::of(b""), 4).unwrap();
        for i in [3, 1, 2] {
            cp.record(i).unwrap();
        }
        assert_eq!((cp.ended_below, cp.ended.len()), (0, 3));
        cp.record(0).unwrap();
        assert_eq!((cp.ended_below, cp.ended.len()), (4, 0));
        assert!(cp.complete());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn another_input_is_refused_with_what_to_do() {
        let d = dir();
        let path = d.join("c");
        let mut cp = Checkpoint::open(&path, InputId::of(b"one"), 2).unwrap();
        cp.record(0).unwrap();
        cp.save().unwrap();
        let err = Checkpoint::open(&path, InputId::of(b"two"), 2).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("file changed"), "{text}");
        assert!(text.contains("Delete the checkpoint"), "{text}");
        let err = Checkpoint::open(&path, InputId::of(b"one"), 3).unwrap_err();
        assert!(format!("{err:#}").contains("another input"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_damaged_checkpoint_is_an_error_not_a_fresh_start() {
        let d = dir();
        let path = d.join("c");
        std::fs::write(&path, b"{\"version\": 1, \"inp").unwrap();
        let err = Checkpoint::open(&path, InputId::of(b""), 1).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a send checkpoint"),
            "{err:#}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_path_is_beside_the_input() {
        assert_eq!(
            path_for(Path::new("/data/events.ndjson.gz")),
            PathBuf::from("/data/events.ndjson.gz.checkpoint")
        );
    }
}
