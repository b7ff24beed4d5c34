//! Results of a run, and their three renderings: a terminal table, JUnit XML and Markdown.
//!
//! JUnit and Markdown are written by hand (a few lines each) rather than pulling in a templating
//! or XML crate; [`xml_escape`] is the one place XML escaping happens.

use std::fmt::Write as _;
use std::time::Duration;

use crate::spec::shorten_sentence;

/// One expectation that did not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// What was checked ("user r1-c03-u: email").
    pub check: String,
    /// What the doc says it should be.
    pub expected: String,
    /// What the simulator (or the forwarder) showed.
    pub found: String,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// The doc sentence it checks.
    pub sentence: String,
    /// Expectations that did not hold; empty = passed.
    pub failures: Vec<Failure>,
    /// Remarks that do not fail the case (e.g. a check not observable in external mode).
    pub notes: Vec<String>,
    /// Wall time of the case.
    pub duration: Duration,
}

impl CaseResult {
    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The outcome of a whole run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// "in-process" or "external URL".
    pub target: String,
    /// Every case run, in catalogue order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed()).count()
    }

    /// True when every case passed (and at least one ran).
    pub fn all_passed(&self) -> bool {
        !self.cases.is_empty() && self.failed() == 0
    }

    /// The case with this id, if it ran.
    pub fn case(&self, id: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// A plain-text table for the terminal, followed by the details of every failure.
    pub fn table(&self) -> String {
        let id_w = self
            .cases
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = String::new();
        let _ = writeln!(out, "{:<id_w$}  {:<6}  doc sentence", "case", "result");
        let _ = writeln!(
            out,
            "{}  {}  {}",
            "-".repeat(id_w),
            "-".repeat(6),
            "-".repeat(60)
        );
        for c in &self.cases {
            let _ = writeln!(
                out,
                "{:<id_w$}  {:<6}  {}",
                c.id,
                if c.passed() { "pass" } else { "FAIL" },
                shorten_sentence(&c.sentence, 70)
            );
        }
        let _ = writeln!(
            out,
            "\n{} passed, {} failed, {} total ({})",
            self.cases.len() - self.failed(),
            self.failed(),
            self.cases.len(),
            self.target
        );
        for c in self.cases.iter().filter(|c| !c.passed()) {
            let _ = writeln!(out, "\nFAIL {}\n  doc: {}", c.id, c.sentence);
            for f in &c.failures {
                let _ = writeln!(
                    out,
                    "  - {}\n      expected: {}\n      found:    {}",
                    f.check, f.expected, f.found
                );
            }
        }
        let noted: Vec<_> = self.cases.iter().filter(|c| !c.notes.is_empty()).collect();
        if !noted.is_empty() {
            let _ = writeln!(out, "\nnotes:");
            for c in noted {
                for n in &c.notes {
                    let _ = writeln!(out, "  {}: {}", c.id, n);
                }
            }
        }
        out
    }

    /// JUnit XML: one `<testsuite>`, one `<testcase>` per case, a `<failure>` listing expected
    /// vs found for each failed case.
    pub fn junit(&self) -> String {
        let total: f64 = self.cases.iter().map(|c| c.duration.as_secs_f64()).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"usercom-conformance\" tests=\"{}\" failures=\"{}\" time=\"{total:.3}\">",
            self.cases.len(),
            self.failed()
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{total:.3}\">",
            xml_escape(&format!("usercom-conformance ({})", self.target)),
            self.cases.len(),
            self.failed()
        );
        for c in &self.cases {
            let _ = write!(
                out,
                "    <testcase classname=\"usercom_conformance.catalogue\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&c.id),
                c.duration.as_secs_f64()
            );
            if c.passed() && c.notes.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            if !c.passed() {
                let mut body = format!("doc: {}\n", c.sentence);
                for f in &c.failures {
                    let _ = writeln!(
                        body,
                        "{}: expected {}; found {}",
                        f.check, f.expected, f.found
                    );
                }
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"conformance\">{}</failure>",
                    xml_escape(&format!("{} expectation(s) failed", c.failures.len())),
                    xml_escape(&body)
                );
            }
            let mut sys = format!("doc: {}", c.sentence);
            for n in &c.notes {
                let _ = write!(sys, "\nnote: {n}");
            }
            let _ = writeln!(out, "      <system-out>{}</system-out>", xml_escape(&sys));
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }

    /// A Markdown report: a summary line, a table, and the failures in detail.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# usercom-conformance report\n\n");
        let _ = writeln!(
            out,
            "Target: {}. **{} passed, {} failed**, {} cases.\n",
            md_escape(&self.target),
            self.cases.len() - self.failed(),
            self.failed(),
            self.cases.len()
        );
        out.push_str("| case | result | doc sentence |\n| --- | --- | --- |\n");
        for c in &self.cases {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                c.id,
                if c.passed() { "pass" } else { "**FAIL**" },
                md_escape(&c.sentence)
            );
        }
        let failed: Vec<_> = self.cases.iter().filter(|c| !c.passed()).collect();
        if !failed.is_empty() {
            out.push_str("\n## Failures\n");
            for c in failed {
                let _ = writeln!(out, "\n### `{}`\n\n> {}\n", c.id, md_escape(&c.sentence));
                out.push_str("| check | expected | found |\n| --- | --- | --- |\n");
                for f in &c.failures {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} |",
                        md_escape(&f.check),
                        md_escape(&f.expected),
                        md_escape(&f.found)
                    );
                }
            }
        }
        out
    }
}

/// Escapes the five XML special characters and drops characters XML 1.0 cannot carry.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes what would break a Markdown table cell.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            target: "in-process".into(),
            cases: vec![
                CaseResult {
                    id: "ok_case".into(),
                    sentence: "It works.".into(),
                    failures: vec![],
                    notes: vec![],
                    duration: Duration::from_millis(5),
                },
                CaseResult {
                    id: "bad_case".into(),
                    sentence: "a < b & \"c\" | d".into(),
                    failures: vec![Failure {
                        check: "user x: email".into(),
                        expected: "\"a@b\"".into(),
                        found: "absent <none>\u{1}".into(),
                    }],
                    notes: vec![],
                    duration: Duration::from_millis(7),
                },
            ],
        }
    }

    #[test]
    fn xml_escaping_covers_specials_and_control_chars() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(xml_escape("a\u{1}b"), "a\\u{1}b");
    }

    #[test]
    fn junit_names_the_failure_and_counts() {
        let x = report().junit();
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(
            x.contains("<testcase classname=\"usercom_conformance.catalogue\" name=\"ok_case\"")
        );
        assert!(
            x.contains("user x: email: expected &quot;a@b&quot;; found absent &lt;none&gt;\\u{1}"),
            "{x}"
        );
        assert!(!x.contains("a < b"), "unescaped text in XML");
    }

    #[test]
    fn markdown_and_table_show_expected_and_found() {
        let r = report();
        let md = r.markdown();
        assert!(
            md.contains("| `bad_case` | **FAIL** | a < b & \"c\" \\| d |"),
            "{md}"
        );
        assert!(md.contains("| user x: email | \"a@b\" |"), "{md}");
        let t = r.table();
        assert!(t.contains("FAIL bad_case"));
        assert!(t.contains("expected: \"a@b\""));
        assert!(t.contains("1 passed, 1 failed, 2 total"));
        assert!(!r.all_passed());
    }
}
