//! What the black-box tests of the `missionops` binary share: a fresh database directory to
//! run the binary in, the outcome of one run, and a bare HTTP client for `serve`.

#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// A fresh database in its own temporary directory (also the working directory, so that no
/// `.env` of the repository is read).
pub struct Db {
    pub dir: TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self.stdout
    }

    /// Asserts failure with `code` and exactly one `error: …` line on stderr; returns it.
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr: {self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0].to_owned()
    }

    pub fn json(self) -> Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("ops.db")
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.file().display())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_missionops"));
        command.current_dir(self.dir.path());
        // Nothing of the developer's environment leaks in (a delivery URL, a bind address).
        for (name, _) in std::env::vars() {
            if name.starts_with("MISSIONOPS_") || name == "PORT" || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command
            .env("MISSIONOPS_DATABASE_URL", self.url())
            .args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command(args)
                .stdin(Stdio::null())
                .output()
                .expect("run missionops"),
        )
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn missionops");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("wait"))
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.run(&all).json()
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One HTTP/1.1 request; the status code and body of the answer, or `None` when nobody answers.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Waits until the `serve` process `child` answers `GET /healthz` on `port`; panics with its
/// log when it exits first or never answers.
pub fn wait_until_serving(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = http(port, "GET", "/healthz", "") {
            return;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut logs = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut logs);
            }
            panic!("serve exited early: {status}: {logs}");
        }
        assert!(Instant::now() < deadline, "serve never answered /healthz");
        std::thread::sleep(Duration::from_millis(100));
    }
}
