//! The `usercom-conformance` binary as CI calls it: exit codes, human durations, JSON logs and
//! settings from the environment.

use std::process::Command;

fn conformance() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_usercom-conformance"));
    for (key, _) in std::env::vars() {
        if key.starts_with("USERCOM_CONFORMANCE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// One case from the environment alone, logging JSON lines: exit 0, the case in the table, and
/// every log line on stderr is a JSON object.
#[test]
fn run_reads_the_environment_and_logs_json_lines() {
    let out = conformance()
        .arg("run")
        .env("USERCOM_CONFORMANCE_FILTER", "identify_trait_email")
        .env("USERCOM_CONFORMANCE_TIMEOUT", "20s")
        .env("USERCOM_CONFORMANCE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("identify_trait_email"), "{stdout}");
    assert!(
        !stdout.contains("identify_trait_name"),
        "the filter came from USERCOM_CONFORMANCE_FILTER: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "RUST_LOG=info logs something");
    for line in lines {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok_and(|v| v.is_object()),
            "not a JSON log line: {line}"
        );
    }
}

/// Usage errors exit 2 and name the problem: a duration without a unit, a filter that selects
/// nothing.
#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let out = conformance()
        .args(["run", "--timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--timeout") && stderr.contains("not a duration"),
        "{stderr}"
    );
    let out = conformance()
        .args(["run", "--filter", "no_case_is_called_this"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no_case_is_called_this"), "{stderr}");
}
