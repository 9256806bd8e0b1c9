//! What the black-box tests of the `missionops` binary share: a fresh database directory to
//! run the binary in, the outcome of one run, and a bare HTTP client for `serve`.

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
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

/// A `serve` process listening on a port it chose itself, with its log.
///
/// Ports are never picked by binding port 0 and letting go of it, which another test could take
/// in between: the server binds `127.0.0.1:0` itself and the test reads the address it bound
/// from its start-up log line.
pub struct Serving {
    pub port: u16,
    pub child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Serving {
    /// Starts `command` (a `serve` of [`Db::command`] without `--bind`) on `127.0.0.1:0`, with
    /// stdin closed and its log read; returns once it answers `GET /healthz`. Panics with the
    /// log when it exits first or never reports its address.
    pub fn start(command: Command) -> Self {
        Self::start_until(command, |port| {
            matches!(http(port, "GET", "/healthz", ""), Some((200, _)))
        })
    }

    /// As [`Serving::start`], returning once `ready(port)` holds (e.g. an HTTPS health check).
    pub fn start_until(mut command: Command, ready: impl Fn(u16) -> bool) -> Self {
        let mut child = command
            .args(["--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let reader = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = reported_port(&line) {
                        let _ = port_tx.send(port);
                    }
                    let mut log = log.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let mut serving = Serving {
            port: 0,
            child,
            log,
            reader: Some(reader),
        };
        match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => serving.port = port,
            Err(_) => {
                let _ = serving.child.kill();
                let _ = serving.child.wait();
                panic!("serve never reported its address: {}", serving.finish_log());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready(serving.port) {
            if let Some(status) = serving.child.try_wait().expect("try_wait") {
                panic!("serve exited early: {status}: {}", serving.finish_log());
            }
            assert!(
                Instant::now() < deadline,
                "serve never answered /healthz: {}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serving
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// The whole log, once the process has exited (it has closed its stderr).
    pub fn finish_log(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of a `MissionOps listening on http://127.0.0.1:PORT` (or `https://`) log line.
fn reported_port(line: &str) -> Option<u16> {
    let (_, after) = line.split_once("listening on ")?;
    let after = after
        .strip_prefix("http://")
        .or_else(|| after.strip_prefix("https://"))?;
    let address: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':'))
        .collect();
    address
        .rsplit_once(':')?
        .1
        .parse()
        .ok()
        .filter(|port| *port != 0)
}

/// A port on which nothing is listening nor will be while the returned socket lives: bound but
/// never listening, so a connection to it is refused, and no other socket can take it.
pub fn refused_port() -> (socket2::Socket, u16) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let address: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&address.into()).expect("bind");
    let port = socket
        .local_addr()
        .expect("address")
        .as_socket()
        .expect("an IP address")
        .port();
    (socket, port)
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
