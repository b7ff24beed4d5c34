//! Dead letters, written and read in one place: the NDJSON record
//! `{"message", "reason", "status", "call", "at"}` that delivery appends for every message it
//! could not deliver, and the reader that unwraps such a record so `send` can replay the file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The dead-letter sink: NDJSON lines `{"message", "reason", "status", "call", "at"}`.
pub(crate) struct DeadLetters {
    path: Option<PathBuf>,
    /// A std Mutex around a blocking append: one short write per dead letter, rare by nature.
    file: Option<Mutex<std::fs::File>>,
    /// `fdatasync` after each line (the spool's policy: a dead-lettered message leaves the
    /// spool once its line is written, so the line must be as durable as the record was).
    sync: bool,
}

impl DeadLetters {
    pub(crate) fn open(path: Option<PathBuf>, sync: bool) -> Result<DeadLetters> {
        let file = match &path {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::io(format!("dead-letter file {}", path.display()), e))?,
            )),
            None => None,
        };
        Ok(DeadLetters { path, file, sync })
    }

    pub(crate) fn write(
        &self,
        message: &Value,
        reason: &str,
        status: Option<u16>,
        call: Option<&str>,
    ) {
        let line = json!({
            "message": message,
            "reason": reason,
            "status": status,
            "call": call,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        tracing::warn!(%reason, ?status, "dead-lettered a message");
        let Some(file) = &self.file else {
            tracing::error!(dead_letter = %line, "dead letter (no --dead-letter file configured)");
            return;
        };
        // The whole line in one buffer and one `write_all` (an unbuffered `writeln!` on a File
        // is a write per token: a crash between them left a partial line).
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let written = {
            let mut file = file.lock().unwrap();
            file.write_all(&bytes)
                .and_then(|()| if self.sync { file.sync_data() } else { Ok(()) })
        };
        if let Err(e) = written {
            // Still not lost: the whole line goes to the log.
            let path = self.path.as_ref().map(|p| p.display().to_string());
            tracing::error!(error = %e, ?path, dead_letter = %line, "cannot write the dead-letter file");
        }
    }
}

/// The message inside a dead-letter record, or `None` when `object` is not one (a Segment
/// message has a `type`; a record has `message` and `reason` and no `type`).
pub fn unwrap_record(object: &Map<String, Value>) -> Option<&Value> {
    if object.contains_key("type") || !object.contains_key("reason") {
        return None;
    }
    object.get("message")
}
