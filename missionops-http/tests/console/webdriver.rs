//! A small WebDriver client over reqwest, enough for the console's tests: headless Chromium
//! (Debian's `chromium`) through `chromedriver`, started on a free port by the test and
//! stopped after it. Commands: navigate, run a script (sync or async), find, click, type,
//! screenshot, and whether an alert dialog is open.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session and the chromedriver serving it.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn chromium() -> String {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    panic!("the console tests need Chromium: apt-get install chromium chromium-driver");
}

/// Held by each browser test: one Chromium at a time on a small machine (several at once
/// starve each other's renderers, and the render-time figure would measure the others).
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile, offline-friendly
    /// flags and a 1400×1000 window.
    pub async fn start() -> Browser {
        let port = free_port();
        // Its own process group, so that Chromium (its child) goes with it when a failed test
        // drops the browser without ending the session.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the console tests need chromedriver: apt-get install chromium-driver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1400,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium(), "args": args},
            }}}))
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {response}"))
            .to_owned();
        let browser = Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver,
            _profile: profile,
        };
        browser
            .command(
                reqwest::Method::POST,
                "/timeouts",
                json!({"script": 30_000, "pageLoad": 30_000}),
            )
            .await;
        browser
    }

    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            request = request.json(&body);
        }
        let response = request.send().await.expect("webdriver request");
        let ok = response.status().is_success();
        let value: Value = response.json().await.expect("webdriver json");
        if ok {
            Ok(value["value"].clone())
        } else {
            Err(value["value"].clone())
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs `script`, which calls its last argument with the result when done.
    pub async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Polls `condition` (a script returning a truthy value when done) every 50 ms until it
    /// holds or `timeout` passes; returns its value and how long it took.
    pub async fn wait_for(
        &self,
        what: &str,
        condition: &str,
        timeout: Duration,
    ) -> (Value, Duration) {
        let started = Instant::now();
        loop {
            let value = self.exec(condition, json!([])).await;
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return (value, started.elapsed());
            }
            if started.elapsed() > timeout {
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Clicks the first element matching `css`, as a user would. A live page may redraw the
    /// element between finding and clicking it: then it is found again (a few times).
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.element(css).await;
            match self
                .try_command(
                    reqwest::Method::POST,
                    &format!("/element/{id}/click"),
                    json!({}),
                )
                .await
            {
                Ok(_) => return,
                Err(e) if e["error"] == "stale element reference" => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
        panic!("{css} kept being redrawn");
    }

    /// Types `text` into the first element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        )
        .await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Whether an alert, confirm or prompt dialog is open.
    pub async fn alert_open(&self) -> bool {
        self.try_command(reqwest::Method::GET, "/alert/text", json!({}))
            .await
            .is_ok()
    }

    /// Writes a PNG of the viewport to `<target>/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let Ok(data) = self
            .try_command(reqwest::Method::GET, "/screenshot", json!({}))
            .await
        else {
            return std::path::PathBuf::new();
        };
        let png = decode_base64(data.as_str().unwrap_or_default());
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (closing Chromium) and stops chromedriver.
    pub async fn quit(mut self) {
        let _ = self
            .try_command(reqwest::Method::DELETE, "", json!({}))
            .await;
        self.stop_process_group();
    }

    /// Kills chromedriver's process group (the driver and every Chromium process it started),
    /// then reaps the driver. Killing before reaping keeps the group id from being reused.
    fn stop_process_group(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test drops the browser without `quit`. After `quit` the group is gone and the
        // driver reaped (`try_wait` answers from the kept status), so nothing is killed twice.
        if matches!(self.driver.try_wait(), Ok(None)) {
            self.stop_process_group();
        }
    }
}

/// `$CARGO_TARGET_DIR/console-screenshots`, or the workspace's `target/console-screenshots`.
pub fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("console-screenshots")
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(decode_base64("aGVsbG8="), b"hello");
    assert_eq!(decode_base64("aGk="), b"hi");
}
