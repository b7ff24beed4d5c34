//! The on-disk format of a spool segment: an 8-byte file header, then records.
//!
//! ```text
//! file   := "UCSPOOL1" record*
//! record := len:u32le crc:u32le kind:u8 seq:u64le payload[len]
//! crc    := CRC-32 (IEEE, crc32fast) of kind, seq and payload
//! kind   := 1 (a message: payload = its JSON) | 2 (acks: payload = u64le seqs that ended)
//! ```
//!
//! A record is valid only when its header is complete, its length is within bounds, its kind is
//! known and its checksum matches. A crash in the middle of an append leaves a *torn tail*: a
//! partial header, a partial payload, or bytes that do not check; the reader stops there
//! ([`Next::Torn`]) and the opener truncates the file to the last good record. Nothing after a
//! bad record is trusted (a segment is written strictly front to back, so a bad record can only
//! be the last one the crashed process wrote).

/// The first bytes of every segment file.
pub(crate) const FILE_MAGIC: &[u8; 8] = b"UCSPOOL1";
/// Bytes before a record's payload.
pub(crate) const HEADER: usize = 4 + 4 + 1 + 8;
/// Largest payload accepted when reading: a Segment message is at most 32 KB; an ack record
/// holds at most a few thousand seqs. A garbage length beyond this is a torn record, not an
/// allocation.
pub(crate) const MAX_PAYLOAD: usize = 8 << 20;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One accepted Segment message (its JSON text).
    Message = 1,
    /// Seqs of messages that ended (delivered, skipped, dead-lettered or duplicate).
    Acks = 2,
}

/// Appends one record to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, kind: Kind, seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("a record payload fits in u32");
    out.reserve(HEADER + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(kind as u8, seq, payload).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(kind: u8, seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[kind]);
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// One valid record, borrowed from the segment's bytes.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub(crate) kind: Kind,
    pub(crate) seq: u64,
    pub(crate) payload: &'a [u8],
}

/// What is at a position of a segment.
#[derive(Debug)]
pub(crate) enum Next<'a> {
    /// A valid record, and the position just after it.
    Record(Record<'a>, usize),
    /// The clean end of the segment.
    End,
    /// Bytes that are not a valid record (a torn or corrupt tail), and why.
    Torn(&'static str),
}

/// Reads the record starting at `pos` of a whole segment `bytes`.
pub(crate) fn read_at(bytes: &[u8], pos: usize) -> Next<'_> {
    let rest = &bytes[pos.min(bytes.len())..];
    if rest.is_empty() {
        return Next::End;
    }
    if rest.len() < HEADER {
        return Next::Torn("partial record header");
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    let kind = match rest[8] {
        1 => Kind::Message,
        2 => Kind::Acks,
        _ => return Next::Torn("unknown record kind (zeroed or garbage bytes)"),
    };
    let seq = u64::from_le_bytes(rest[9..17].try_into().expect("8 bytes"));
    if len > MAX_PAYLOAD {
        return Next::Torn("record length out of bounds");
    }
    if rest.len() < HEADER + len {
        return Next::Torn("partial record payload");
    }
    let payload = &rest[HEADER..HEADER + len];
    if checksum(kind as u8, seq, payload) != crc {
        return Next::Torn("checksum mismatch");
    }
    Next::Record(Record { kind, seq, payload }, pos + HEADER + len)
}

/// The seqs of an ack record's payload (a trailing partial seq cannot occur: the payload checked).
pub(crate) fn acked_seqs(payload: &[u8]) -> impl Iterator<Item = u64> + '_ {
    payload
        .chunks_exact(8)
        .map(|chunk| u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_every_truncation_is_torn() {
        let mut bytes = Vec::new();
        encode(&mut bytes, Kind::Message, 7, br#"{"type":"track"}"#);
        let Next::Record(record, end) = read_at(&bytes, 0) else {
            panic!("a whole record reads back");
        };
        assert_eq!(
            (record.kind, record.seq, record.payload, end),
            (Kind::Message, 7, &br#"{"type":"track"}"#[..], bytes.len())
        );
        assert!(matches!(read_at(&bytes, end), Next::End));
        for cut in 1..bytes.len() {
            assert!(
                matches!(read_at(&bytes[..cut], 0), Next::Torn(_)),
                "cut at {cut}"
            );
        }
        for flip in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[flip] ^= 0x40;
            assert!(
                matches!(read_at(&bad, 0), Next::Torn(_)),
                "bit flip at {flip}"
            );
        }
    }
}
