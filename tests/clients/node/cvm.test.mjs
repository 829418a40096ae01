// tencentcloud-sdk-nodejs-cvm against `terminus serve`, configured as a user would (shared/reference/clients.md).
//
// Two addressings:
// * direct: httpProfile {endpoint: "127.0.0.1:PORT", protocol: "http://"}. The SDK's quirks: it signs
//   `host:127.0.0.1` (port dropped) and takes the scope service from the endpoint's first label (`127`);
// * proxy: the real host (`cvm.tencentcloudapi.com`, the SDK's default endpoint) over plain http with
//   httpProfile.proxy (or the `http_proxy` variable) naming the mock. The SDK wraps it in https-proxy-agent, which
//   always tunnels: `CONNECT cvm.tencentcloudapi.com:80`, then the request inside the tunnel, Host
//   `cvm.tencentcloudapi.com`.
// Nothing in the SDK is patched.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { afterEach, beforeEach, describe, test } from "node:test";

import tencentcloud from "tencentcloud-sdk-nodejs-cvm";
import { CommonClient } from "tencentcloud-sdk-nodejs-common";

import {
  ACCOUNTS, CVM_CODES, REAL_HOST, REGION, REQUEST_ID, Recorder, SIGN_METHODS, SIGNING_SCENARIOS, codesOf,
  errorScenarios, header, mock, sdkSends, stepKeys,
} from "./mock.mjs";

const require = createRequire(import.meta.url);
// Not exported by the package index (clients.md): the class the SDK rejects with.
const TencentCloudSDKHttpException =
  require("tencentcloud-sdk-nodejs-common/tencentcloud/common/exception/tencent_cloud_sdk_exception.js").default;
const { Client } = tencentcloud.cvm.v20170312;

const MODES = ["direct", "proxy"];
const SIGNINGS = [
  ["TC3-HMAC-SHA256", "POST"],
  ["TC3-HMAC-SHA256", "GET"],
  ["HmacSHA256", "POST"],
  ["HmacSHA256", "GET"],
  ["HmacSHA1", "POST"],
  ["HmacSHA1", "GET"],
];
// The error scenarios of `terminus scenarios --format json` this SDK sends as written (mock.mjs, errorScenarios).
const ERROR_SCENARIOS = errorScenarios(sdkSends);

// Direct at the mock, or for the real host (the SDK's default endpoint) through the mock as proxy.
// `proxy: "env"` leaves the profile without a proxy (the test sets http_proxy instead).
function clientConfig(port, mode, { account = "main", signMethod = "TC3-HMAC-SHA256", reqMethod = "POST",
  region = REGION, proxy = "profile" } = {}) {
  // `account` names one of ACCOUNTS, or is the keys themselves.
  const credential = { ...(typeof account === "string" ? ACCOUNTS[account] : account) };
  const httpProfile = mode === "direct"
    ? { endpoint: `127.0.0.1:${port}`, protocol: "http://", reqMethod, reqTimeout: 20 }
    : { protocol: "http://", reqMethod, reqTimeout: 20, ...(proxy === "profile" ? { proxy: `http://127.0.0.1:${port}` } : {}) };
  return { credential, region, profile: { signMethod, httpProfile } };
}

function makeClient(port, mode, options) {
  return new Client(clientConfig(port, mode, options));
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the call succeeded");
}

beforeEach(() => mock.reset());

test("the export has every code this SDK proved", () => {
  const missing = CVM_CODES.filter((code) => !codesOf(ERROR_SCENARIOS).has(code));
  assert.deepEqual(missing, []);
});

for (const mode of MODES) {
  describe(`${mode} addressing`, () => {
    for (const [signMethod, reqMethod] of SIGNINGS) {
      test(`terminate succeeds and describe shows it (${signMethod} ${reqMethod})`, async () => {
        const client = makeClient(mock.port, mode, { signMethod, reqMethod });
        const before = await client.DescribeInstances({ InstanceIds: ["ins-r8hr2upy"] });
        assert.deepEqual(before.InstanceSet.map((i) => [i.InstanceId, i.InstanceState]), [["ins-r8hr2upy", "RUNNING"]]);

        const response = await client.TerminateInstances({ InstanceIds: ["ins-r8hr2upy", "ins-09dx96dg"] });

        assert.deepEqual(Object.keys(response), ["RequestId"]);
        assert.match(response.RequestId, REQUEST_ID);
        assert.equal(await mock.state("ins-r8hr2upy"), "TERMINATED");
        assert.equal(await mock.state("ins-09dx96dg"), "TERMINATED");
        assert.equal(await mock.state("ins-5d8a23rs"), "RUNNING");
        // Listed as TERMINATING for 5 s (the lifecycle's default), then no longer.
        await mock.clock({ advance: 5 });
        const after = await client.DescribeInstances({ InstanceIds: ["ins-r8hr2upy", "ins-09dx96dg", "ins-5d8a23rs"] });
        assert.equal(after.TotalCount, 1);
        assert.deepEqual(after.InstanceSet.map((i) => i.InstanceId), ["ins-5d8a23rs"]);
      });

      test(`temporary credential with its token (${signMethod} ${reqMethod})`, async () => {
        const client = makeClient(mock.port, mode, { account: "temp", signMethod, reqMethod });
        assert.match((await client.TerminateInstances({ InstanceIds: ["ins-tempkey1"] })).RequestId, REQUEST_ID);
        assert.equal(await mock.state("ins-tempkey1"), "TERMINATED");
      });
    }

    for (const reqMethod of ["POST", "GET"]) {
      test(`prepaid goes to the recycle bin, then is destroyed (${reqMethod})`, async () => {
        // GET sends the Boolean as `true` in the query, POST as JSON `true`.
        const client = makeClient(mock.port, mode, { reqMethod });
        await client.TerminateInstances({ InstanceIds: ["ins-prepaid1"], ReleasePrepaidDataDisks: true });
        const shown = (await client.DescribeInstances({ InstanceIds: ["ins-prepaid1"] })).InstanceSet;
        assert.deepEqual(shown.map((i) => [i.InstanceId, i.InstanceState]), [["ins-prepaid1", "SHUTDOWN"]]);
        assert.equal((await mock.instance("ins-prepaid1"))["data-disks"][0].state, "RECYCLED");

        await client.TerminateInstances({ InstanceIds: ["ins-prepaid1"] });
        assert.equal(await mock.state("ins-prepaid1"), "TERMINATED");
      });
    }

    for (const reqMethod of ["POST", "GET"]) {
      test(`ReleaseAddress releases the elastic IP (${reqMethod})`, async () => {
        const client = makeClient(mock.port, mode, { reqMethod });
        await client.TerminateInstances({ InstanceIds: ["ins-witheip1"], ReleaseAddress: true });
        const instance = await mock.instance("ins-witheip1");
        assert.deepEqual([instance.state, instance.eip.released], ["TERMINATED", true]);
      });
    }

    // One step's call as a user makes it: the typed Client (it sends parameters as given), or CommonClient for
    // another action, version or product. `options` may replace the step's signMethod and reqMethod.
    function stepCall(step, options) {
      const config = clientConfig(mock.port, mode, {
        signMethod: SIGN_METHODS[step.sign], reqMethod: step.method, ...options,
        account: stepKeys(step), region: step.region ?? "",
      });
      if (step.action === "TerminateInstances" && step.version === "2017-03-12") {
        return () => new Client(config).TerminateInstances(step.params);
      }
      const host = step.action === "GetCallerIdentity" ? "sts.tencentcloudapi.com" : REAL_HOST;
      return () => new CommonClient(host, step.version, config).request(step.action, step.params);
    }

    // Every refused call of the scenario rejects with TencentCloudSDKHttpException carrying the step's code, a
    // message and a request id, and changes nothing in the world; then the server's verdict must pass.
    async function expectErrors(scenario, options = {}) {
      await mock.scenario(scenario.id);
      for (const [index, step] of scenario.steps.entries()) {
        await mock.before(step);
        const call = stepCall(step, options);
        for (let n = 0; n < step.repeat; n++) {
          if (step.expect.error === null) {
            await call();
            continue;
          }
          const instances = (await mock.world()).instances;

          const error = await rejection(call());

          assert.ok(error instanceof TencentCloudSDKHttpException, `${error?.constructor?.name}: ${error}`);
          assert.equal(error.code, step.expect.error, `step ${index + 1}: ${error.message}`);
          assert.ok(error.message);
          assert.match(error.requestId, REQUEST_ID);
          assert.equal(error.httpCode, undefined);
          assert.deepEqual((await mock.world()).instances, instances, "a refused call changed the world");
        }
      }
      const verdict = await mock.verdict(scenario.id);
      assert.ok(verdict.passed, JSON.stringify(verdict, null, 2));
    }

    for (const scenario of ERROR_SCENARIOS) {
      test(`error scenario ${scenario.id}`, () => expectErrors(scenario));
    }

    for (const [signMethod, reqMethod] of SIGNINGS) {
      for (const scenario of errorScenarios(sdkSends, SIGNING_SCENARIOS)) {
        test(`error scenario ${scenario.id} under ${signMethod} ${reqMethod}`,
          () => expectErrors(scenario, { signMethod, reqMethod }));
      }
    }

    test("HTTP 500 rejects with httpCode 500 and no code", async () => {
      await mock.fault({ kind: "http", status: 500, count: 1 });
      const error = await rejection(makeClient(mock.port, mode).TerminateInstances({ InstanceIds: ["ins-r8hr2upy"] }));
      assert.ok(error instanceof TencentCloudSDKHttpException);
      assert.equal(error.httpCode, 500);
      assert.equal(error.message, "Internal Server Error");
      assert.equal(error.code, undefined);
      assert.equal(await mock.state("ins-r8hr2upy"), "RUNNING");
    });

    test("a dropped connection rejects", async () => {
      await mock.fault({ kind: "drop", count: 1 });
      const error = await rejection(makeClient(mock.port, mode).TerminateInstances({ InstanceIds: ["ins-r8hr2upy"] }));
      assert.ok(error instanceof TencentCloudSDKHttpException, String(error));
      assert.equal(error.code, undefined);
      assert.equal(await mock.state("ins-r8hr2upy"), "RUNNING");
    });

    describe("what the mock receives", () => {
      let recorder;
      beforeEach(async () => {
        recorder = await new Recorder().start();
      });
      afterEach(() => recorder.close());

      for (const [signMethod, reqMethod] of SIGNINGS) {
        test(`${signMethod} ${reqMethod}`, async () => {
          const client = makeClient(recorder.port, mode, { signMethod, reqMethod });
          await client.TerminateInstances({ InstanceIds: ["ins-r8hr2upy"] });
          assert.equal(await mock.state("ins-r8hr2upy"), "TERMINATED");

          const requests = recorder.requests();
          if (mode === "proxy") {
            // https-proxy-agent tunnels even plain http.
            const connect = requests.shift();
            assert.equal(connect.line, `CONNECT ${REAL_HOST}:80 HTTP/1.1`);
            assert.equal(header(connect.headers, "Host"), REAL_HOST);
          }
          assert.equal(requests.length, 1);
          const [{ line, headers, body }] = requests;
          assert.ok(line.startsWith(`${reqMethod} /`), line);
          assert.ok(line.endsWith(" HTTP/1.1"), line);
          assert.equal(header(headers, "Host"), mode === "direct" ? `127.0.0.1:${recorder.port}` : REAL_HOST);
          if (signMethod === "TC3-HMAC-SHA256") {
            // Direct: the scope service is the endpoint's first label (the quirk the mock tolerates).
            const service = mode === "direct" ? "127" : "cvm";
            assert.match(header(headers, "Authorization"),
              new RegExp(`/${service}/tc3_request, SignedHeaders=content-type;host, Signature=`));
            if (reqMethod === "POST") assert.equal(body, '{"InstanceIds":["ins-r8hr2upy"]}');
          } else {
            const form = reqMethod === "POST" ? body : line.split(" ")[1].split("?")[1];
            assert.match(form, new RegExp(`SignatureMethod=${signMethod}`));
            assert.match(form, /InstanceIds.0=ins-r8hr2upy/);
          }
        });
      }
    });
  });
}

test("proxy from the http_proxy variable", async () => {
  process.env.http_proxy = `http://127.0.0.1:${mock.port}`;
  try {
    const client = makeClient(mock.port, "proxy", { proxy: "env" });
    assert.match((await client.TerminateInstances({ InstanceIds: ["ins-r8hr2upy"] })).RequestId, REQUEST_ID);
    assert.equal(await mock.state("ins-r8hr2upy"), "TERMINATED");
  } finally {
    delete process.env.http_proxy;
  }
});

// The instance lifecycle: create, poll until RUNNING, stop, terminate, poll until gone. Where an application would
// sleep between polls, the test advances the world's clock by the poll interval: fast and deterministic.
describe("instance lifecycle", () => {
  const RUN = {
    Placement: { Zone: `${REGION}-3` },
    ImageId: "img-eb30mz89",
    InstanceType: "S5.MEDIUM4",
    InstanceName: "node-{R:1}",
    TagSpecification: [{ ResourceType: "instance", Tags: [{ Key: "suite", Value: "node" }] }],
  };
  const POLL_SECONDS = 3;

  async function poll(client, ids, done) {
    for (let waited = 0; ; waited += POLL_SECONDS) {
      const response = await client.DescribeInstances({ InstanceIds: ids });
      if (done(response)) return waited;
      assert.ok(waited < 300, `not done after ${waited} s: ${JSON.stringify(response)}`);
      await mock.clock({ advance: POLL_SECONDS });
    }
  }

  for (const timings of ["default", "immediate"]) {
    test(`create, poll until running, stop, terminate, poll until gone (${timings} timings)`, async () => {
      if (timings === "immediate") await mock.timings("immediate");
      const client = makeClient(mock.port, "direct");
      const created = await client.RunInstances(RUN);
      const ids = created.InstanceIdSet;
      assert.equal(ids.length, 1);
      const running = await poll(client, ids, (r) => r.InstanceSet[0].InstanceState === "RUNNING");
      const listed = await client.DescribeInstances({ Filters: [{ Name: "tag:suite", Values: ["node"] }] });
      assert.deepEqual(listed.InstanceSet.map((i) => [i.InstanceName, i.LatestOperationRequestId]),
        [["node-1", created.RequestId]]);

      await client.StopInstances({ InstanceIds: ids, StoppedMode: "STOP_CHARGING" });
      await poll(client, ids, (r) => r.InstanceSet[0].InstanceState === "STOPPED");
      const error = await rejection(client.StartInstances({ InstanceIds: ["ins-nothere1"] }));
      assert.equal(error.code, "InvalidInstanceId.NotFound");

      await client.TerminateInstances({ InstanceIds: ids });
      const gone = await poll(client, ids, (r) => r.TotalCount === 0);
      assert.deepEqual([running, gone], timings === "default" ? [15, 6] : [0, 0]);
    });
  }
});
