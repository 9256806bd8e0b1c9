//! A real `nats-server -js` of the test's own, on a port it picks itself, with its store in a
//! temporary directory, which a test can stop and start again (the stream survives, as it would
//! in production). The binary is `nats-server` on the `PATH` or `/usr/sbin/nats-server`;
//! `MISSIONOPS_NATS_SERVER` overrides it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("MISSIONOPS_NATS_SERVER") {
        return PathBuf::from(path);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let candidate = PathBuf::from(dir).join("nats-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("/usr/sbin/nats-server")
}

impl NatsServer {
    /// Starts a server with JetStream on a port it picks itself and waits until it answers.
    pub async fn start() -> Self {
        let mut server = NatsServer {
            port: 0,
            dir: tempfile::tempdir().expect("temporary directory"),
            child: None,
        };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&self) -> Child {
        let binary = binary();
        // Port -1: the server picks a free port and writes it to its ports file, so no port
        // is chosen by binding and releasing it (another test could take it in between).
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(self.dir.path().join("store"))
            .arg("--ports_file_dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (install nats-server, or set MISSIONOPS_NATS_SERVER): {e}",
                    binary.display()
                )
            })
    }

    /// The client port in the ports file of the server with process id `pid`, once written.
    fn reported_port(&self, pid: u32) -> Option<u16> {
        let path = self.dir.path().join(format!("nats-server_{pid}.ports"));
        let ports: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let url = ports["nats"][0].as_str()?;
        url.rsplit_once(':')?.1.parse().ok()
    }

    async fn run(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        self.child = Some(self.spawn());
        loop {
            let child = self.child.as_mut().expect("started");
            if let Ok(Some(status)) = child.try_wait() {
                // On a restart, the port may be held for a moment yet: try again.
                assert!(
                    Instant::now() < deadline,
                    "nats-server on port {} exited: {status}",
                    self.port
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.child = Some(self.spawn());
                continue;
            }
            if self.port == 0 {
                let pid = child.id();
                if let Some(port) = self.reported_port(pid) {
                    self.port = port;
                }
            }
            let last_error = if self.port == 0 {
                "no ports file yet".to_owned()
            } else {
                match async_nats::connect(self.url()).await {
                    // JetStream answers once it has recovered its store.
                    Ok(client) => match client.request("$JS.API.INFO", "".into()).await {
                        Ok(_) => return,
                        Err(e) => e.to_string(),
                    },
                    Err(e) => e.to_string(),
                }
            };
            assert!(
                Instant::now() < deadline,
                "nats-server on port {} did not come up: {last_error}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (SIGTERM, so that it flushes its store) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store.
    pub async fn restart(&mut self) {
        self.stop();
        self.run().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
