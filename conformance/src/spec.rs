//! The destination doc the catalogue quotes.
//!
//! A copy of `shared/spec/user-com-destination.md` is vendored in `conformance/spec/` so the
//! harness builds and checks its quotes on a clone without the shared folder; a test compares the
//! copy with the original whenever the original is present, so the two cannot drift silently.

/// The destination doc, as vendored.
pub const DESTINATION_DOC: &str = include_str!("../spec/user-com-destination.md");

/// Where the original lives relative to the workspace root (`../shared/spec/...`).
pub const ORIGINAL_RELATIVE_TO_WORKSPACE: &str = "../shared/spec/user-com-destination.md";

/// True when `sentence` occurs verbatim in the destination doc.
pub fn quotes_doc(sentence: &str) -> bool {
    !sentence.trim().is_empty() && DESTINATION_DOC.contains(sentence)
}

/// A sentence shortened to `max` characters for tables.
pub fn shorten_sentence(sentence: &str, max: usize) -> String {
    crate::error::shorten(sentence, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::catalogue;

    #[test]
    fn every_quoted_sentence_occurs_in_the_doc() {
        let missing: Vec<_> = catalogue()
            .into_iter()
            .filter(|c| !quotes_doc(c.sentence))
            .map(|c| format!("{}: {:?}", c.id, c.sentence))
            .collect();
        assert!(
            missing.is_empty(),
            "quotes not found in the doc:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn a_paraphrase_is_not_a_quote() {
        assert!(!quotes_doc("Page increments page_views."));
        assert!(!quotes_doc(""));
    }

    #[test]
    fn vendored_doc_matches_the_original_when_present() {
        let original = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(ORIGINAL_RELATIVE_TO_WORKSPACE);
        match std::fs::read_to_string(&original) {
            Ok(text) => assert_eq!(
                text,
                DESTINATION_DOC,
                "conformance/spec/ is out of date: copy {} over it",
                original.display()
            ),
            Err(_) => eprintln!(
                "{} not present; checked the vendored copy only",
                original.display()
            ),
        }
    }
}
