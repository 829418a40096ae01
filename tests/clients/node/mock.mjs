// The running mock (TERMINUS_URL, set by tests/clients/run), its control API, the shared cases, and a
// byte-recording relay. The Node twin of ../conftest.py.

import { readFileSync } from "node:fs";
import net from "node:net";

const here = new URL(".", import.meta.url);
export const WORLD = readFileSync(new URL("../world.toml", here), "utf8");
export const CASES = JSON.parse(readFileSync(new URL("../cases.json", here), "utf8"));
export const ACCOUNTS = CASES.accounts;
export const REGION = CASES.region;
export const REAL_HOST = "cvm.tencentcloudapi.com";
export const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Direct addressing must not go through a proxy the machine happens to have (the SDK reads http_proxy).
for (const name of ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
  "no_proxy", "NO_PROXY"]) {
  delete process.env[name];
}

const url = (process.env.TERMINUS_URL || "").replace(/\/$/, "");
if (!url) {
  throw new Error("TERMINUS_URL is not set: run these tests with tests/clients/run, which starts the mock");
}
export const PORT = Number(url.split(":").pop());

// Node's global fetch (undici) ignores proxy variables: the control API is always reached directly.
// A control call carries a Content-Type no browser sends cross-origin without asking (fetch's default for a string
// body is text/plain, which the mock refuses on POST), and the control token when the mock needs one
// (TERMINUS_CONTROL_TOKEN: `terminus serve` off loopback).
async function control(method, path, body) {
  const headers = { "content-type": typeof body === "string" ? "application/toml" : "application/json" };
  if (process.env.TERMINUS_CONTROL_TOKEN) headers["x-terminus-token"] = process.env.TERMINUS_CONTROL_TOKEN;
  const response = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export const mock = {
  port: PORT,
  /** Puts world.toml back: state, clock (real), rate-limit windows, faults, request ids. */
  reset: () => control("PUT", "/__terminus/world", WORLD),
  world: () => control("GET", "/__terminus/world"),
  instance: (id) => control("GET", `/__terminus/instances/${id}`),
  state: async (id) => (await control("GET", `/__terminus/instances/${id}`)).state,
  clock: (change) => control("POST", "/__terminus/clock", change),
  fault: (spec) => control("POST", "/__terminus/faults", spec),
  /** The lifecycle's timings: "immediate" or {launch: seconds, …}. */
  timings: (timings) => control("PUT", "/__terminus/timings", { timings }),
  /** Loads a scenario of `terminus scenarios` and starts following it; its verdict after the calls. */
  scenario: (id) => control("PUT", `/__terminus/scenario/${id}`),
  verdict: (id) => control("GET", `/__terminus/scenario/${id}/verdict`),
  /** Does what a case needs done through the control API before the client's call. */
  async prepare(testCase) {
    switch (testCase.setup) {
      case undefined:
        return;
      case "expire": // the client signs with the machine's time; the mock is now 10 minutes later
        await this.clock({ advance: 600 });
        return;
      case "rate-limit": // stop the clock: every call falls in the same second of the world's clock
        await this.clock({ set: Math.floor(Date.now() / 1000) });
        return;
      case "fault":
        await this.fault({ kind: "error", action: "TerminateInstances", count: 1 });
        return;
      default:
        throw new Error(`unknown setup ${testCase.setup}`);
    }
  },
};

export function caseIds(testCase) {
  if (testCase.many) {
    return Array.from({ length: testCase.many }, (_, n) => `ins-${String(n).padStart(8, "0")}`);
  }
  return [...testCase.ids];
}

/** A TCP relay in front of the mock that keeps every byte clients send; the bytes reach the mock unchanged. */
export class Recorder {
  constructor() {
    this.sent = [];
    this.sockets = new Set();
    this.server = net.createServer((client) => {
      const record = [];
      this.sent.push(record);
      const upstream = net.connect(PORT, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => this.sockets.delete(socket));
      }
      client.on("data", (chunk) => record.push(chunk));
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = this.server.address().port;
    return this;
  }

  /** Every request received, in order: {line, headers: [[name, value]…], body}. A CONNECT is one too. */
  requests() {
    const found = [];
    for (const record of this.sent) {
      let data = Buffer.concat(record);
      for (;;) {
        const end = data.indexOf("\r\n\r\n");
        if (end < 0) break;
        const [line, ...rest] = data.subarray(0, end).toString("latin1").split("\r\n");
        const headers = rest.map((h) => {
          const colon = h.indexOf(":");
          return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()];
        });
        const length = Number(headers.find(([k]) => k.toLowerCase() === "content-length")?.[1] ?? 0);
        found.push({ line, headers, body: data.subarray(end + 4, end + 4 + length).toString("latin1") });
        data = data.subarray(end + 4 + length);
      }
    }
    return found;
  }

  async close() {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export function header(headers, name) {
  return headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}
