// tencentcloud-sdk-nodejs runs the conformance scenarios from `terminus scenarios --format json`, the export any
// client can use (README, "Scenarios for any client"): each API 3.0 scenario the SDK can send as written is loaded
// (PUT /__terminus/scenario/<id>), its calls are made with the SDK's CommonClient for the real host through the
// mock as proxy, each answer's code is checked against the step, and the server's verdict must pass. Nothing here
// knows the case files. The twin of ../test_scenarios.py.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";

import { CommonClient } from "tencentcloud-sdk-nodejs-common";

import { mock } from "./mock.mjs";

const SIGN_METHODS = { "tc3": "TC3-HMAC-SHA256", "hmac-sha1": "HmacSHA1", "hmac-sha256": "HmacSHA256" };

const binary = process.env.TERMINUS_BIN;
if (!binary) throw new Error("TERMINUS_BIN is not set: run these tests with tests/clients/run");
const exported = JSON.parse(execFileSync(binary, ["scenarios", "--format", "json"], { timeout: 60_000,
  maxBuffer: 64 * 1024 * 1024 }));

// What the SDK can send as written: its sign forms and methods, no tampering, skewed clock, fixed nonce or header.
const sendable = (step) => step.sign in SIGN_METHODS && ["POST", "GET"].includes(step.method) && step.tamper === null
  && step["skew-seconds"] === 0 && step.nonce === null && Object.keys(step.headers).length === 0
  && !step.expect.dropped && step.region !== null && step.version !== null && step.expect.status === 200
  // An ActionTimer names an absolute time, in the past on the machine's clock the clients sign with.
  && !("ActionTimer" in step.params);
const scenarios = exported.scenarios.filter((s) => s.provider === "tencent" && s.steps.every(sendable));

test("the export is the documented format, and enough of it runs through this client", () => {
  assert.equal(exported.format, "terminus-scenarios/1");
  assert.ok(scenarios.length >= 40, `${scenarios.length} scenarios`);
});

function client(step) {
  const keys = step.credentials;
  const host = step.action === "GetCallerIdentity" ? "sts.tencentcloudapi.com" : "cvm.tencentcloudapi.com";
  return new CommonClient(host, step.version, {
    credential: { secretId: keys["secret-id"], secretKey: keys["secret-key"], token: keys.token ?? undefined },
    region: step.region,
    profile: {
      signMethod: SIGN_METHODS[step.sign],
      httpProfile: { protocol: "http://", reqMethod: step.method, reqTimeout: 20, proxy: `http://127.0.0.1:${mock.port}` },
    },
  });
}

for (const scenario of scenarios) {
  test(`scenario ${scenario.id}`, async () => {
    const { now } = await mock.scenario(scenario.id);
    for (const [index, step] of scenario.steps.entries()) {
      if (step["advance-seconds"]) await mock.clock({ advance: step["advance-seconds"] });
      for (let n = 0; n < step.repeat; n++) {
        let code = null;
        let answer = {};
        try {
          answer = await client(step).request(step.action, step.params);
        } catch (error) {
          code = error.code ?? String(error);
        }
        assert.equal(code, step.expect.error, `step ${index + 1}`);
        const relative = step.expect["response-relative-times"];
        for (const [name, value] of Object.entries(step.expect.response)) {
          if (name in relative) {
            // A time: relative to the world's clock at load.
            const got = Date.parse(field(answer, name)) / 1000;
            assert.equal(got - now, relative[name], `step ${index + 1}: ${name}`);
          } else {
            assert.deepEqual(field(answer, name), value, `step ${index + 1}: ${name}`);
          }
        }
      }
    }
    const verdict = await mock.verdict(scenario.id);
    assert.ok(verdict.passed, JSON.stringify(verdict, null, 2));
  });
}

// A field of the answer, or with a leading `/` the value at that JSON pointer (`/InstanceSet/0/CPU`).
function field(answer, name) {
  if (!name.startsWith("/")) return answer[name];
  let value = answer;
  for (const raw of name.slice(1).split("/")) {
    const token = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (value === null || typeof value !== "object" || !(token in value)) return undefined;
    value = value[token];
  }
  return value;
}
