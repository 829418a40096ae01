//! The canary: every command and every control call runs with marked secrets (keys and tokens that all contain
//! `CANARY`, in a world file, a case tree and flags made for the test), and every byte they print or write is
//! searched for the mark. One test, so that a new command or output must be added here to be covered.
//!
//! Deliberate exceptions, each checked to be exactly that:
//! - `sign --scheme bearer` prints the signed request, whose `Authorization: Bearer` header *is* the token: that
//!   is the command's job. The token may appear on that line and nowhere else.
//! - `--trace` (sign, verify) prints derived keys (`k-date`, `k-service`, `k-signing`), which are HMAC outputs, not
//!   the key; they are printed only with `--trace` (checked in `careless`), and the key itself never is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::binary::{Served, terminus_within, terminus_within_env, write};

/// The mark every secret of this test carries.
const MARK: &str = "CANARY";
const DEADLINE: Duration = Duration::from_secs(60);

/// The world `serve` starts with: every kind of secret an account can hold.
const WORLD: &str = r#"
[clock]
mode = "fixed"
at = 1700000000

[[accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYserveKey01"
token = "CANARYserveToken01"

[[accounts]]
secret-id = "AKIDcanary0002"
secret-key = "CANARYserveKey02"

[[accounts]]
secret-id = "ZLAKIDcanary0003"
secret-key = "CANARYserveZlKey03"
bearer-token = "CANARY/serve+PAT=03"

[[instances]]
id = "ins-canary01"
"#;

/// Cases that carry secrets in their worlds and steps, passing and failing at the signing stage.
const CASES: [(&str, &str); 6] = [
    (
        "tencent/terminate-instances/canary-token-in-a-failed-signing-stage.toml",
        r#"title = "canary: a session token in a signing stage that differs"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYcaseKey01"
token = "CANARY case token+01/="
[[world.instances]]
id = "ins-canary01"
[[step]]
sign = "hmac-sha256"
params = { InstanceIds = ["ins-canary01"] }
expect.signed = { string-to-sign = "not what the signer computes" }
"#,
    ),
    (
        "tencent/terminate-instances/canary-session-token-is-accepted.toml",
        r#"title = "canary: a session token in X-TC-Token"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYcaseKey02"
token = "CANARYcaseToken02"
[[world.instances]]
id = "ins-canary02"
[[step]]
params = { InstanceIds = ["ins-canary02"] }
expect.instances = { ins-canary02 = "TERMINATED" }
"#,
    ),
    (
        "tencent/terminate-instances/canary-step-key-and-token.toml",
        r#"title = "canary: a step's own wrong key, then its own token"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.instances]]
id = "ins-canary03"
[[step]]
secret-key = "CANARYstepWrongKey03"
params = { InstanceIds = ["ins-canary03"] }
expect.error = "AuthFailure.SignatureFailure"
[[step]]
token = "CANARYstepToken03"
params = { InstanceIds = ["ins-canary03"] }
expect.error = "AuthFailure.TokenFailure"
[[step]]
secret-key = "CANARYstepWrongKey03b"
params = { InstanceIds = ["ins-canary03"] }
expect.instances = { ins-canary03 = "TERMINATED" }
"#,
    ),
    (
        "tencent-legacy/terminate-instances/canary-token-parameter.toml",
        r#"title = "canary: the legacy gateway's Token parameter"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYcaseKey04"
token = "CANARYcaseToken04"
[[world.instances]]
id = "ins-canary04"
[[step]]
sign = "hmac-sha256"
params = { InstanceIds = ["ins-canary04"] }
[[step]]
sign = "hmac-sha1"
params = { InstanceIds = ["ins-canary04"] }
expect.signed = { string-to-sign = "not what the signer computes" }
"#,
    ),
    (
        "zenlayer-bmc/terminate-instance/canary-bearer-token.toml",
        r#"title = "canary: a Bearer token, accepted, then in a signing stage that differs"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "ZLAKIDcanary0003"
secret-key = "CANARYcaseZlKey05"
bearer-token = "CANARY/case+PAT=05"
[world]
bmc-instances = [{ id = "564212148932399905" }, { id = "564212148932399906" }]
[[step]]
sign = "bearer"
params = { instanceId = "564212148932399905" }
expect.instances = { "564212148932399905" = "RECYCLE" }
[[step]]
sign = "bearer"
params = { instanceId = "564212148932399906" }
expect.signed.authorization = "Bearer not-the-token"
"#,
    ),
    (
        "zenlayer-bmc/terminate-instance/canary-zc2-wrong-key.toml",
        r#"title = "canary: a ZC2 signature with a step's wrong key"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "ZLAKIDcanary0003"
secret-key = "CANARYcaseZlKey06"
[world]
bmc-instances = [{ id = "564212148932399907" }]
[[step]]
secret-key = "CANARYstepZlWrongKey06"
params = { instanceId = "564212148932399907" }
expect.instances = { "564212148932399907" = "RECYCLE" }
"#,
    ),
];

/// A case file no run can read: a key pasted into typed fields.
const BROKEN_CASE: &str = r#"title = "canary: keys in the wrong fields"
source = { doc = "test", quote = "test" }
live = "mock-only"
[[world.accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYbrokenKey07"
mfa = "CANARYbrokenKey07"
[[step]]
"#;

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file below `dir`, with its text.
fn files_below(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                found.push((entry.path(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

/// What every command printed, by label.
#[derive(Default)]
struct Printed(Vec<(String, String)>);

impl Printed {
    /// Runs `terminus args` in `dir` and keeps what it printed; returns standard output.
    fn run(&mut self, dir: &Path, args: &[&str]) -> String {
        let finished = terminus_within(dir, args, DEADLINE);
        let label = args.join(" ");
        self.0
            .push((format!("{label} (stdout)"), finished.stdout.clone()));
        self.0.push((format!("{label} (stderr)"), finished.stderr));
        finished.stdout
    }

    fn keep(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.0.push((label.into(), text.into()));
    }
}

#[test]
fn no_command_or_control_call_prints_or_writes_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Inputs: the repository's cases plus the canary cases, a broken case tree, a world file, a request.
    copy_tree(&repo("cases"), &root.join("in/cases"));
    for (path, text) in CASES {
        write(root, &format!("in/cases/{path}"), text);
    }
    write(
        root,
        "in/broken/tencent/terminate-instances/canary-broken.toml",
        BROKEN_CASE,
    );
    write(root, "in/world.toml", WORLD);
    let request = crate::common::captured("tc3/tc3-py-post-1id").to_bytes();
    std::fs::write(root.join("in/request.http"), &request).unwrap();
    std::fs::create_dir_all(root.join("out")).unwrap();
    let mut printed = Printed::default();

    // run: text, reports, recordings, and a tree it cannot read.
    let text = printed.run(root, &["run", "--cases", "in/cases", "--filter", "canary"]);
    // What must have happened for the search to mean anything; checked after it, so a leak is reported first.
    let mut unexercised = Vec::new();
    for (what, seen) in [
        ("a failed signing stage holding a Token", "Token=[REDACTED]"),
        (
            "a failed signing stage holding a Bearer token",
            "Bearer [REDACTED]",
        ),
    ] {
        if !text.contains(seen) {
            unexercised.push(format!("{what}: no {seen:?} in\n{text}"));
        }
    }
    printed.run(
        root,
        &[
            "run",
            "--cases",
            "in/cases",
            "--json",
            "out/run.json",
            "--junit",
            "out/run.xml",
            "--record",
            "out/recorded",
        ],
    );
    let recorded = files_below(&root.join("out/recorded"));
    if !recorded
        .iter()
        .any(|(_, text)| text.contains("X-TC-Token: [TOKEN]"))
    {
        unexercised.push("no recording holds a redacted X-TC-Token".to_owned());
    }
    printed.run(
        root,
        &["run", "--cases", "in/broken", "--json", "out/broken.json"],
    );

    // serve, every control call, run and bench against it.
    // A control token given on the command line is a secret too (prefer TERMINUS_CONTROL_TOKEN: `ps` shows flags):
    // a call with it, one without it, and one with a wrong one.
    let guarded = Served::start(root, &["--control-token", "CANARYcontrolToken09"]);
    for path in ["world", "clock", "nothing-here"] {
        let (status, answer) = guarded.control("GET", path, "application/json", "");
        printed.keep(format!("guarded GET {path} ({status})"), answer);
    }
    for presented in ["", "CANARYcontrolToken0"] {
        let answer = crate::common::http_client()
            .build()
            .unwrap()
            .get(format!("{}/__terminus/world", guarded.uri))
            .header(terminus::mock::TOKEN_HEADER, presented)
            .send()
            .and_then(|response| response.text())
            .unwrap_or_else(|error| error.to_string());
        printed.keep(
            format!("guarded GET world with a wrong token {presented:?}"),
            answer,
        );
    }
    printed.keep("guarded serve's own output", guarded.finish());
    let served = Served::start(root, &["--world", "in/world.toml"]);
    let world = std::fs::read_to_string(root.join("in/world.toml")).unwrap();
    let world_json = r#"{"accounts": [{"secret-id": "AKIDcanary0001", "secret-key": "CANARYjsonKey08", "token": "CANARYjsonToken08", "bearer-token": "CANARYjsonPat08"}]}"#;
    let calls: [(&str, &str, &str, &str); 18] = [
        ("GET", "world", "application/json", ""),
        ("GET", "instances/ins-canary01", "application/json", ""),
        ("GET", "instances/ins-none", "application/json", ""),
        ("GET", "clock", "application/json", ""),
        ("POST", "clock", "application/json", r#"{"advance": 1}"#),
        (
            "POST",
            "clock",
            "application/json",
            r#"{"set": "CANARYclock"}"#,
        ),
        ("GET", "faults", "application/json", ""),
        (
            "POST",
            "faults",
            "application/toml",
            "kind = \"error\"\ncount = 1\ncode = \"InternalError\"\naction = \"X\"",
        ),
        (
            "POST",
            "faults",
            "application/toml",
            "kind = \"http\"\nstatus = \"CANARYstatus\"",
        ),
        ("DELETE", "faults", "application/json", ""),
        ("PUT", "world", "application/json", world_json),
        (
            "PUT",
            "world",
            "application/json",
            r#"{"accounts": [{"secret-id": "AKIDx", "secret-key": "CANARYtrunc"#,
        ),
        (
            "PUT",
            "world",
            "application/toml",
            "[[accounts]]\nsecret-id = \"AKIDx\"\nsecret-key = \"CANARYbroken",
        ),
        (
            "PUT",
            "world",
            "application/toml",
            "[[accounts]]\nsecret-id = \"AKIDx\"\nsecret-key = \"CANARYk\"\nreturn-quota = \"CANARYk\"",
        ),
        ("PUT", "world", "application/toml", &world),
        ("GET", "world", "application/json", ""),
        ("PATCH", "world", "application/json", ""),
        ("GET", "nothing-here", "application/json", ""),
    ];
    for (method, path, content_type, body) in calls {
        let (status, answer) = served.control(method, path, content_type, body);
        printed.keep(
            format!("{method} /__terminus/{path} {body} ({status})"),
            answer,
        );
    }
    let uri = served.uri.clone();
    printed.run(
        root,
        &[
            "run",
            "--cases",
            "in/cases",
            "--filter",
            "canary",
            "--target",
            &uri,
            "--json",
            "out/target.json",
        ],
    );
    printed.run(root, &["run", "--cases", "in/broken", "--target", &uri]);
    printed.run(
        root,
        &[
            "bench",
            "--target",
            &uri,
            "--secret-id",
            "AKIDcanary0002",
            "--secret-key",
            "CANARYserveKey02",
            "--duration",
            "100ms",
            "--warmup",
            "0s",
            "--fresh",
            "2",
            "--connections",
            "1",
        ],
    );
    printed.run(
        root,
        &[
            "bench",
            "--target",
            &uri,
            "--secret-key",
            "CANARYbenchWrongKey",
            "--duration",
            "100ms",
            "--warmup",
            "0s",
            "--fresh",
            "2",
            "--connections",
            "1",
            "--format",
            "json",
        ],
    );
    let (_, world_after) = served.control("GET", "world", "application/json", "");
    printed.keep("GET /__terminus/world after the runs", world_after);
    printed.keep("serve's own output", served.finish());

    // sign and verify, every format, with and without --trace.
    let key = "CANARYsignKey09";
    for extra in [
        &[][..],
        &["--trace"],
        &["--format", "json"],
        &["--format", "json", "--trace"],
    ] {
        let args = [
            &["sign", "--secret-id", "AKIDcanary0009", "--secret-key", key][..],
            extra,
            &["in/request.http"],
        ]
        .concat();
        printed.run(root, &args);
    }
    let signed = printed.run(
        root,
        &[
            "sign",
            "--secret-id",
            "AKIDcanary0009",
            "--secret-key",
            key,
            "in/request.http",
        ],
    );
    std::fs::write(root.join("out/signed.http"), &signed).unwrap();
    let signer = printed.run(
        root,
        &[
            "sign",
            "--secret-id",
            "AKIDcanary0009",
            "--secret-key",
            key,
            "--format",
            "json",
            "--trace",
            "in/request.http",
        ],
    );
    std::fs::write(root.join("out/signer.json"), &signer).unwrap();
    for (secret, expect) in [
        (key, "signature ok"),
        ("CANARYverifyWrongKey", "signature rejected"),
    ] {
        for extra in [
            &[][..],
            &["--trace"],
            &["--format", "json"],
            &["--format", "json", "--trace"],
            &["--expect", "out/signer.json"],
        ] {
            let args = [
                &["verify", "--secret-key", secret][..],
                extra,
                &["out/signed.http"],
            ]
            .concat();
            let output = printed.run(root, &args);
            if extra.is_empty() && !output.starts_with(expect) {
                unexercised.push(format!("{args:?} did not say {expect:?}: {output}"));
            }
        }
    }
    printed.run(root, &["verify", "--secret-key", key, "in/world.toml"]);

    // Bearer: the signed request's Authorization header is the token, and nothing else may be.
    let token = "CANARYsignPat10";
    let bearer = terminus_within(
        root,
        &[
            "sign",
            "--scheme",
            "bearer",
            "--secret-id",
            "unused",
            "--secret-key",
            token,
            "--format",
            "json",
            "in/request.http",
        ],
        DEADLINE,
    );
    let json: serde_json::Value = serde_json::from_str(&bearer.stdout).unwrap();
    let request = json["request"].as_str().unwrap_or_default();
    if !request.contains(&format!("Authorization: Bearer {token}")) {
        unexercised.push(format!("sign --scheme bearer signed no request: {request}"));
    }
    let mut elsewhere = json.clone();
    elsewhere["request"] = serde_json::Value::Null;
    printed.keep(
        "sign --scheme bearer, but its signed request",
        elsewhere.to_string(),
    );
    printed.keep(
        "sign --scheme bearer's request, but its Authorization",
        request
            .lines()
            .filter(|line| !line.starts_with("Authorization: Bearer "))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    // verify reads the token from the request; it prints it only with --trace (the step is the token itself).
    std::fs::write(root.join("in/bearer.http"), request).unwrap();
    for secret in [token, "CANARYverifyWrongPat"] {
        for extra in [&[][..], &["--format", "json"]] {
            let args = [
                &["verify", "--secret-key", secret][..],
                extra,
                &["in/bearer.http"],
            ]
            .concat();
            printed.run(root, &args);
        }
    }

    // Live mode against the stand-in, with temporary credentials from the environment: its report, recordings,
    // validation record, the stand-in's request log, and a diff of the live set.
    let stand_in = Served::start(
        root,
        &[
            "--cloud",
            "--world",
            "in/world.toml",
            "--log",
            "out/live-log.jsonl",
        ],
    );
    let live_uri = stand_in.uri.clone();
    let live_args = [
        "run",
        "--live",
        "--cases",
        "in/cases",
        "--endpoint",
        &live_uri,
        "--filter",
        "terminate-instances/u",
        "--json",
        "out/live.json",
        "--junit",
        "out/live.xml",
        "--record",
        "out/live",
        "--validation",
        "out/validation.json",
    ];
    let live = terminus_within_env(
        root,
        &live_args,
        &[
            ("TENCENTCLOUD_SECRET_ID", "AKIDcanary0001"),
            ("TENCENTCLOUD_SECRET_KEY", "CANARYserveKey01"),
            ("TENCENTCLOUD_TOKEN", "CANARYserveToken01"),
            ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ],
        DEADLINE,
    );
    if !live.stdout.contains(" passed,") || files_below(&root.join("out/live")).is_empty() {
        unexercised.push(format!(
            "run --live ran nothing: {}{}",
            live.stdout, live.stderr
        ));
    }
    printed.keep("run --live (stdout)", live.stdout);
    printed.keep("run --live (stderr)", live.stderr);
    printed.keep("the stand-in's own output", stand_in.finish());
    printed.run(
        root,
        &["diff", &repo("snapshots").display().to_string(), "out/live"],
    );

    // diff, coverage, bench on its own.
    printed.run(
        root,
        &[
            "diff",
            &repo("snapshots").display().to_string(),
            "out/recorded",
        ],
    );
    printed.run(root, &["coverage", "--cases", "in/cases"]);
    printed.run(
        root,
        &["coverage", "--cases", "in/cases", "--format", "json"],
    );
    printed.run(root, &["coverage", "--cases", "in/broken"]);
    printed.run(
        root,
        &[
            "bench",
            "--duration",
            "100ms",
            "--warmup",
            "0s",
            "--fresh",
            "2",
            "--connections",
            "1",
            "--format",
            "json",
        ],
    );
    printed.run(root, &["bench", "--print-world", "--fresh", "1"]);

    // Every byte printed, and every file written.
    let mut leaks = Vec::new();
    for (label, text) in &printed.0 {
        if text.contains(MARK) {
            leaks.push(format!("{label}:\n{text}"));
        }
    }
    for (path, text) in files_below(&root.join("out")) {
        if text.contains(MARK) {
            leaks.push(format!("{}:\n{text}", path.display()));
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets printed or written:\n\n{}",
        leaks.join("\n\n")
    );
    assert!(unexercised.is_empty(), "{}", unexercised.join("\n"));
}

/// Issue 21, points 1 and 2: a session or bearer token is recognised after decoding, in every spelling a gateway
/// accepts, and no log line or journal field holds one: an accepted `Signature`-form GET carrying `Token=` (API
/// 3.0 and the legacy gateway: the log line shows the target), a rejected one (the diagnosis's string to sign),
/// `%54oken=` and `Tok%65n=` in a target and a form body, `token=`, `X-TC-Token` in any case and
/// `Authorization: Bearer<TAB>…`.
#[test]
fn no_log_line_or_journal_field_holds_a_token_in_any_spelling() {
    use std::io::Write as _;

    use serde_json::Map;
    use terminus::provider::{Call, ProviderId, SignForm};
    use terminus::signing::Credentials;

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "world.toml",
        "clock = { mode = \"fixed\", at = 1700000000 }\n[[accounts]]\nsecret-id = \"AKIDcanary0001\"\n\
         secret-key = \"keyOfTheCanaryTest\"\ntoken = \"CANARYsessionToken1\"\n",
    );
    let served = Served::start(dir.path(), &["--world", "world.toml"]);
    let address = served.uri.trim_start_matches("http://").to_owned();
    let send = |bytes: &[u8]| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.write_all(bytes).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        format!(
            "{:?}",
            crate::common::raw::read_answer(&mut stream, &mut Vec::new(), deadline, false)
        )
    };
    let params: Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"InstanceIds": ["ins-canary01"]}"#).unwrap();
    let signed = |provider: ProviderId, key: &str, method: &str, nonce: u64| {
        let credentials = Credentials::new("AKIDcanary0001", key);
        let call = Call {
            action: "TerminateInstances",
            params: &params,
            region: Some("ap-guangzhou"),
            version: None,
            credentials: &credentials,
            token: Some("CANARYsessionToken1"),
            timestamp: 1_700_000_000,
            nonce,
            sign: SignForm::HmacSha256,
            method,
            headers: &[],
        };
        provider.build_request(&call).unwrap().0.to_bytes()
    };
    let mut answers = vec![
        // Accepted, so logged at info with their targets.
        send(&signed(ProviderId::Tencent, "keyOfTheCanaryTest", "GET", 1)),
        send(&signed(
            ProviderId::TencentLegacy,
            "keyOfTheCanaryTest",
            "GET",
            2,
        )),
        // Rejected: the diagnosis holds the string to sign, whose parameters hold the token.
        send(&signed(ProviderId::Tencent, "notTheKey", "POST", 3)),
        send(&signed(ProviderId::Tencent, "notTheKey", "GET", 4)),
        send(&signed(ProviderId::TencentLegacy, "notTheKey", "GET", 5)),
    ];
    for raw in [
        "GET /?Action=TerminateInstances&%54oken=CANARYpercent2&tok%65n=CANARYlower3 HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\n\r\n".to_owned(),
        "GET /v2/index.php?Action=TerminateInstances&Token%3DCANARYnotAName=x&%54%6F%6B%65%6E=CANARYpercent4 HTTP/1.1\r\nHost: cvm.api.qcloud.com\r\n\r\n".to_owned(),
        {
            let body = "Action=TerminateInstances&Tok%65n=CANARYform5&InstanceIds.0=ins-x";
            format!("POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        },
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nx-Tc-TOKEN: CANARYheader6\r\nX-TC-Action: TerminateInstances\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_owned(),
        "POST /api/v2/bmc HTTP/1.1\r\nHost: console.zenlayer.com\r\nAuthorization: Bearer\tCANARYbearer7\r\nX-ZC-Action: TerminateInstance\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_owned(),
        "POST /api/v2/bmc HTTP/1.1\r\nHost: console.zenlayer.com\r\nauthorization:   bEaReR   CANARYbearer8\r\nX-ZC-Action: TerminateInstance\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_owned(),
    ] {
        answers.push(send(raw.as_bytes()));
    }
    let (status, journal) = served.control("GET", "requests", "application/json", "");
    assert_eq!(status, 200);
    let entries: serde_json::Value = serde_json::from_str(&journal).unwrap();
    let entries = entries["requests"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        11,
        "every request is in the journal: {answers:#?}"
    );
    assert!(
        entries
            .iter()
            .any(|entry| entry["diagnosis"]["string-to-sign"].is_string()),
        "a diagnosis with a string to sign was exercised: {journal}"
    );
    // SIGTERM, not a kill: the log lines are written up to 10 ms after their answers, and a stopped serve writes
    // the ones it holds (a kill could lose them, and the check below would see no log at all).
    let (_, output) = served.stop_with("TERM");
    assert!(
        output.contains("TerminateInstances"),
        "the log lines were exercised: {output}"
    );
    for (what, text) in [("journal", &journal), ("log", &output)] {
        for mark in [
            "CANARYsessionToken1",
            "CANARYpercent2",
            "CANARYlower3",
            "CANARYpercent4",
            "CANARYform5",
            "CANARYheader6",
            "CANARYbearer7",
            "CANARYbearer8",
        ] {
            assert!(!text.contains(mark), "the {what} holds {mark}:\n{text}");
        }
    }
    // Only a parameter *named* Token is one: a value that merely contains the text is kept.
    assert!(journal.contains("CANARYnotAName"), "{journal}");
    let _ = answers;
}
