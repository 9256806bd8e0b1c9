// A Node.js keep-alive load generator: the kind of client issue 13's healthz reference was
// measured with ("~28 k/s with a Node keep-alive client at 8 connections"), so that the fleet
// rows' ratios to `GET /healthz` can be read in the issue's own terms beside the Rust
// generator's (`missionops-http/examples/loadgen.rs`, whose bodies this one copies).
//
//   node scripts/node-loadgen.mjs SCENARIO --url http://127.0.0.1:PORT [--seconds 10]
//        [--connections 8] [--fleet 1000]
//
// Scenarios: healthz, single, single-fleet, single-new, batch10-fleet. Prints one line in the
// Rust generator's form ("NAME: N requests, E errors in S s: R requests/s, I snapshots/s; …"),
// which scripts/http-bench.sh reads (CLIENT=node). Uses only Node's own http module: nothing to
// install.
import http from "node:http";

const args = process.argv.slice(2);
const scenario = args.shift();
const option = (flag, fallback) => {
  const at = args.indexOf(flag);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const usage = () => {
  console.error(`usage: node-loadgen.mjs {${known.join("|")}} --url http://HOST:PORT ` +
    "[--seconds N] [--connections N] [--fleet N]");
  process.exit(2);
};
const known = ["healthz", "single", "single-fleet", "single-new", "batch10-fleet"];
// Each bad argument ends the run with one line naming it (exit 2), never a stack trace.
const whole = (flag, fallback) => {
  const value = Number(option(flag, fallback));
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${flag}: a whole number of at least 1, not ${option(flag, fallback)}`);
    process.exit(2);
  }
  return value;
};
let base;
try {
  base = new URL(option("--url", "http://127.0.0.1:3000"));
} catch {
  console.error(`--url: not a URL: ${option("--url", "")}`);
  process.exit(2);
}
if (!known.includes(scenario) || base.protocol !== "http:") usage();
const seconds = whole("--seconds", "10");
const connections = whole("--connections", "8");
const fleetSize = whole("--fleet", "1000");

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const runId = Date.now() % 1_000_000;

function send(method, path, body) {
  return new Promise((resolve) => {
    const headers = body === undefined ? {} : {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    };
    const request = http.request(
      { host: base.hostname, port: base.port, method, path, agent, headers },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode >= 200 && response.statusCode < 300));
      },
    );
    request.on("error", () => resolve(false));
    request.end(body);
  });
}

function parameters(i) {
  const f = i % 1000;
  return `{"battery_soc":${60 + f / 100},"battery_temp":${20 + f / 500},"bus_voltage":${28 + f / 1000},` +
    `"solar_array_current":3.0,"panel_temp":30.0,"payload_temp":25.0,"attitude_error_deg":0.5,` +
    `"rw1_speed_rpm":${3000 + f},"rw2_speed_rpm":${3100 + f},"images_captured":${i}}`;
}

// One sample per 10 ms from 2025-01-01, as the Rust generator: ids and times never collide.
const timestamp = (i) => new Date(1_735_689_600_000 + i * 10).toISOString();

function snapshot(id, spacecraft, i) {
  const owner = spacecraft === undefined ? "" : `"spacecraftId":"${spacecraft}",`;
  return `{"id":"${id}",${owner}"timestamp":"${timestamp(i)}","parameters":${parameters(i)}}`;
}

async function registerFleet(prefix) {
  const ids = Array.from({ length: fleetSize }, (_, i) => `${prefix}-${i}`);
  let next = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      if (!(await send("POST", "/spacecraft", `{"id":"${id}","name":"Load ${id}"}`))) {
        console.error(`registering ${id} was refused`);
        process.exit(1);
      }
    }
  }));
  return ids;
}

async function requestFor() {
  switch (scenario) {
    case "healthz":
      return ["GET /healthz", 1, () => ["GET", "/healthz", undefined]];
    case "single": {
      const spacecraft = `NODE-S${runId}`;
      return ["POST /telemetry, one spacecraft", 1,
        (n) => ["POST", "/telemetry", snapshot(`${spacecraft}-${n}`, spacecraft, n)]];
    }
    case "single-fleet": {
      const fleet = await registerFleet(`NODE-R${runId}`);
      return [`POST /telemetry, round-robin over ${fleetSize} registered spacecraft`, 1, (n) => {
        const spacecraft = fleet[n % fleet.length];
        return ["POST", "/telemetry", snapshot(`${spacecraft}-${n}`, spacecraft, n)];
      }];
    }
    case "single-new":
      return ["POST /telemetry, a new spacecraft per request", 1, (n) => {
        const spacecraft = `NODE-N${runId}-${n}`;
        return ["POST", "/telemetry", snapshot(`${spacecraft}-0`, spacecraft, n)];
      }];
    case "batch10-fleet": {
      const fleet = await registerFleet(`NODE-T${runId}`);
      return [`POST /telemetry/batch (10 x 10), round-robin over ${fleetSize} registered spacecraft`,
        10, (n) => {
          const spacecraft = fleet[n % fleet.length];
          const snapshots = [];
          for (let i = n * 10; i < n * 10 + 10; i++) snapshots.push(snapshot(`${spacecraft}-${i}`, undefined, i));
          return ["POST", "/telemetry/batch", `{"spacecraftId":"${spacecraft}","snapshots":[${snapshots.join(",")}]}`];
        }];
    }
  }
}

const [name, itemsPerRequest, request] = await requestFor();
let counter = 0;
let errors = 0;
const latencies = [];
const started = process.hrtime.bigint();
const deadline = started + BigInt(seconds * 1e9);
await Promise.all(Array.from({ length: connections }, async () => {
  while (process.hrtime.bigint() < deadline) {
    const [method, path, body] = request(counter++);
    const sent = process.hrtime.bigint();
    if (await send(method, path, body)) {
      latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
    } else {
      errors++;
    }
  }
}));
const secs = Number(process.hrtime.bigint() - started) / 1e9;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : 0);
const unit = scenario === "healthz" ? "requests" : "snapshots";
console.log(
  `${name}: ${latencies.length} requests, ${errors} errors in ${secs.toFixed(1)} s: ` +
  `${(latencies.length / secs).toFixed(0)} requests/s, ${(latencies.length * itemsPerRequest / secs).toFixed(0)} ${unit}/s; ` +
  `latency p50 ${pct(0.5).toFixed(2)} ms, p99 ${pct(0.99).toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2) ?? 0} ms`,
);
agent.destroy();
