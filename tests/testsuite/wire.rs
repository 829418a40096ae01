//! The wire as the clients see it: a case sends the same bytes, and renders the same exchange, whether it runs on
//! the embedded mock or against a server reached as `--target`.

use std::path::Path;
use std::time::Duration;

use terminus::case;
use terminus::harness::{self, Outcome, Target, snapshot};
use terminus::mock::MockServer;
use terminus::world::WorldSpec;

/// Cases whose answers carry each of the facts the two paths could render differently: a success, a zh-CN error,
/// an echoed trace id, a GET, a form body, the legacy gateway, Zenlayer, STS and a dropped connection.
const CASES: [&str; 9] = [
    "tencent/terminate-instances/running-instance-is-destroyed",
    "tencent/terminate-instances/unknown-instance-in-zh-cn-is-quoted-as-a-python-list",
    "tencent/terminate-instances/trace-id-is-echoed",
    "tencent/terminate-instances/tc3-get-is-signed-as-the-python-sdk-signs-it",
    "tencent/terminate-instances/signature-form-labelled-json-is-read-as-a-form",
    "tencent-legacy/terminate-instances/qcloudcli-request-source-is-a-common-parameter",
    "zenlayer-bmc/terminate-instance/running-instance-goes-to-the-recycle-bin",
    "tencent/get-caller-identity/signing-account-is-the-caller",
    "tencent/terminate-instances/injected-dropped-connection-gets-no-answer",
];

#[test]
fn the_embedded_mock_and_a_target_render_the_same_exchanges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let server = MockServer::builder()
        .world(WorldSpec::default())
        .workers(1)
        .start()
        .expect("a mock server");
    let target = Target::Url(server.uri());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for id in CASES {
        let loaded = case::load(&root, &root.join(format!("{id}.toml"))).expect("the case loads");
        let (embedded, remote) = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), async {
                (
                    harness::run_case(&loaded, &Target::Mock).await,
                    harness::run_case(&loaded, &target).await,
                )
            })
            .await
            .expect("both runs finish within a minute")
        });
        assert_eq!(
            embedded.outcome,
            Outcome::Passed,
            "{id} on the embedded mock"
        );
        assert_eq!(remote.outcome, Outcome::Passed, "{id} against the target");
        assert_eq!(
            snapshot::render(&embedded.exchanges),
            snapshot::render(&remote.exchanges),
            "{id}"
        );
    }
}
