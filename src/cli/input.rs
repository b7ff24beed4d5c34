//! Reading `send`/`plan` input: a file or stdin, gunzipped when gzipped, bounded. What the bytes
//! hold is read by [`crate::segment::batch::read_file`], the same rules as the ingress.

use std::io::Read;

use anyhow::Context;

/// Largest decompressed size of a gzipped input file.
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Reads the input whole, as bytes; a gzip file (`events.ndjson.gz`) is decompressed.
pub(super) fn read_input(source: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if source == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
    } else {
        bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // Bounded, so a gzip bomb is an error rather than an out-of-memory kill.
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut text)
            .with_context(|| format!("{source} looks gzipped but cannot be decompressed"))?;
        if text.len() as u64 > MAX_DECOMPRESSED {
            anyhow::bail!(
                "{source} decompresses to more than {} MiB: split it or decompress it first",
                MAX_DECOMPRESSED >> 20
            );
        }
        bytes = text;
    }
    Ok(bytes)
}
