// The Node SDK's run for tests/clients/test_record.py (list, terminate, list), printed as JSON answers.
// RECORD_PROXY: through the recorder as proxy over https:// (https-proxy-agent tunnels with CONNECT; the recorder's
// CA comes from NODE_EXTRA_CA_CERTS). RECORD_ENDPOINT: straight at `serve --cassette` over http://.
import tencentcloud from "tencentcloud-sdk-nodejs-cvm";

const { Client } = tencentcloud.cvm.v20170312;
const env = process.env;
const httpProfile = env.RECORD_PROXY
  ? { protocol: "https://", proxy: env.RECORD_PROXY, reqTimeout: 20 }
  : { protocol: "http://", endpoint: env.RECORD_ENDPOINT, reqTimeout: 20 };
const client = new Client({
  credential: { secretId: env.TERMINUS_SECRET_ID, secretKey: env.TERMINUS_SECRET_KEY, token: env.TERMINUS_TOKEN },
  region: "ap-guangzhou",
  profile: { httpProfile },
});
const answers = [];
answers.push(await client.DescribeInstances({}));
answers.push(await client.TerminateInstances({ InstanceIds: [env.TERMINUS_INSTANCE] }));
answers.push(await client.DescribeInstances({}));
console.log(JSON.stringify(answers));
