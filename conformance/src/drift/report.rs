//! The report of `api-check` and `replay`: one row per check or exchange, as a terminal table
//! (failures in detail after it) and as JUnit XML.

use std::fmt::Write as _;
use std::time::Duration;

use crate::report::xml_escape;

/// How one row ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It held.
    Pass,
    /// It did not: what that means (`verdict`) and the differences, one per line.
    Fail {
        /// One line saying what the failure means ("the service changed", "our simulator is
        /// wrong here", "status or shape differs").
        verdict: String,
        /// What differs, one item each.
        details: Vec<String>,
    },
    /// Not run, and why.
    Skipped(String),
}

/// One check or exchange.
#[derive(Clone, Debug)]
pub struct Row {
    /// The check's name, or the exchange's number.
    pub id: String,
    /// What it is about: the source of a check, the request of an exchange.
    pub about: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Remarks that do not fail it.
    pub notes: Vec<String>,
    /// Wall time.
    pub duration: Duration,
}

impl Row {
    /// True when the row failed.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail { .. })
    }
}

/// A whole run.
#[derive(Clone, Debug, Default)]
pub struct DriftReport {
    /// The JUnit suite name and the summary's subject ("api-check of https://acme.user.com").
    pub title: String,
    /// Rows in run order.
    pub rows: Vec<Row>,
    /// Remarks about the run as a whole (what was left behind, ...).
    pub notes: Vec<String>,
}

impl DriftReport {
    /// The rows that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.failed())
    }

    /// True when no row failed.
    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The row with this id.
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// The ids of the failed rows, in order.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.failures().map(|r| r.id.as_str()).collect()
    }

    fn counts(&self) -> (usize, usize, usize) {
        let failed = self.failures().count();
        let skipped = self
            .rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Skipped(_)))
            .count();
        (self.rows.len() - failed - skipped, failed, skipped)
    }

    /// A plain-text table, the failures in detail, then the notes.
    pub fn table(&self) -> String {
        let w = self
            .rows
            .iter()
            .map(|r| r.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let mut out = String::new();
        let _ = writeln!(out, "{:<w$}  {:<6}  about", "id", "result");
        let _ = writeln!(out, "{}  ------  {}", "-".repeat(w), "-".repeat(60));
        for r in &self.rows {
            let result = match r.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail { .. } => "FAIL",
                Outcome::Skipped(_) => "skip",
            };
            let about: String = r.about.chars().take(90).collect();
            let _ = writeln!(out, "{:<w$}  {result:<6}  {about}", r.id);
        }
        let (passed, failed, skipped) = self.counts();
        let _ = writeln!(
            out,
            "\n{passed} passed, {failed} failed, {skipped} skipped ({})",
            self.title
        );
        for r in self.failures() {
            if let Outcome::Fail { verdict, details } = &r.outcome {
                let _ = writeln!(out, "\nFAIL {}: {verdict}\n  {}", r.id, r.about);
                for d in details {
                    let _ = writeln!(out, "  - {d}");
                }
            }
        }
        let mut notes: Vec<String> = self.notes.clone();
        for r in &self.rows {
            if let Outcome::Skipped(why) = &r.outcome {
                notes.push(format!("{}: skipped: {why}", r.id));
            }
            notes.extend(r.notes.iter().map(|n| format!("{}: {n}", r.id)));
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "\nnotes:");
            for n in notes {
                let _ = writeln!(out, "  {n}");
            }
        }
        out
    }

    /// JUnit XML: one `<testcase>` per row, `<failure>` with the verdict and the differences,
    /// `<skipped>` with the reason.
    pub fn junit(&self) -> String {
        let total: f64 = self.rows.iter().map(|r| r.duration.as_secs_f64()).sum();
        let (_, failed, skipped) = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"usercom-conformance\" tests=\"{}\" failures=\"{failed}\" time=\"{total:.3}\">",
            self.rows.len()
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.3}\">",
            xml_escape(&self.title),
            self.rows.len()
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "    <testcase classname=\"usercom_conformance.drift\" name=\"{}\" time=\"{:.3}\">",
                xml_escape(&r.id),
                r.duration.as_secs_f64()
            );
            match &r.outcome {
                Outcome::Pass => {}
                Outcome::Fail { verdict, details } => {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"drift\">{}</failure>",
                        xml_escape(verdict),
                        xml_escape(&details.join("\n"))
                    );
                }
                Outcome::Skipped(why) => {
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml_escape(why));
                }
            }
            let mut sys = r.about.clone();
            for n in &r.notes {
                let _ = write!(sys, "\nnote: {n}");
            }
            let _ = writeln!(out, "      <system-out>{}</system-out>", xml_escape(&sys));
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_junit_show_failures_and_skips() {
        let report = DriftReport {
            title: "api-check of x".into(),
            rows: vec![
                Row {
                    id: "a".into(),
                    about: "Documented".into(),
                    outcome: Outcome::Pass,
                    notes: vec![],
                    duration: Duration::ZERO,
                },
                Row {
                    id: "b".into(),
                    about: "GUESS".into(),
                    outcome: Outcome::Fail {
                        verdict: "our simulator is wrong here".into(),
                        details: vec!["status: expected 201, found 200".into()],
                    },
                    notes: vec![],
                    duration: Duration::ZERO,
                },
                Row {
                    id: "c".into(),
                    about: "writes".into(),
                    outcome: Outcome::Skipped("needs --allow-writes".into()),
                    notes: vec![],
                    duration: Duration::ZERO,
                },
            ],
            notes: vec![],
        };
        let t = report.table();
        assert!(t.contains("1 passed, 1 failed, 1 skipped"), "{t}");
        assert!(t.contains("FAIL b: our simulator is wrong here"), "{t}");
        assert!(t.contains("c: skipped: needs --allow-writes"), "{t}");
        let j = report.junit();
        assert!(j.contains("failures=\"1\""), "{j}");
        assert!(
            j.contains("<skipped message=\"needs --allow-writes\"/>"),
            "{j}"
        );
        assert_eq!(report.failed_ids(), vec!["b"]);
    }
}
