//! Helpers shared by the tests that run the `coursetasks` binary: a command on a database,
//! running one, one HTTP request, API tokens, and the `serve` process itself.

// Each test binary compiles this module and uses its own subset of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `coursetasks` command on database `db` (given as `COURSETASKS_DB`, so the caller adds only
/// the subcommand and its arguments), with no stdin and without the caller's `RUST_LOG`.
pub fn command(db: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coursetasks"));
    cmd.env("COURSETASKS_DB", db)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs `coursetasks ARGS --db DB`; returns the exit code and stdout.
pub fn coursetasks(db: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args(args)
        .args(["--db", db])
        .stdin(Stdio::null())
        .output()
        .expect("run coursetasks");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8"),
    )
}

/// `coursetasks token create ... --json` (bound to `course` when given); returns the created
/// token's JSON (`id`, `token` = the secret, ...). Panics with the command's output on failure.
pub fn create_token(db: &str, user: &str, role: &str, course: Option<&str>) -> Value {
    let mut args = vec!["token", "create", "--user", user, "--role", role, "--json"];
    if let Some(course) = course {
        args.extend(["--course", course]);
    }
    let (code, out) = coursetasks(db, &args);
    assert_eq!(code, 0, "token create: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("token create printed {out:?}: {e}"))
}

/// One HTTP/1.1 request; returns the status and the JSON body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}")),
    )
}

/// One plain HTTP/1.1 GET; returns the whole response as text.
pub fn get_text(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A `coursetasks serve` process, killed when dropped so that a failing test leaves nothing
/// running.
pub struct Server(pub Child);

impl Server {
    /// Starts `coursetasks serve --addr 127.0.0.1:0 --db DB ARGS` (a free port chosen by the
    /// kernel); returns it with its stderr, where it says where it listens.
    pub fn spawn(db: &str, args: &[&str]) -> (Server, BufReader<ChildStderr>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
            .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
            .args(args)
            // The tests read serve's own lines; the caller's RUST_LOG would add others.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coursetasks serve");
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        (Server(child), stderr)
    }

    /// Sends SIGINT and waits (20 s at most) for the process to exit.
    pub fn interrupt(&mut self) -> ExitStatus {
        Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .expect("run kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `serve`'s text log until its "serving http://ADDR/api/v1 ..." line; returns ADDR.
/// Lines before it (a warning that no token exists) are skipped.
pub fn serving_addr(stderr: &mut BufReader<ChildStderr>) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).expect("read serve's stderr");
        assert!(read > 0, "serve exited before listening: {seen}");
        if let Some(addr) = line
            .strip_prefix("serving http://")
            .and_then(|rest| rest.split('/').next())
        {
            return addr.to_owned();
        }
        seen.push_str(&line);
    }
}
