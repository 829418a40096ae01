// The running mock (TERMINUS_URL, set by tests/clients/run), its control API, the error scenarios of `terminus
// scenarios --format json` (TERMINUS_BIN), and a byte-recording relay. The Node twin of ../conftest.py.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";

const here = new URL(".", import.meta.url);
export const WORLD = readFileSync(new URL("../world.toml", here), "utf8");
// The keys of world.toml's accounts, as the clients are given them.
export const ACCOUNTS = {
  "main": {"secretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
  "temp": {"secretId": "AKIDtempTOKENz8krbsJ5yKBZQpn7EXAMPLE", "secretKey": "tempTOKENGu5t9xGARNpq86cd98jEXAMPLE", "token": "token-for-the-client-tests-0001"},
  "temp-without-token": {"secretId": "AKIDtempTOKENz8krbsJ5yKBZQpn7EXAMPLE", "secretKey": "tempTOKENGu5t9xGARNpq86cd98jEXAMPLE"},
  "wrong-key": {"secretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3WRONGKEY"},
  "unknown-id": {"secretId": "AKIDnoSUCHkeyz8krbsJ5yKBZQpn74EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
  "not-akid": {"secretId": "XYZz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
  "disabled": {"secretId": "AKIDdisabledKEYz8krbsJ5yKBZQpEXAMPLE", "secretKey": "disabledKEYGu5t9xGARNpq86cd9EXAMPLE"},
  "mfa-failure": {"secretId": "AKIDmfaFAILUREz8krbsJ5yKBZQpEXAMPLE", "secretKey": "mfaFAILUREGu5t9xGARNpq86cd98EXAMPLE"},
  "unpaid": {"secretId": "AKIDunpaidORDERz8krbsJ5yKBZQEXAMPLE", "secretKey": "unpaidORDERGu5t9xGARNpq86cd9EXAMPLE"},
  "return-quota": {"secretId": "AKIDreturnQUOTAz8krbsJ5yKBZQEXAMPLE", "secretKey": "returnQUOTAGu5t9xGARNpq86cd9EXAMPLE"},
};
export const REGION = "ap-guangzhou";
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

// How much older than its step says a signature from the past is made when the step expects it refused.
const SKEW_MARGIN = 30;

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
  /** Moves the world's clock as a step says: its advance-seconds, and a signature skew-seconds in the past as the
   * server's clock that much ahead (a client signs with the machine's time, a little after the scenario fixed the
   * clock: a refused signature is made SKEW_MARGIN seconds older still, as ../conftest.py does). */
  async before(step) {
    const skew = step["skew-seconds"] - (step["skew-seconds"] < 0 && step.expect.error ? SKEW_MARGIN : 0);
    const advance = step["advance-seconds"] - skew;
    if (advance) await this.clock({ advance });
  },
};

// `terminus scenarios --format json`: every scenario of the binary under test (scenarios.schema.json).
const binary = process.env.TERMINUS_BIN;
if (!binary) throw new Error("TERMINUS_BIN is not set: run these tests with tests/clients/run");
export const EXPORT = JSON.parse(execFileSync(binary, ["scenarios", "--format", "json"], { timeout: 60_000,
  maxBuffer: 64 * 1024 * 1024 }));
// The SDK's signMethod for each exported sign form it has.
export const SIGN_METHODS = { "tc3": "TC3-HMAC-SHA256", "hmac-sha1": "HmacSHA1", "hmac-sha256": "HmacSHA256" };

/** Whether the SDK sends this step as a user would: its sign forms and methods, no tampering, fixed nonce or extra
 * header, an answer expected (HTTP 200), a version; a signature from the past by moving the server's clock ahead. */
export const sdkSends = (step) => step.sign in SIGN_METHODS && ["POST", "GET"].includes(step.method)
  && step.tamper === null && step["skew-seconds"] <= 0 && step.nonce === null
  && Object.keys(step.headers).length === 0 && !step.expect.dropped && step.version !== null
  && step.expect.status === 200;

/** The Tencent API 3.0 scenarios of the export in which a call is refused and whose every step `sends` (those named
 * in `ids`, all of which must be there). A skewed signature only in the last step: the clock moved stays moved. */
export function errorScenarios(sends, ids) {
  const found = EXPORT.scenarios.filter((s) => s.provider === "tencent" && (!ids || ids.includes(s.id))
    && s.steps.every(sends) && s.steps.some((step) => step.expect.error)
    && s.steps.slice(0, -1).every((step) => !step["skew-seconds"]));
  const missing = (ids ?? []).filter((id) => !found.some((s) => s.id === id));
  if (missing.length) throw new Error(`not in the export, or not sendable: ${missing}`);
  return found;
}

/** The error codes the scenarios expect. */
export const codesOf = (scenarios) => new Set(scenarios.flatMap((s) => s.steps.map((step) => step.expect.error))
  .filter(Boolean));

/** A step's credentials as ACCOUNTS gives them. */
export function stepKeys(step) {
  const keys = step.credentials;
  return { secretId: keys["secret-id"], secretKey: keys["secret-key"], ...(keys.token ? { token: keys.token } : {}) };
}

// The codes the SDK proved as its own error when its cases were tests/clients/cases.json (issue 12): the export
// must still give it at least these.
export const CVM_CODES = [
  "AuthFailure.InvalidSecretId",
  "AuthFailure.MFAFailure",
  "AuthFailure.SecretIdNotFound",
  "AuthFailure.SignatureExpire",
  "AuthFailure.SignatureFailure",
  "AuthFailure.TokenFailure",
  "FailedOperation.InvalidInstanceApplicationRoleEmr",
  "FailedOperation.Unreturnable",
  "InternalError",
  "InvalidAccount.UnpaidOrder",
  "InvalidAction",
  "InvalidInstanceId.Malformed",
  "InvalidInstanceId.NotFound",
  "InvalidInstanceNotSupportedPrepaidInstance",
  "InvalidParameter",
  "InvalidParameterValue",
  "InvalidParameterValue.InstanceIdMalformed",
  "InvalidParameterValue.LimitExceeded",
  "LimitExceeded.UserReturnQuota",
  "MissingParameter",
  "MutexOperation.TaskRunning",
  "NoSuchVersion",
  "OperationDenied.InstanceOperationInProgress",
  "RequestLimitExceeded",
  "UnknownParameter",
  "UnsupportedOperation.InstanceChargeType",
  "UnsupportedOperation.InstanceMixedPricingModel",
  "UnsupportedOperation.InstanceStateBanning",
  "UnsupportedOperation.InstanceStateFreezing",
  "UnsupportedOperation.InstanceStatePending",
  "UnsupportedOperation.InstanceStateStopping",
  "UnsupportedOperation.InstanceStateTerminated",
  "UnsupportedOperation.InstancesProtected",
  "UnsupportedOperation.InvalidInstancesOwner",
  "UnsupportedOperation.RedHatInstanceTerminateUnsupported",
  "UnsupportedOperation.RedHatInstanceUnsupported",
  "UnsupportedOperation.Region",
  "UnsupportedOperation.SpecialInstanceType",
  "UnsupportedRegion",
];
// The scenarios whose outcome depends on how the request is signed or encoded, run under every signing.
export const SIGNING_SCENARIOS = [
  "tencent/terminate-instances/unknown-instance-is-not-found",
  "tencent/terminate-instances/more-than-100-ids-exceed-the-limit",
  "tencent/terminate-instances/duplicated-id-is-an-invalid-value",
  "tencent/terminate-instances/unknown-region-is-unsupported",
  "tencent/terminate-instances/wrong-key-fails-the-signature",
  "tencent/terminate-instances/unknown-secret-id-is-not-found",
  "tencent/terminate-instances/missing-token-of-a-temporary-key-fails",
  "tencent/terminate-instances/signature-five-minutes-old-has-expired",
];

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
