//! Shared helpers: sizes, figures, the simulator's admin plane (faults, state, journal), the built
//! binaries, child processes, dead-letter files and the state reconciliation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

// ------------------------------------------------------------------------------------ sizes

/// `USERCOM_LONG_TESTS=1` (CI) runs the full sizes; otherwise a reduced size, still asserting.
pub fn long() -> bool {
    std::env::var("USERCOM_LONG_TESTS").is_ok_and(|v| v.trim() == "1")
}

/// `full` under `USERCOM_LONG_TESTS=1`, else `reduced`.
pub fn size<T>(full: T, reduced: T) -> T {
    if long() {
        full
    } else {
        reduced
    }
}

/// Prints one figure line, `FIGURE <test> <json>`, the raw material of docs/RELIABILITY.md.
///
/// Also appended to the file named by `RELIABILITY_FIGURES`, when set, so a run can collect them
/// without `--nocapture`.
pub fn figure(test: &str, figures: Value) {
    let line = format!("FIGURE {test} {figures}");
    println!("{line}");
    if let Ok(path) = std::env::var("RELIABILITY_FIGURES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

// ------------------------------------------------------------------------------------ files

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/usercom-reliability-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "usercom-reliability-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The records of a dead-letter file (`{"message", "reason", "status", "call", "at"}` lines);
/// empty when the file does not exist. A line that is not JSON fails the test: the file must stay
/// replayable.
pub fn dead_letters(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("dead-letter line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// `messageId`s of dead-letter records.
pub fn dead_letter_ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| r["message"]["messageId"].as_str().map(str::to_string))
        .collect()
}

// ------------------------------------------------------------------------------------ HTTP

/// One client for the tests' own calls, with a timeout so that a hang fails instead of blocking.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// The simulator's admin plane, as the tests use it.
#[derive(Clone)]
pub struct Admin {
    http: reqwest::Client,
    origin: String,
}

impl Admin {
    /// Admin client for the simulator at `origin` (`http://127.0.0.1:PORT`).
    pub fn new(origin: &str) -> Admin {
        Admin {
            http: http(),
            origin: origin.trim_end_matches('/').to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.origin));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {value}"
        );
        value
    }

    /// `POST /__admin/faults`: installs one rule (see docs/CONTRACT.md), returns it with its id.
    ///
    /// Fails the test with a clear message when the simulator has no fault injection yet.
    pub async fn add_fault(&self, rule: Value) -> Value {
        let (status, value) = self
            .call(reqwest::Method::POST, "/__admin/faults", Some(rule.clone()))
            .await;
        assert!(
            status != 404 && status != 405,
            "the simulator has no fault injection (POST /__admin/faults answered {status}); \
             it is specified in docs/CONTRACT.md (issue 5)"
        );
        assert!(
            (200..300).contains(&status),
            "POST /__admin/faults {rule} answered {status}: {value}"
        );
        value
    }

    /// `GET /__admin/faults`: the installed rules with their `hits`.
    pub async fn faults(&self) -> Vec<Value> {
        let v = self.ok(reqwest::Method::GET, "/__admin/faults", None).await;
        v["faults"].as_array().cloned().unwrap_or_default()
    }

    /// Total `hits` of the installed rules (faults fired so far).
    pub async fn fault_hits(&self) -> u64 {
        self.faults()
            .await
            .iter()
            .map(|f| f["hits"].as_u64().unwrap_or(0))
            .sum()
    }

    /// `DELETE /__admin/faults`: clears every rule.
    pub async fn clear_faults(&self) {
        self.ok(reqwest::Method::DELETE, "/__admin/faults", None)
            .await;
    }

    /// `GET /__admin/state?app=NAME`.
    pub async fn state(&self, app: &str) -> Value {
        self.ok(
            reqwest::Method::GET,
            &format!("/__admin/state?app={app}"),
            None,
        )
        .await
    }

    /// `GET /__admin/state`: every app.
    pub async fn state_all(&self) -> Value {
        self.ok(reqwest::Method::GET, "/__admin/state", None).await
    }

    /// `GET /__admin/requests`: the whole journal (every app, and requests of no app).
    pub async fn journal(&self) -> Vec<Value> {
        let v = self
            .ok(reqwest::Method::GET, "/__admin/requests", None)
            .await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// `POST /__admin/apps`: a fresh app; returns (name, api key).
    pub async fn create_app(&self) -> (String, String) {
        let v = self
            .ok(reqwest::Method::POST, "/__admin/apps", Some(json!({})))
            .await;
        (
            v["app"].as_str().expect("app name").to_string(),
            v["api_key"].as_str().expect("api key").to_string(),
        )
    }

    /// `POST /__admin/api-keys/{key}/revoke`.
    pub async fn revoke(&self, key: &str) {
        self.ok(
            reqwest::Method::POST,
            &format!("/__admin/api-keys/{key}/revoke"),
            None,
        )
        .await;
    }
}

/// The simulator with a journal large enough to count every request of a test.
pub async fn start_mock(keys: &[&str]) -> usercom_mock::MockServer {
    let mut builder = usercom_mock::MockServer::builder().journal_capacity(200_000);
    for key in keys {
        builder = builder.api_key(*key);
    }
    builder.start().await.expect("start the simulator")
}

/// Polls the ingress's `GET /stats` until `in_flight == 0` and every received message ended;
/// returns the stats. Fails after `limit` (a hang is a failure, not a wait forever).
pub async fn wait_ingress_idle(client: &reqwest::Client, url: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let stats: Value = match client.get(format!("{url}/stats")).send().await {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let ended = ["delivered", "skipped", "dead_lettered", "duplicates"]
            .iter()
            .map(|k| stats[*k].as_u64().unwrap_or(0))
            .sum::<u64>();
        if stats["in_flight"] == json!(0) && stats["received"].as_u64() == Some(ended) {
            return stats;
        }
        assert!(
            start.elapsed() < limit,
            "the ingress did not become idle within {limit:?}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------------------------ binaries

/// `target/<profile>/` of this test executable (`target/<profile>/deps/reliability-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

/// The `usercom-forwarder` binary of this build profile, built on first use.
///
/// Why build it here: `cargo test -p usercom-conformance` builds only the forwarder's library,
/// and an old binary left in target/ would test yesterday's code. A binary newer than the
/// libraries is used as is; otherwise `cargo build` of that one binary runs first.
/// `USERCOM_FORWARDER_BIN` overrides (test another build).
pub fn forwarder_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        built_binary(
            "usercom-forwarder",
            "usercom-forwarder",
            "USERCOM_FORWARDER_BIN",
        )
    })
    .clone()
}

fn built_binary(package: &str, bin: &str, override_var: &str) -> PathBuf {
    if let Ok(path) = std::env::var(override_var) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{override_var}={} is not a file",
            path.display()
        );
        return path;
    }
    let dir = profile_dir();
    let path = dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    // Fresh when newer than the libraries this test linked (`cargo test --workspace` built them
    // together): then skip cargo, whose single-package build may resolve features differently
    // from the workspace build and recompile dependencies for nothing.
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let libs = ["libusercom_forwarder.rlib", "libusercom_mock.rlib"];
    if let Some(bin_time) = modified(&path) {
        if libs
            .iter()
            .all(|lib| modified(&dir.join(lib)).is_some_and(|t| t <= bin_time))
        {
            return path;
        }
    }
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_string();
    let target_dir = dir.parent().expect("target dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let built = cmd.status();
    match built {
        Ok(status) if status.success() => {}
        other => eprintln!(
            "warning: `{cargo} build -p {package} --bin {bin}` failed ({other:?}); using {} if it exists",
            path.display()
        ),
    }
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p {package}{}` (or `cargo test --workspace`), \
         or point {override_var} at a built binary",
        path.display(),
        if profile == "release" {
            " --release"
        } else {
            ""
        }
    );
    path
}

/// A child process killed (by its own pid) if the test ends while it runs.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM to this child only.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `limit` for the exit; a process still running then is killed and the test
    /// fails (a hang).
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("process {} did not exit within {limit:?}", self.pid());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident set size in KiB (`VmRSS`), from /proc; `None` where there is no /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Starts `usercom-forwarder serve --listen 127.0.0.1:0 ARGS…` and reads its URL from the first
/// stdout line (`ingress: http://ADDR -> ORIGIN`). Stderr goes to `stderr_file` when given.
pub fn spawn_serve(
    args: &[String],
    env: &[(&str, &str)],
    stderr_file: Option<&Path>,
) -> (Proc, String, BufReader<ChildStdout>) {
    let mut cmd = Command::new(forwarder_bin());
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("USERCOM_API_KEY")
        .env_remove("SEGMENT_WRITE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match stderr_file {
        Some(path) => {
            let file = std::fs::File::create(path).expect("create the stderr file");
            cmd.stderr(file);
        }
        None => {
            cmd.stderr(Stdio::null());
        }
    }
    let mut child = cmd.spawn().expect("spawn usercom-forwarder serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut proc = Proc { child };
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    // The first line comes once the socket is bound; a process that dies prints nothing.
    reader.read_line(&mut first).expect("read serve's stdout");
    let url = first
        .strip_prefix("ingress: ")
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let Some(url) = url else {
        let status = proc.wait_exit(Duration::from_secs(5));
        panic!("`usercom-forwarder serve` did not start ({status}); first line: {first:?}");
    };
    (proc, url, reader)
}

// ------------------------------------------------------------------------------------ state

/// What the simulator holds for one app, indexed by custom ids (read from `GET /__admin/state`).
#[derive(Debug, Default)]
pub struct Observed {
    /// custom_id → how many users carry it (more than 1 is a duplicate).
    pub users: BTreeMap<String, u64>,
    /// custom_id → `page_views`.
    pub page_views: BTreeMap<String, u64>,
    /// custom_id → number of stored site views (must equal `page_views`).
    pub site_views: BTreeMap<String, u64>,
    /// (custom_id, event name) → occurrences.
    pub events: BTreeMap<(String, String), u64>,
    /// Occurrences by the `mid` in their data (the messageId the workload put there).
    pub event_mids: BTreeMap<String, u64>,
    /// Site views by the `mid` in their title.
    pub view_mids: BTreeMap<String, u64>,
    /// company custom_id → how many companies carry it.
    pub companies: BTreeMap<String, u64>,
    /// (company custom_id, user custom_id).
    pub memberships: BTreeSet<(String, String)>,
    /// custom_id → the `plan` attribute.
    pub plan: BTreeMap<String, Value>,
}

impl Observed {
    /// Indexes one app's state.
    pub fn from_state(state: &Value) -> Observed {
        let mut o = Observed::default();
        let mut by_id: HashMap<u64, String> = HashMap::new();
        for u in state["users"].as_array().into_iter().flatten() {
            let cid = u["custom_id"].as_str().unwrap_or("").to_string();
            if let Some(id) = u["id"].as_u64() {
                by_id.insert(id, cid.clone());
            }
            *o.users.entry(cid.clone()).or_default() += 1;
            *o.page_views.entry(cid.clone()).or_default() += u["page_views"].as_u64().unwrap_or(0);
            if !u["plan"].is_null() {
                o.plan.insert(cid, u["plan"].clone());
            }
        }
        let who = |v: &Value| {
            v["user_id"]
                .as_u64()
                .and_then(|id| by_id.get(&id).cloned())
                .unwrap_or_else(|| format!("<user {}>", v["user_id"]))
        };
        for e in state["events"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or("").to_string();
            *o.events.entry((who(e), name)).or_default() += 1;
            if let Some(mid) = e["data"]["mid"].as_str() {
                *o.event_mids.entry(mid.to_string()).or_default() += 1;
            }
        }
        for v in state["site_views"].as_array().into_iter().flatten() {
            *o.site_views.entry(who(v)).or_default() += 1;
            if let Some(mid) = v["title"].as_str() {
                *o.view_mids.entry(mid.to_string()).or_default() += 1;
            }
        }
        for c in state["companies"].as_array().into_iter().flatten() {
            let cid = c["custom_id"].as_str().unwrap_or("").to_string();
            *o.companies.entry(cid.clone()).or_default() += 1;
            for member in c["employees"].as_array().into_iter().flatten() {
                let user = member
                    .as_u64()
                    .and_then(|id| by_id.get(&id).cloned())
                    .unwrap_or_else(|| format!("<user {member}>"));
                o.memberships.insert((cid.clone(), user));
            }
        }
        o
    }

    /// Users whose custom id appears more than once.
    pub fn duplicate_users(&self) -> u64 {
        self.users.values().map(|n| n.saturating_sub(1)).sum()
    }

    /// Companies whose custom id appears more than once.
    pub fn duplicate_companies(&self) -> u64 {
        self.companies.values().map(|n| n.saturating_sub(1)).sum()
    }

    /// Occurrences stored more than once for one message (same `mid`).
    pub fn duplicated_occurrences(&self) -> u64 {
        self.event_mids.values().map(|n| n.saturating_sub(1)).sum()
    }

    /// Site views stored more than once for one message (same title = `messageId`).
    pub fn duplicated_site_views(&self) -> u64 {
        self.view_mids.values().map(|n| n.saturating_sub(1)).sum()
    }

    /// Everything applied twice: users, companies, occurrences, site views.
    pub fn duplicates(&self) -> u64 {
        self.duplicate_users()
            + self.duplicate_companies()
            + self.duplicated_occurrences()
            + self.duplicated_site_views()
    }

    /// Total stored occurrences.
    pub fn occurrences(&self) -> u64 {
        self.events.values().sum()
    }

    /// Total `page_views` over all users.
    pub fn total_page_views(&self) -> u64 {
        self.page_views.values().sum()
    }
}
