//! `--tls-platform-roots`: a User.com behind a TLS proxy that re-signs with its own root (a
//! corporate network). A throw-away CA (openssl) signs a certificate for 127.0.0.1; a small
//! HTTPS stand-in for User.com (Python's `ssl` + `http.server`) serves it. The platform's roots
//! come from `SSL_CERT_FILE` (which the platform-roots loader honours), pointing at that CA:
//! with the flag the forwarder trusts it and delivers; without it the handshake fails on the
//! unknown issuer and the message is dead-lettered. Needs `openssl` and `python3` (skipped with
//! a note when either is missing, unless `CI` is set).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::temp_dir;

/// The stand-in: answers every POST with a user, every GET with an empty page; prints its port.
const STUB: &str = r#"
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply({"id": 1, "user_key": "k1", "custom_id": "tls-user", "email": "tls@example.com"})
    def do_GET(self):
        self.reply({"count": 0, "next": None, "previous": None, "results": []})
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || Command::new(name)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a leaf certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=usercom-forwarder test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
}

struct Stub(Child);

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_stub(dir: &Path) -> (Stub, u16) {
    let mut child = Command::new("python3")
        .args(["-c", STUB])
        .arg(dir.join("leaf.pem"))
        .arg(dir.join("leaf.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the stub prints its port");
    (Stub(child), port)
}

fn send(dir: &Path, port: u16, platform_roots: bool) -> std::process::Output {
    let input = dir.join("in.ndjson");
    std::fs::write(
        &input,
        r#"{"type":"identify","userId":"tls-user","messageId":"m-tls","traits":{"email":"tls@example.com"}}"#,
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_usercom-forwarder"));
    command
        .arg("send")
        .arg(&input)
        .args(["--usercom-url", &format!("https://127.0.0.1:{port}")])
        .args(["--api-key", "k", "--retry-window", "1s"])
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .env_remove("USERCOM_TLS_PLATFORM_ROOTS")
        .env_remove("RUST_LOG");
    if platform_roots {
        command.arg("--tls-platform-roots");
    }
    command.output().unwrap()
}

#[test]
fn platform_roots_trust_a_proxy_ca_and_the_bundled_roots_alone_do_not() {
    if !(tool("openssl") && tool("python3")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs openssl and python3 for the TLS test"
        );
        eprintln!("skipped: openssl or python3 missing");
        return;
    }
    let dir = temp_dir("tls-roots");
    make_certificates(&dir);
    let (_stub, port) = start_stub(&dir);

    let trusted = send(&dir, port, true);
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert_eq!(
        trusted.status.code(),
        Some(0),
        "with --tls-platform-roots: {stdout}\n{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(stdout.contains("delivered=1 "), "{stdout}");

    let refused = send(&dir, port, false);
    let stdout = String::from_utf8_lossy(&refused.stdout);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("dead_lettered=1 "), "{stdout}");
    assert!(
        stderr.to_ascii_lowercase().contains("certificate"),
        "the reason names the certificate: {stderr}"
    );
}
