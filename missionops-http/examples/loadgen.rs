//! A small HTTP load generator for MissionOps' benchmark figures (see BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p missionops-http --example loadgen -- <scenario> [--url URL]
//!     [--seconds N] [--connections N] [--rows N] [--fleet N]
//! ```
//!
//! Scenarios, one spacecraft:
//! - `batch`: `POST /telemetry/batch` of 100 snapshots × 10 parameters; snapshots/s and latency.
//! - `single`: `POST /telemetry` of one 10-parameter snapshot; requests/s and latency.
//! - `analyze`: stores `--rows` (default 10,000) snapshots with limits, then
//!   `GET /telemetry/analyze?limit=100`; requests/s and latency.
//! - `fill`: ingests `--rows` snapshots as fast as it can in 100-snapshot batches, printing the
//!   rate every million (for the rate-after-N-stored figure).
//!
//! Scenarios, a fleet (`--fleet`, default 1,000 spacecraft, registered with `POST /spacecraft`
//! before the clock starts):
//! - `single-fleet`: `POST /telemetry` of one snapshot, round-robin over the fleet.
//! - `single-new`: `POST /telemetry` of one snapshot from a spacecraft never seen before, so
//!   every request registers one implicitly.
//! - `batch10-fleet`: `POST /telemetry/batch` of 10 snapshots, round-robin over the fleet.
//! - `batch-new`: `POST /telemetry/batch` of 100 snapshots from a new spacecraft each.
//! - `fleet-live`: ten thousand spacecraft live (SPEC §8 "Fleet scale"; `--fleet`, default
//!   here 10,000 unless given): gives every spacecraft a configuration of its ten parameters
//!   with limits and `staleAfterSec` (`PUT /spacecraft/:id/config`, which registers it), then
//!   sends `POST /telemetry` round-robin over the fleet for `--seconds`, then reads from
//!   `/metrics` the mean duration of the monitor ticks timed during the load (apart from the
//!   ones before it: the tick after the configurations were set visits every monitor they
//!   changed) and the monitors the last one visited. With `--crossing N`, N snapshots in a
//!   thousand cross `battery_soc`'s `warnHigh` (default 0): a mixed load of anomalies, alarms
//!   and their events.
//!
//! - `console`: what an operator's console reads over a fleet (`--fleet`, default 1,000): gives
//!   every spacecraft a configuration with limits (no `staleAfterSec`), then one live batch of
//!   six snapshots each, timed around now: a tenth of the fleet ends with `battery_soc` above
//!   its `warnHigh` (an open alarm), a tenth crossed once and came back (an alarm open until
//!   acknowledged, its value returned), a tenth twice. Then, one request at a time, each of the console's reads `--rows` times
//!   (default here 15): `GET /fleet/status`, the open alarms, every alarm, the first page of
//!   each (the alarms page's first load), the newest 100 events, the first and the last page of `GET /spacecraft`, one spacecraft's page (the
//!   console's fleet page loads `GET /fleet/status` alone), then eight `GET /fleet/status` at
//!   once (a control room's screens after one event), timed until the last answer. Prints
//!   each read's median, p95 and largest time and its answer's size.
//!
//! Packets (SPEC §11):
//! - `packets`: defines the demo's XTCE definition (`Sat-Imager-001`'s) for a spacecraft, then
//!   `POST /spacecraft/:id/packets` of 100 Space Packets (11 parameters each, every packet a
//!   new time, so none is a duplicate); packets/s and latency.
//!
//! And the reference the other rows are compared with:
//! - `healthz`: `GET /healthz`, the bare HTTP stack (no store, no JSON parsing).
//!
//! It only talks to the URL it is given (default `http://127.0.0.1:3000`), and every loop is
//! bounded by `--seconds`, `--rows` or `--fleet`.
//!
//! The timed requests go over `--connections` keep-alive connections of hyper's HTTP/1 client
//! (`--client hyper`, the default), one request at a time on each. The generator shares this
//! two-core machine with the server, so what it spends per request the server does not get:
//! reqwest, the generator of earlier sessions (`--client reqwest`, still there to compare with
//! their figures), spent 20–45 µs of CPU a request, the bare connections about a third of that.
//! Setting up (registering a fleet, filling a range) always uses reqwest.
//!
//! With `MISSIONOPS_API_KEY` set, every request carries it as a bearer key (a server with
//! authentication on; `scripts/http-bench.sh` with `AUTH=1`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use missionops_core::{DemoProfile, SnapshotGenerator, SpacecraftId, Timestamp};
use serde_json::json;

#[derive(Debug, Clone)]
struct Options {
    scenario: String,
    url: String,
    seconds: u64,
    connections: usize,
    rows: u64,
    fleet: u64,
    client: ClientKind,
    /// Snapshots in a thousand whose `battery_soc` crosses its `warnHigh` (`fleet-live`).
    crossing: u64,
}

/// Which client sends the timed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    /// hyper's HTTP/1 client on one connection per worker.
    Hyper,
    /// reqwest (its pool, one client for all workers), as in earlier sessions.
    Reqwest,
}

/// One timed request: method, path (with its query), content type and body.
struct Req {
    method: hyper::Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

impl Req {
    fn get(path: String) -> Self {
        Req {
            method: hyper::Method::GET,
            path,
            content_type: None,
            body: Vec::new(),
        }
    }

    fn post(path: String, content_type: &'static str, body: Vec<u8>) -> Self {
        Req {
            method: hyper::Method::POST,
            path,
            content_type: Some(content_type),
            body,
        }
    }

    fn json(path: String, body: String) -> Self {
        Req::post(path, "application/json", body.into_bytes())
    }
}

/// The usage line.
/// A client that sends `Authorization: Bearer $MISSIONOPS_API_KEY` with every request when
/// that variable is set (a server with keys). The key comes from the environment, not an
/// argument, so that it never shows in the process list.
fn client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match std::env::var("MISSIONOPS_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                .expect("MISSIONOPS_API_KEY must be a header value");
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder.default_headers(headers)
        }
        _ => builder,
    }
}

const USAGE: &str = "usage: loadgen <batch|single|analyze|fill|single-fleet|single-new|batch10-fleet|batch-new|fleet-live|console|packets|events-fleet|healthz> [--url URL] [--seconds N] [--connections N] [--rows N] [--fleet N] [--client hyper|reqwest] [--crossing N]";

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().ok_or(USAGE)?;
    let mut options = Options {
        scenario,
        url: "http://127.0.0.1:3000".to_owned(),
        seconds: 10,
        connections: 8,
        rows: 10_000,
        fleet: 0,
        client: ClientKind::Hyper,
        crossing: 0,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--url" => options.url = value.trim_end_matches('/').to_owned(),
            "--seconds" => options.seconds = number()?,
            "--connections" => options.connections = usize::try_from(number()?).unwrap_or(8).max(1),
            "--rows" => options.rows = number()?,
            "--client" => {
                options.client = match value.as_str() {
                    "hyper" => ClientKind::Hyper,
                    "reqwest" => ClientKind::Reqwest,
                    other => return Err(format!("--client: hyper or reqwest, not {other}")),
                }
            }
            "--fleet" => {
                options.fleet = number()?;
                if options.fleet == 0 {
                    return Err("--fleet: at least 1 spacecraft".to_owned());
                }
            }
            "--crossing" => {
                options.crossing = number()?;
                if options.crossing > 1000 {
                    return Err("--crossing: at most 1000 in a thousand".to_owned());
                }
            }
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if options.client == ClientKind::Hyper && !options.url.starts_with("http://") {
        return Err(format!(
            "--client hyper speaks plain http://, not {}; use --client reqwest",
            options.url
        ));
    }
    if options.scenario == "console" {
        // One crossing value is enough: `console` picks which snapshots cross.
        options.crossing = options.crossing.max(1);
        if options.rows == 10_000 {
            options.rows = 15;
        }
    }
    if options.fleet == 0 {
        options.fleet = if options.scenario == "fleet-live" {
            10_000
        } else {
            1000
        };
    }
    Ok(options)
}

/// Writes the 10 parameters of sample `i` as a JSON object. Bodies are written as text rather
/// than built as `serde_json::Value` trees: the generator shares the machine with the server,
/// and every microsecond it spends is one the server does not get.
fn write_parameters(out: &mut String, i: u64) {
    use std::fmt::Write;
    let f = (i % 1000) as f64;
    let _ = write!(
        out,
        "{{\"battery_soc\":{},\"battery_temp\":{},\"bus_voltage\":{},\"solar_array_current\":3.0,\
         \"panel_temp\":30.0,\"payload_temp\":25.0,\"attitude_error_deg\":0.5,\"rw1_speed_rpm\":{},\
         \"rw2_speed_rpm\":{},\"images_captured\":{i}}}",
        60.0 + f / 100.0,
        20.0 + f / 500.0,
        28.0 + f / 1000.0,
        3000.0 + f,
        3100.0 + f,
    );
}

/// One snapshot `{id, spacecraftId?, timestamp, parameters}` as JSON text: sample `i`'s
/// values at sample `i`'s time.
fn write_snapshot(out: &mut String, id: &str, spacecraft: Option<&str>, i: u64) {
    write_snapshot_at(out, id, spacecraft, &timestamp(i), i);
}

/// One snapshot of sample `i`'s values at `time`.
fn write_snapshot_at(out: &mut String, id: &str, spacecraft: Option<&str>, time: &str, i: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{{\"id\":\"{id}\",");
    if let Some(spacecraft) = spacecraft {
        let _ = write!(out, "\"spacecraftId\":\"{spacecraft}\",");
    }
    let _ = write!(out, "\"timestamp\":\"{time}\",\"parameters\":");
    write_parameters(out, i);
    out.push('}');
}

fn timestamp(i: u64) -> String {
    // One sample per 10 ms from 2025-01-01, so that ids and times never collide.
    Timestamp::from_millis_clamped(1_735_689_600_000 + (i as i64) * 10).to_string()
}

struct Outcome {
    latencies: Vec<Duration>,
    items: u64,
    errors: u64,
}

fn report(name: &str, unit: &str, elapsed: Duration, outcomes: Vec<Outcome>) {
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .flat_map(|o| o.latencies.iter().copied())
        .collect();
    let items: u64 = outcomes.iter().map(|o| o.items).sum();
    let errors: u64 = outcomes.iter().map(|o| o.errors).sum();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "{name}: {} requests, {errors} errors in {secs:.1} s: {:.0} requests/s, {:.0} {unit}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / secs,
        items as f64 / secs,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
}

/// Runs `connections` workers for `seconds`, each sending what `request` builds for the next
/// counter value; returns when the time is up.
async fn run_for<F>(
    options: &Options,
    items_per_request: u64,
    request: F,
) -> (Duration, Vec<Outcome>)
where
    F: Fn(u64) -> Req + Send + Sync + 'static,
{
    let reqwest_client = client_builder()
        .pool_max_idle_per_host(options.connections)
        .build()
        .expect("client");
    let counter = Arc::new(AtomicU64::new(0));
    let request = Arc::new(request);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.connections {
        let client = reqwest_client.clone();
        let counter = counter.clone();
        let request = request.clone();
        let options = options.clone();
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome {
                latencies: Vec::new(),
                items: 0,
                errors: 0,
            };
            let mut connection = match options.client {
                ClientKind::Hyper => Some(Connection::open(&options.url).await),
                ClientKind::Reqwest => None,
            };
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let req = request(n);
                let sent = Instant::now();
                let ok = match &mut connection {
                    Some(connection) => connection.send(req).await,
                    None => send_reqwest(&client, &options.url, req).await,
                };
                if ok {
                    outcome.latencies.push(sent.elapsed());
                    outcome.items += items_per_request;
                } else {
                    outcome.errors += 1;
                }
            }
            outcome
        }));
    }
    let mut outcomes = Vec::new();
    for worker in workers {
        if let Ok(outcome) = worker.await {
            outcomes.push(outcome);
        }
    }
    (started.elapsed(), outcomes)
}

/// Sends `req` with reqwest; whether it was answered with a success (body read).
async fn send_reqwest(client: &reqwest::Client, base: &str, req: Req) -> bool {
    let mut builder = client.request(req.method, format!("{base}{}", req.path));
    if let Some(content_type) = req.content_type {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(req.body);
    }
    match builder.send().await {
        Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
        _ => false,
    }
}

/// One keep-alive connection of hyper's HTTP/1 client, reopened after a failure.
struct Connection {
    address: String,
    authorization: Option<hyper::header::HeaderValue>,
    sender:
        Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>>,
}

impl Connection {
    /// A connection to the `http://host:port` of `url`.
    async fn open(url: &str) -> Self {
        // `parse_options` let only http:// through for this client.
        let address = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let authorization = match std::env::var("MISSIONOPS_API_KEY") {
            Ok(key) if !key.is_empty() => {
                let mut value = hyper::header::HeaderValue::from_str(&format!("Bearer {key}"))
                    .expect("MISSIONOPS_API_KEY must be a header value");
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let mut connection = Connection {
            address,
            authorization,
            sender: None,
        };
        connection.sender = connection.connect().await;
        connection
    }

    async fn connect(
        &self,
    ) -> Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>>
    {
        let stream = tokio::net::TcpStream::connect(&self.address).await.ok()?;
        stream.set_nodelay(true).ok()?;
        // Head and body in one write, so that each request reaches the server as one segment.
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .writev(false)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        Some(sender)
    }

    /// Sends `req`; whether it was answered with a success (body read).
    async fn send(&mut self, req: Req) -> bool {
        use http_body_util::BodyExt;
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = self.connect().await;
        }
        let Some(sender) = self.sender.as_mut() else {
            return false;
        };
        if sender.ready().await.is_err() {
            self.sender = None;
            return false;
        }
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(req.path)
            .header(hyper::header::HOST, &self.address);
        if let Some(content_type) = req.content_type {
            builder = builder.header(hyper::header::CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.authorization {
            builder = builder.header(hyper::header::AUTHORIZATION, authorization.clone());
        }
        let Ok(request) = builder.body(http_body_util::Full::new(hyper::body::Bytes::from(
            req.body,
        ))) else {
            return false;
        };
        match sender.send_request(request).await {
            Ok(response) => {
                let success = response.status().is_success();
                response.into_body().collect().await.is_ok() && success
            }
            Err(_) => {
                self.sender = None;
                false
            }
        }
    }
}

/// A `POST /telemetry/batch` body of `count` snapshots from sample `first`.
fn batch_body(spacecraft: &str, first: u64, count: u64) -> String {
    let mut out = String::with_capacity(64 + 400 * count as usize);
    out.push_str("{\"spacecraftId\":\"");
    out.push_str(spacecraft);
    out.push_str("\",\"snapshots\":[");
    for i in first..first + count {
        if i > first {
            out.push(',');
        }
        write_snapshot(&mut out, &format!("{spacecraft}-{i}"), None, i);
    }
    out.push_str("]}");
    out
}

/// Sends the request `request` builds for each spacecraft of `fleet` (its index and id),
/// `options.connections` at a time. Exits at the first one refused, naming it with `what`:
/// the rows measured after it would not be what they say.
async fn send_to_each<F>(
    options: &Options,
    fleet: &Arc<Vec<String>>,
    what: &'static str,
    request: F,
) where
    F: Fn(&reqwest::Client, usize, &str) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = client_builder().build().expect("http client");
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..options.connections {
        let (client, next, fleet, request) =
            (client.clone(), next.clone(), fleet.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let k = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
                let Some(id) = fleet.get(k) else {
                    return Ok(());
                };
                match request(&client, k, id).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => return Err(format!("{what} {id}: {}", response.status())),
                    Err(e) => return Err(format!("{what} {id}: {e}")),
                }
            }
        }));
    }
    for worker in workers {
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("a worker {what} spacecraft failed: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// `options.fleet` spacecraft ids `{prefix}-{i}`.
fn fleet_ids(options: &Options, prefix: &str) -> Arc<Vec<String>> {
    Arc::new(
        (0..options.fleet)
            .map(|i| format!("{prefix}-{i}"))
            .collect(),
    )
}

/// Registers `options.fleet` spacecraft `{prefix}-{i}` with `POST /spacecraft`,
/// `options.connections` at a time, and returns their ids. Exits when one is refused: the rows
/// measured after it would not be what they say.
async fn register_fleet(options: &Options, prefix: &str) -> Arc<Vec<String>> {
    let ids = fleet_ids(options, prefix);
    let url = format!("{}/spacecraft", options.url);
    send_to_each(options, &ids, "registering", move |client, _, id| {
        json_body(
            client.post(&url),
            format!("{{\"id\":\"{id}\",\"name\":\"Load {id}\"}}"),
        )
    })
    .await;
    ids
}

/// Gives `options.fleet` spacecraft `{prefix}-{i}` a configuration of the ten parameters the
/// generator sends, each with limits and `stale_after_sec` when given (`PUT
/// /spacecraft/:id/config`, which registers the spacecraft), `options.connections` at a time;
/// returns their ids. Exits when one is refused.
async fn configure_fleet(
    options: &Options,
    prefix: &str,
    stale_after_sec: Option<u64>,
) -> Arc<Vec<String>> {
    let ids = fleet_ids(options, prefix);
    let names = [
        "battery_soc",
        "battery_temp",
        "bus_voltage",
        "solar_array_current",
        "panel_temp",
        "payload_temp",
        "attitude_error_deg",
        "rw1_speed_rpm",
        "rw2_speed_rpm",
        "images_captured",
    ];
    // `battery_soc` runs 60.00, 60.01, … 69.99 (see `write_parameters`): a `warnHigh` just
    // below the top `--crossing` of those thousand values is crossed by that many snapshots in
    // a thousand, each opening an alarm that the next snapshot clears.
    let soc_warn_high = 60.0 + (1000 - options.crossing) as f64 / 100.0 - 0.005;
    let parameters: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| {
            let warn_high = if *n == "battery_soc" {
                soc_warn_high
            } else {
                1e9
            };
            let mut rule = json!({"warnHigh": warn_high, "critHigh": 2e9});
            if let Some(stale) = stale_after_sec {
                rule["staleAfterSec"] = json!(stale);
            }
            ((*n).to_owned(), rule)
        })
        .collect();
    let body = json!({ "parameters": parameters }).to_string();
    let started = Instant::now();
    let base = options.url.clone();
    send_to_each(options, &ids, "configuring", move |client, _, id| {
        json_body(
            client.put(format!("{base}/spacecraft/{id}/config")),
            body.clone(),
        )
    })
    .await;
    println!(
        "configured {} spacecraft in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    ids
}

/// Values sample index 0 (`battery_soc` 60.00, inside every limit) and 999 (69.99, above the
/// `warnHigh` that `configure_fleet` sets for any `--crossing` of at least 1).
const NOMINAL: u64 = 0;
const CROSSING: u64 = 999;

/// Which of its six seeded snapshots cross for the `k`th spacecraft of the console's fleet: a
/// tenth end above the limit, a tenth cross once and return (their alarms stay open until
/// acknowledged), a tenth twice; the rest stay inside.
fn console_values(k: usize) -> [u64; 6] {
    let mut values = [NOMINAL; 6];
    match k % 10 {
        0 => values[5] = CROSSING,
        1 => values[2] = CROSSING,
        2 => {
            values[1] = CROSSING;
            values[4] = CROSSING;
        }
        _ => {}
    }
    values
}

/// Sends each spacecraft of `fleet` one live `POST /telemetry/batch` of six snapshots (see
/// [`console_values`]), times from ten minutes ago, a millisecond apart, so that the fleet's
/// status counts them in its windows. Exits when one is refused.
async fn seed_console_fleet(options: &Options, fleet: &Arc<Vec<String>>) {
    let url = format!("{}/telemetry/batch", options.url);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
        - 600_000;
    let started = Instant::now();
    send_to_each(options, fleet, "seeding", move |client, k, id| {
        let mut body = format!("{{\"spacecraftId\":\"{id}\",\"snapshots\":[");
        for (j, value) in console_values(k).into_iter().enumerate() {
            if j > 0 {
                body.push(',');
            }
            let millis = start + (k * 6 + j) as i64;
            let time = Timestamp::from_millis_clamped(millis).to_string();
            write_snapshot_at(&mut body, &format!("{id}-{j}"), None, &time, value);
        }
        body.push_str("]}");
        json_body(client.post(&url), body)
    })
    .await;
    println!(
        "sent {} spacecraft six live snapshots each in {:.1} s",
        fleet.len(),
        started.elapsed().as_secs_f64()
    );
}

/// One timed GET: its time and the answer's size in bytes; exits on a failure (the figures
/// after it would not be what they say).
async fn timed_get(client: &reqwest::Client, base: &str, path: &str) -> (Duration, usize) {
    let sent = Instant::now();
    let answer = match client.get(format!("{base}{path}")).send().await {
        Ok(response) if response.status().is_success() => response.bytes().await,
        Ok(response) => {
            eprintln!("GET {path}: {}", response.status());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("GET {path}: {e}");
            std::process::exit(1);
        }
    };
    match answer {
        Ok(bytes) => (sent.elapsed(), bytes.len()),
        Err(e) => {
            eprintln!("GET {path}: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints one read's median, p95 and largest time over `times`, and the answer's size.
fn report_read(name: &str, mut times: Vec<Duration>, bytes: usize) {
    times.sort_unstable();
    let ms = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} requests; {:.1} kB",
        ms(0.5),
        ms(0.95),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        times.len(),
        bytes as f64 / 1000.0
    );
}

/// Times each read the console makes over the fleet, `options.rows` times, one at a time
/// (after one untimed request each, which warms what the first would pay alone).
async fn time_console_reads(options: &Options, fleet: &[String]) {
    let client = client_builder().build().expect("http client");
    let base = options.url.as_str();
    let one = fleet.get(fleet.len() / 2).map_or("", String::as_str);
    let last_page = fleet.len().saturating_sub(100);
    let reads = [
        ("GET /fleet/status", "/fleet/status".to_owned()),
        ("GET /alarms (open)", "/alarms".to_owned()),
        ("GET /alarms?state=ALL", "/alarms?state=ALL".to_owned()),
        (
            "GET /alarms?limit=100 (the console's first page)",
            "/alarms?limit=100".to_owned(),
        ),
        (
            "GET /alarms?state=ALL&limit=100",
            "/alarms?state=ALL&limit=100".to_owned(),
        ),
        ("GET /events?limit=100", "/events?limit=100".to_owned()),
        (
            "GET /spacecraft?limit=100",
            "/spacecraft?limit=100".to_owned(),
        ),
        (
            "GET /spacecraft?limit=100, the last page",
            format!("/spacecraft?limit=100&offset={last_page}"),
        ),
        ("GET /spacecraft/:id", format!("/spacecraft/{one}")),
        (
            "GET /events?spacecraftId=…&limit=20",
            format!("/events?spacecraftId={one}&limit=20"),
        ),
    ];
    let repeats = options.rows.max(1);
    for (name, path) in &reads {
        let (_, bytes) = timed_get(&client, base, path).await;
        let mut times = Vec::new();
        for _ in 0..repeats {
            times.push(timed_get(&client, base, path).await.0);
        }
        report_read(name, times, bytes);
    }
    // A control room: eight screens reload the fleet at once after one event. Timed: until
    // the last of the eight has its answer.
    const SCREENS: usize = 8;
    let mut bursts = Vec::new();
    let mut bytes = 0;
    for _ in 0..repeats {
        let sent = Instant::now();
        let answers = futures_util::future::join_all(
            (0..SCREENS).map(|_| timed_get(&client, base, "/fleet/status")),
        )
        .await;
        bursts.push(sent.elapsed());
        bytes = answers.first().map_or(0, |(_, size)| *size);
    }
    report_read(
        &format!("GET /fleet/status from {SCREENS} screens at once (until the last answer)"),
        bursts,
        bytes,
    );
}

/// The monitor tick's figures in the server's `/metrics`: how many ticks were timed, their
/// total seconds, and how many monitors the last one visited.
#[derive(Clone, Copy, Default)]
struct Ticks {
    count: f64,
    seconds: f64,
    last_visited: f64,
}

async fn read_ticks(base: &str) -> Option<Ticks> {
    let client = client_builder().build().expect("http client");
    let text = match client.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(e) => {
            eprintln!("cannot read /metrics: {e}");
            return None;
        }
    };
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some(Ticks {
        count: value("missionops_monitor_tick_duration_seconds_count")?,
        seconds: value("missionops_monitor_tick_duration_seconds_sum")?,
        last_visited: value("missionops_monitor_tick_spacecraft").unwrap_or(0.0),
    })
}

/// The tick figures once a tick that began after the fleet's configurations were set has run
/// (the ticks after a configuration visit every monitor it changed; the one running as the
/// last was set may leave some to the next), so that the load's figures leave them out;
/// waits at most 60 s (the server ticks every 5 s by default, and on PostgreSQL a tick
/// visiting thousands of changed monitors takes seconds).
async fn settled_ticks(base: &str) -> Option<Ticks> {
    let configured = read_ticks(base).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = read_ticks(base).await?;
        if now.count >= configured.count + 2.0 || tokio::time::Instant::now() >= deadline {
            return Some(now);
        }
    }
}

/// Prints the ticks timed while the load ran (`before` read as it started), apart from the
/// ones before: the tick after the fleet's configurations were set visits every monitor they
/// changed once, which is not what a live fleet's tick costs.
async fn report_ticks(base: &str, before: Option<Ticks>) {
    let before = before.unwrap_or_default();
    let Some(after) = read_ticks(base).await else {
        println!("monitor ticks: none timed in /metrics");
        return;
    };
    let mean_ms = |count: f64, seconds: f64| {
        if count > 0.0 {
            format!("mean {:.3} ms", seconds / count * 1000.0)
        } else {
            "none".to_owned()
        }
    };
    let during = (after.count - before.count, after.seconds - before.seconds);
    println!(
        "monitor ticks during the load: {} timed, {}; the last visited {} monitors \
         (before it, the tick after the configurations among them: {} timed, {})",
        during.0,
        mean_ms(during.0, during.1),
        after.last_visited,
        before.count,
        mean_ms(before.count, before.seconds)
    );
}

/// The element of `fleet` that request `n` goes to, round-robin.
fn round_robin(fleet: &[String], n: u64) -> &str {
    let len = fleet.len() as u64;
    usize::try_from(n % len.max(1))
        .ok()
        .and_then(|i| fleet.get(i))
        .map_or("", String::as_str)
}

/// A JSON request body.
fn json_body(request: reqwest::RequestBuilder, body: String) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
}

// One thread: the generator needs well under a core, and a single-threaded runtime spends none
// of it waking threads across cores, leaving more of the shared machine to the server.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let base = options.url.clone();
    let run_id = std::process::id();
    match options.scenario.as_str() {
        "batch" => {
            let (elapsed, outcomes) = run_for(&options, 100, move |n| {
                Req::json(
                    "/telemetry/batch".to_owned(),
                    batch_body(&format!("LOAD-B{run_id}"), n * 100, 100),
                )
            })
            .await;
            report(
                "POST /telemetry/batch (100 x 10)",
                "snapshots",
                elapsed,
                outcomes,
            );
        }
        "single" => {
            let (elapsed, outcomes) = run_for(&options, 1, move |n| {
                let mut body = String::with_capacity(448);
                write_snapshot(
                    &mut body,
                    &format!("LOAD-S{run_id}-{n}"),
                    Some(&format!("LOAD-S{run_id}")),
                    n,
                );
                Req::json("/telemetry".to_owned(), body)
            })
            .await;
            report("POST /telemetry", "snapshots", elapsed, outcomes);
        }
        "analyze" => {
            let spacecraft = format!("LOAD-A{run_id}");
            let client = client_builder().build().expect("http client");
            let config = json!({"parameters": {"battery_soc": {"warnLow": 25, "critLow": 15}, "rw1_speed_rpm": {"warnHigh": 3900, "critHigh": 8000}}});
            client
                .put(format!("{base}/spacecraft/{spacecraft}/config"))
                .json(&config)
                .send()
                .await
                .expect("config");
            let mut stored = 0;
            while stored < options.rows {
                let count = (options.rows - stored).min(1000);
                let response = json_body(
                    client.post(format!("{base}/telemetry/batch")),
                    batch_body(&spacecraft, stored, count),
                )
                .send()
                .await
                .expect("fill");
                assert!(
                    response.status().is_success(),
                    "fill failed: {}",
                    response.status()
                );
                stored += count;
            }
            let path = format!("/telemetry/analyze?spacecraftId={spacecraft}&limit=100");
            let (elapsed, outcomes) = run_for(&options, 1, move |_| Req::get(path.clone())).await;
            report(
                &format!("GET /telemetry/analyze?limit=100 ({} stored)", options.rows),
                "responses",
                elapsed,
                outcomes,
            );
        }
        "fill" => {
            let url = format!("{base}/telemetry/batch");
            let client = client_builder().build().expect("http client");
            let spacecraft = format!("LOAD-F{run_id}");
            let per_request = 100u64;
            let total = options.rows;
            let next = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let window_start = Arc::new(std::sync::Mutex::new(Instant::now()));
            let mut workers = Vec::new();
            for _ in 0..options.connections {
                let window_start = window_start.clone();
                let (client, url, next, spacecraft) = (
                    client.clone(),
                    url.clone(),
                    next.clone(),
                    spacecraft.clone(),
                );
                workers.push(tokio::spawn(async move {
                    loop {
                        let first = next.fetch_add(per_request, Ordering::Relaxed);
                        if first >= total {
                            break;
                        }
                        let response = json_body(
                            client.post(&url),
                            batch_body(&spacecraft, first, per_request),
                        )
                        .send()
                        .await;
                        if !response.is_ok_and(|r| r.status().is_success()) {
                            eprintln!("batch at {first} failed");
                        }
                        let done = first + per_request;
                        if done % 1_000_000 == 0 {
                            if let Ok(mut start) = window_start.lock() {
                                let rate = 1_000_000.0 / start.elapsed().as_secs_f64();
                                println!("{done} stored: last million at {rate:.0} snapshots/s");
                                *start = Instant::now();
                            }
                        }
                    }
                }));
            }
            for worker in workers {
                let _ = worker.await;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "filled {total} snapshots in {secs:.1} s: {:.0} snapshots/s",
                total as f64 / secs
            );
        }
        "single-fleet" => {
            let fleet = register_fleet(&options, &format!("LOAD-R{run_id}")).await;
            let (elapsed, outcomes) = run_for(&options, 1, move |n| {
                let spacecraft = round_robin(&fleet, n);
                let mut body = String::with_capacity(448);
                write_snapshot(&mut body, &format!("{spacecraft}-{n}"), Some(spacecraft), n);
                Req::json("/telemetry".to_owned(), body)
            })
            .await;
            report(
                &format!(
                    "POST /telemetry, round-robin over {} registered spacecraft",
                    options.fleet
                ),
                "snapshots",
                elapsed,
                outcomes,
            );
        }
        "single-new" => {
            let (elapsed, outcomes) = run_for(&options, 1, move |n| {
                let mut body = String::with_capacity(448);
                let spacecraft = format!("LOAD-N{run_id}-{n}");
                write_snapshot(&mut body, &format!("{spacecraft}-0"), Some(&spacecraft), n);
                Req::json("/telemetry".to_owned(), body)
            })
            .await;
            report(
                "POST /telemetry, a new spacecraft per request",
                "snapshots",
                elapsed,
                outcomes,
            );
        }
        "batch10-fleet" => {
            let fleet = register_fleet(&options, &format!("LOAD-T{run_id}")).await;
            let (elapsed, outcomes) = run_for(&options, 10, move |n| {
                Req::json(
                    "/telemetry/batch".to_owned(),
                    batch_body(round_robin(&fleet, n), n * 10, 10),
                )
            })
            .await;
            report(
                &format!(
                    "POST /telemetry/batch (10 x 10), round-robin over {} registered spacecraft",
                    options.fleet
                ),
                "snapshots",
                elapsed,
                outcomes,
            );
        }
        "batch-new" => {
            let (elapsed, outcomes) = run_for(&options, 100, move |n| {
                Req::json(
                    "/telemetry/batch".to_owned(),
                    batch_body(&format!("LOAD-BN{run_id}-{n}"), n * 100, 100),
                )
            })
            .await;
            report(
                "POST /telemetry/batch (100 x 10), a new spacecraft per batch",
                "snapshots",
                elapsed,
                outcomes,
            );
        }
        "packets" => {
            let spacecraft = format!("LOAD-P{run_id}");
            let client = client_builder().build().expect("http client");
            let defined = client
                .put(format!("{base}/spacecraft/{spacecraft}/packet-definition"))
                .header(reqwest::header::CONTENT_TYPE, "application/xml")
                .body(missionops_packets::SAT_IMAGER_001_DEFINITION)
                .send()
                .await
                .expect("packet definition");
            assert!(
                defined.status().is_success(),
                "the packet definition was refused: {}",
                defined.status()
            );
            // One simulated sample's values, sent again and again under new times.
            let start = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
            let parameters = SnapshotGenerator::for_spacecraft(
                DemoProfile::LeoImaging,
                SpacecraftId::parse(spacecraft.clone()).expect("id"),
                start,
                1,
                1,
                7,
            )
            .expect("generator")
            .next()
            .expect("a sample")
            .parameters;
            let parameters = Arc::new(parameters);
            let path = format!("/spacecraft/{spacecraft}/packets");
            let (elapsed, outcomes) = run_for(&options, 100, move |n| {
                let mut buffer = Vec::with_capacity(100 * 48);
                for i in 0..100u64 {
                    let k = n * 100 + i;
                    let millis = start.as_millis() + i64::try_from(k).unwrap_or(i64::MAX / 2);
                    let time = Timestamp::from_millis(millis).expect("time");
                    buffer.extend(missionops_packets::encode_sat_imager_001(
                        (k % 16_384) as u16,
                        time,
                        &parameters,
                    ));
                }
                Req::post(path.clone(), "application/octet-stream", buffer)
            })
            .await;
            report(
                "POST /spacecraft/:id/packets (100 x 11)",
                "packets",
                elapsed,
                outcomes,
            );
        }
        "fleet-live" => {
            let fleet = configure_fleet(&options, &format!("LOAD-L{run_id}"), Some(120)).await;
            let before = settled_ticks(&base).await;
            let (elapsed, outcomes) = run_for(&options, 1, move |n| {
                let spacecraft = round_robin(&fleet, n);
                let mut body = String::with_capacity(448);
                write_snapshot(&mut body, &format!("{spacecraft}-{n}"), Some(spacecraft), n);
                Req::json("/telemetry".to_owned(), body)
            })
            .await;
            report(
                &format!(
                    "POST /telemetry, round-robin over {} live spacecraft (10 monitored parameters each)",
                    options.fleet
                ),
                "snapshots",
                elapsed,
                outcomes,
            );
            report_ticks(&base, before).await;
        }
        "console" => {
            let fleet = configure_fleet(&options, &format!("LOAD-C{run_id}"), None).await;
            seed_console_fleet(&options, &fleet).await;
            time_console_reads(&options, &fleet).await;
        }
        "events-fleet" => {
            // A read that is one transaction on the store: each spacecraft's registration
            // event, newest 20, round-robin over the fleet.
            let fleet = register_fleet(&options, &format!("LOAD-E{run_id}")).await;
            let (elapsed, outcomes) = run_for(&options, 1, move |n| {
                Req::get(format!(
                    "/events?spacecraftId={}&limit=20",
                    round_robin(&fleet, n)
                ))
            })
            .await;
            report(
                &format!(
                    "GET /events?spacecraftId=…&limit=20, round-robin over {} registered spacecraft",
                    options.fleet
                ),
                "responses",
                elapsed,
                outcomes,
            );
        }
        "healthz" => {
            let (elapsed, outcomes) =
                run_for(&options, 1, move |_| Req::get("/healthz".to_owned())).await;
            report("GET /healthz", "responses", elapsed, outcomes);
        }
        other => {
            eprintln!("unknown scenario {other}\n{USAGE}");
            std::process::exit(2);
        }
    }
}
