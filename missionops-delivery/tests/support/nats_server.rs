//! A real `nats-server -js` of the test's own, on a free port, with its store in a temporary
//! directory, which a test can stop and start again (the stream survives, as it would in
//! production). The binary is `nats-server` on the `PATH` or `/usr/sbin/nats-server`;
//! `MISSIONOPS_NATS_SERVER` overrides it.

#![allow(dead_code)]

use std::net::TcpListener;
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

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

impl NatsServer {
    /// Starts a server with JetStream and waits until it answers.
    pub async fn start() -> Self {
        let mut server = NatsServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("temporary directory"),
            child: None,
        };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let binary = binary();
        let child = Command::new(&binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (install nats-server, or set MISSIONOPS_NATS_SERVER): {e}",
                    binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let last_error = match async_nats::connect(self.url()).await {
                // JetStream answers once it has recovered its store.
                Ok(client) => match client.request("$JS.API.INFO", "".into()).await {
                    Ok(_) => return,
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
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
